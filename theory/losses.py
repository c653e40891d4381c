r"""Preference losses as functions of the margin.

Every loss in prefdyn is a scalar function :math:`\phi(h)` of the implicit-reward margin
:math:`h = \beta\rho`, :math:`\rho = (e_{y_w}-e_{y_l})^\top (W - W_{\mathrm{ref}})\, g`, held as
data in a registry (:data:`REGISTRY`): a SymPy expression in ``h``, ``beta`` and the loss's own
parameters. Everything else a theorem needs is *derived* from that expression by SymPy:
:math:`\phi'`, :math:`\phi''`, :math:`\phi'(0)`, the stationary margin
:math:`h^\star = \inf\{h : \phi'(h) = 0\}` (:math:`+\infty` when :math:`\phi' < 0` everywhere,
as for DPO) and :math:`\sup_h |\phi'(h)|`.

Built in (aliases in brackets): ``dpo`` [sigmoid], ``ipo``, ``cdpo`` [label-smoothing],
``rdpo`` [robust], ``hinge`` [slic], ``exo-pair`` [exo], ``discopop``. A user-defined loss comes
from :func:`loss_from_expression`.

Example
-------
>>> from prefdyn.theory.losses import get_loss
>>> get_loss("dpo").dphi_at_zero
-1/2
>>> get_loss("ipo").stationary_margin
1/2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp
from sympy.parsing.sympy_parser import parse_expr, standard_transformations

from prefdyn.errors import PrefdynError

from ._timeout import run_with_time_limit
from .functions import logsigmoid, sigmoid, to_elementary
from .symbols import beta, h

epsilon = sp.Symbol("epsilon", positive=True)
tau = sp.Symbol("tau", positive=True)


@dataclass(frozen=True)
class Loss:
    r"""A preference loss :math:`\phi(h)` and everything SymPy derives from it.

    ``phi`` is an expression in :data:`~prefdyn.theory.symbols.h`,
    :data:`~prefdyn.theory.symbols.beta` and the symbols in ``params`` (whose values are the
    defaults used when a number is needed).
    """

    name: str
    phi: sp.Expr
    title: str
    reference: str = ""
    params: Mapping[sp.Symbol, sp.Expr] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    def __hash__(self) -> int:
        return hash((self.name, self.phi, tuple(self.params.items())))

    @cached_property
    def dphi(self) -> sp.Expr:
        r""":math:`\phi'(h)`."""
        return sp.simplify(sp.diff(self.phi, h))

    @cached_property
    def d2phi(self) -> sp.Expr:
        r""":math:`\phi''(h)` (zero almost everywhere for piecewise-linear losses)."""
        return sp.simplify(sp.diff(self.dphi, h))

    @cached_property
    def dphi_at_zero(self) -> sp.Expr:
        r""":math:`\phi'(0)`, the coefficient of every first-step result."""
        return sp.simplify(self.dphi.subs(h, 0))

    def bind(self, expr: sp.Expr) -> sp.Expr:
        """Substitute the default parameter values into ``expr``."""
        return expr.subs(dict(self.params))

    @cached_property
    def stationary_margin(self) -> sp.Expr:
        r""":math:`h^\star = \inf\{h\in\mathbb R : \phi'(h) = 0\}`; ``oo`` if none is finite.

        Solved by :func:`sympy.solveset` on the elementary form of :math:`\phi'` (with symbolic
        parameters first, then with the defaults bound); when no closed form exists and
        :math:`\phi'\to 0` as :math:`h\to\infty` without a finite root, the answer is
        :math:`+\infty`.
        """
        for expr in (self.dphi, self.bind(self.dphi)):
            roots = _real_roots(to_elementary(expr))
            if roots is not None:
                return sp.Min(*roots) if roots else sp.oo
        return sp.oo

    @cached_property
    def sup_abs_d2phi(self) -> sp.Expr:
        r""":math:`\sup_h |\phi''(h)|` (the smoothness constant of :math:`\phi`), defaults bound."""
        return sp.simplify(_sup_abs(self.bind(self.d2phi)))

    @cached_property
    def sup_abs_dphi(self) -> sp.Expr:
        r""":math:`\sup_h |\phi'(h)|` (``oo`` when unbounded, e.g. IPO), defaults bound.

        The supremum of a continuous function of one variable is attained at a critical
        point (a root of :math:`\phi''`) or approached at :math:`\pm\infty`; both are found by
        SymPy. A piecewise :math:`\phi'` is bounded by the largest supremum of its pieces.
        """
        return _sup_abs(self.bind(self.dphi))

    def latex(self) -> str:
        r"""LaTeX of :math:`\phi(h) = \dots`."""
        return rf"\phi_{{\mathrm{{{self.name}}}}}(h) = {sp.latex(self.phi)}"


def _real_roots(expr: sp.Expr, seconds: float = 5.0) -> list[sp.Expr] | None:
    """Real roots of ``expr`` in ``h``: exact by :func:`sympy.solveset` when it answers within
    ``seconds``; otherwise numeric (Newton from a grid of starts, 15 digits); ``None`` only
    when neither method can tell."""
    if expr.is_zero:
        return None
    try:
        solutions = run_with_time_limit(seconds, sp.solveset, expr, h, domain=sp.S.Reals)
    except (NotImplementedError, ValueError, TypeError, TimeoutError):
        return _numeric_roots(expr)
    if isinstance(solutions, sp.FiniteSet):
        return list(solutions)
    if solutions is sp.S.EmptySet:
        return []
    if isinstance(solutions, (sp.Interval, sp.Union)):
        return [solutions.inf]
    return _numeric_roots(expr)


def _sup_abs(expr: sp.Expr) -> sp.Expr:
    r"""Upper bound on :math:`\sup_h |expr(h)|`, exact for smooth or piecewise-constant ``expr``."""
    if isinstance(expr, sp.Piecewise):
        return sp.Max(*(_sup_abs(piece.expr) for piece in expr.args))
    elementary = to_elementary(expr)
    candidates = [sp.limit(elementary, h, sp.oo), sp.limit(elementary, h, -sp.oo)]
    critical = _real_roots(sp.diff(elementary, h)) or []
    candidates += [elementary.subs(h, r) for r in critical if r.is_finite]
    return sp.Max(*(sp.Abs(sp.simplify(c)) for c in candidates))


def _numeric_roots(expr: sp.Expr) -> list[sp.Expr] | None:
    """Distinct real roots of a constant-free ``expr(h)`` found by Newton from a grid of starts."""
    if expr.free_symbols - {h}:
        return None
    roots: set[sp.Float] = set()
    for start in range(-20, 21):
        try:
            root = sp.nsolve(expr, h, start / 2, tol=1e-20, prec=30)
        except (ValueError, ZeroDivisionError, TypeError):
            continue
        if root.is_real:
            roots.add(sp.Float(root, 12))
    return sorted(roots)


def _make_registry(losses: list[Loss]) -> dict[str, Loss]:
    registry: dict[str, Loss] = {}
    for loss in losses:
        for key in (loss.name, *loss.aliases):
            registry[key] = loss
    return registry


_BUILTIN = [
    Loss(
        "dpo",
        -logsigmoid(h),
        "Direct Preference Optimization (sigmoid)",
        "Rafailov et al. 2023",
        aliases=("sigmoid",),
    ),
    Loss(
        "ipo",
        (h - sp.Rational(1, 2)) ** 2 / beta**2,
        r"Identity Preference Optimization, $(\rho - \tfrac{1}{2\beta})^2$ with $\rho = h/\beta$",
        "Azar et al. 2024",
    ),
    Loss(
        "cdpo",
        -(1 - epsilon) * logsigmoid(h) - epsilon * logsigmoid(-h),
        r"conservative DPO (label smoothing $\epsilon$)",
        "Mitchell 2023",
        params={epsilon: sp.Rational(1, 10)},
        aliases=("label-smoothing",),
    ),
    Loss(
        "rdpo",
        (-(1 - epsilon) * logsigmoid(h) + epsilon * logsigmoid(-h)) / (1 - 2 * epsilon),
        r"robust DPO (unbiased under label-flip rate $\epsilon$)",
        "Chowdhury et al. 2024",
        params={epsilon: sp.Rational(1, 10)},
        aliases=("robust",),
    ),
    Loss(
        "hinge",
        sp.Piecewise((1 - h, h < 1), (0, True)),
        "hinge / SLiC, $\\max(0, 1-h)$",
        "Zhao et al. 2023",
        aliases=("slic",),
    ),
    Loss(
        "exo-pair",
        sigmoid(h) * (logsigmoid(h) - sp.log(1 - epsilon))
        + sigmoid(-h) * (logsigmoid(-h) - sp.log(epsilon)),
        r"EXO (pairwise reverse KL to the smoothed label $1-\epsilon$)",
        "Ji et al. 2024",
        params={epsilon: sp.Rational(1, 1000)},
        aliases=("exo",),
    ),
    Loss(
        "discopop",
        # = -log(sigma(h)) (1 - sigma(h/tau)) + e^{-h} sigma(h/tau), written without inf * 0
        -logsigmoid(h) * sigmoid(-h / tau) + sp.exp(logsigmoid(h / tau) - h),
        r"DiscoPOP (log-ratio modulated logistic/exponential mix)",
        "Chris Lu et al. 2024",
        params={tau: sp.Rational(1, 20)},
    ),
]

#: name or alias -> :class:`Loss`
REGISTRY: dict[str, Loss] = _make_registry(_BUILTIN)


def loss_names() -> list[str]:
    """Canonical names of the built-in losses."""
    return [loss.name for loss in _BUILTIN]


def get_loss(name: str | Loss) -> Loss:
    """The registered loss called ``name`` (or one of its aliases); a :class:`Loss` is returned
    as it is, so that every API taking a loss accepts either."""
    if isinstance(name, Loss):
        return name
    try:
        return REGISTRY[name.strip().lower()]
    except KeyError:
        known = ", ".join(loss_names())
        raise PrefdynError(f"loss: unknown loss {name!r}; known losses: {known}") from None


_PARSE_NAMESPACE: dict[str, object] = {
    "h": h,
    "beta": beta,
    "sigmoid": sigmoid,
    "logsigmoid": logsigmoid,
    "log": sp.log,
    "exp": sp.exp,
    "sqrt": sp.sqrt,
    "Max": sp.Max,
    "Min": sp.Min,
    "max": sp.Max,
    "min": sp.Min,
    "Abs": sp.Abs,
    "abs": sp.Abs,
    "tanh": sp.tanh,
    "erf": sp.erf,
    "Piecewise": sp.Piecewise,
    "pi": sp.pi,
    "E": sp.E,
}


def loss_from_expression(
    text: str, params: Mapping[str, float] | None = None, name: str = "custom"
) -> Loss:
    r"""A user-defined loss :math:`\phi(h)` from a SymPy expression string.

    ``text`` may use ``h``, ``beta``, the names in ``params`` (with their default values),
    ``sigmoid``, ``logsigmoid``, ``log``, ``exp``, ``sqrt``, ``Max``/``Min``, ``Abs``,
    ``tanh``, ``erf``.

    >>> loss_from_expression("log(1 + exp(-h))").dphi_at_zero
    -1/2
    """
    params = dict(params or {})
    symbols = {key: sp.Symbol(key, real=True) for key in params}
    namespace = {**_PARSE_NAMESPACE, **symbols}
    try:
        expr = parse_expr(
            text,
            local_dict=namespace,
            global_dict={"__builtins__": {}, **{k: getattr(sp, k) for k in ("Integer", "Float", "Rational", "Symbol")}},
            transformations=standard_transformations,
        )
    except Exception as err:  # noqa: BLE001 - parse_expr evaluates the text: any failure means "unparsable"
        raise PrefdynError(f"loss-expr: cannot parse {text!r} as a SymPy expression ({err})") from None
    if not isinstance(expr, sp.Expr):
        raise PrefdynError(f"loss-expr: {text!r} is not a scalar expression")
    unknown = expr.free_symbols - {h, beta, *symbols.values()}
    if unknown:
        names = ", ".join(sorted(str(s) for s in unknown))
        raise PrefdynError(
            f"loss-expr: {text!r} uses unknown symbol(s) {names}; allowed: h, beta"
            + (", " + ", ".join(params) if params else "")
        )
    if h not in expr.free_symbols:
        raise PrefdynError(f"loss-expr: {text!r} does not depend on the margin h")
    loss = Loss(
        name,
        expr,
        f"user-defined loss ${sp.latex(expr)}$",
        params={symbols[k]: sp.nsimplify(v) for k, v in params.items()},
    )
    at_reference = {h: 0, beta: 1, **loss.params}
    for label, value in (("phi(0)", expr), ("phi'(0)", sp.diff(expr, h))):
        number = sp.N(value.subs(at_reference))
        if not (number.is_finite and number.is_real):
            raise PrefdynError(
                f"loss-expr: {text!r} must be finite and real at the reference margin h = 0 "
                f"(every theorem starts there), but {label} = {number} (beta = 1)"
            )
    return loss
