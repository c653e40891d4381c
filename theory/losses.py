r"""Preference losses as functions of the margin.

Every loss in prefdyn is a scalar function :math:`\phi(h)` of the implicit-reward margin
:math:`h = \beta\rho`, :math:`\rho = (e_{y_w}-e_{y_l})^\top (W - W_{\mathrm{ref}})\, g`, held as
data in a registry (:data:`REGISTRY`): a SymPy expression in ``h``, ``beta`` and the loss's own
parameters. Everything else a theorem needs is *derived* from that expression: by SymPy,
:math:`\phi'`, :math:`\phi''` and :math:`\phi'(0)`; *certified* by interval arithmetic
(:mod:`prefdyn.theory.certify`), the sign of :math:`\phi'(0)`, the stationary margin
:math:`h^\star = \inf\{h : \phi'(h) = 0\}` (:math:`+\infty` when :math:`\phi' < 0` everywhere,
as for DPO), :math:`\sup_h |\phi'(h)|` and the smoothness constant
:math:`L_2 = \sup_h|\phi''(h)|` (:attr:`Loss.smoothness`, the one definition of "is
:math:`\phi` smooth" in prefdyn: :math:`L_2 < \infty`).

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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from prefdyn.errors import PrefdynError

from . import certify
from .functions import logsigmoid, sigmoid
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

    def _certify(self, constant: str, compute: Callable[[sp.Expr], certify.Certificate]) -> certify.Certificate:
        r"""Run a certification on :math:`\phi` with the defaults bound; a constant that cannot be
        certified is a one-line :class:`~prefdyn.errors.PrefdynError` naming the loss and the constant."""
        try:
            return compute(self.bind(self.phi))
        except PrefdynError:
            raise
        except (
            certify.CannotCertify,
            ArithmeticError,
            ValueError,
            TypeError,
            NotImplementedError,
            RecursionError,
        ) as err:
            reason = " ".join(str(err).split()) or type(err).__name__
            raise PrefdynError(f"loss {self.name}: cannot certify {constant} ({reason})") from None

    @cached_property
    def stationary_margin_certificate(self) -> certify.Certificate:
        r"""Certificate of :math:`h^\star` (:func:`prefdyn.theory.certify.stationary_margin`)."""
        return self._certify("h* (the stationary margin)", certify.stationary_margin)

    @cached_property
    def stationary_margin(self) -> sp.Expr:
        r""":math:`h^\star = \inf\{h : 0 \in \operatorname{hull}(\phi'(h^-), \phi'(h^+))\}`
        (the smallest root of :math:`\phi'` for a :math:`C^1` loss; ``oo`` when there is none, as
        for DPO), defaults bound.

        Certified by interval root isolation (:mod:`prefdyn.theory.certify`): every point left of
        :math:`h^\star` is proved root-free, the root itself by a sign change. Exact when SymPy
        names the root (``log(9)`` for cDPO), else the ``Float`` nearest the certified enclosure.
        """
        return self.stationary_margin_certificate.value

    @cached_property
    def dphi_at_zero_sign(self) -> sp.Integer:
        r"""The certified sign (-1, 0, 1) of :math:`\phi'(0)`, defaults bound (for every
        :math:`\beta > 0` when :math:`\beta` enters :math:`\phi`)."""
        return self._certify("the sign of phi'(0)", certify.sign_of_dphi_at_zero).value

    @cached_property
    def smoothness_certificate(self) -> certify.Certificate:
        r"""Certificate of :attr:`smoothness` (enclosure, where it is attained, proof)."""
        return self._certify("sup|phi''|", lambda phi: certify.sup_abs_derivative(phi, 2))

    @cached_property
    def smoothness(self) -> sp.Expr:
        r"""The smoothness constant :math:`L_2 = \sup_h |\phi''(h)|`, defaults bound: the one
        definition of smoothness in prefdyn. :math:`\phi` is smooth when :math:`L_2 < \infty`, i.e.
        :math:`\phi'` is :math:`L_2`-Lipschitz; ``oo`` when :math:`\phi'` jumps (hinge: a Dirac mass
        in :math:`\phi''`; any kink of a ``Piecewise``, ``Max``, ``Min`` or ``Abs``) or
        :math:`|\phi''|` is unbounded, and finite for every :math:`C^1` loss with bounded
        :math:`\phi''`, whatever functions write it (the smoothed hinge :math:`\max(0, 1-h)^2/2`: 1).

        Certified (:mod:`prefdyn.theory.certify`): interval branch and bound on a window plus
        asymptotic enclosures of the tails, so a narrow peak cannot be missed (DiscoPOP: 13.2018 at
        :math:`h \approx 0.0538`). Exact where SymPy names it (DPO: ``1/4``), else a ``Float``
        rounded up. IPO keeps its :math:`\beta`: ``2/beta**2``.
        """
        return self.smoothness_certificate.value

    @cached_property
    def sup_abs_dphi_certificate(self) -> certify.Certificate:
        r"""Certificate of :math:`\sup_h|\phi'(h)|`."""
        return self._certify("sup|phi'|", lambda phi: certify.sup_abs_derivative(phi, 1))

    @cached_property
    def sup_abs_dphi(self) -> sp.Expr:
        r""":math:`\sup_h |\phi'(h)|` (``oo`` when unbounded, e.g. IPO, or when :math:`\phi`
        jumps), defaults bound; certified like :attr:`smoothness` (DPO: ``1``, approached as
        :math:`h \to -\infty`; hinge: ``1``)."""
        return self.sup_abs_dphi_certificate.value

    def latex(self) -> str:
        r"""LaTeX of :math:`\phi(h) = \dots`."""
        return rf"\phi_{{\mathrm{{{self.name}}}}}(h) = {sp.latex(self.phi)}"


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
        sigmoid(h) * (logsigmoid(h) - sp.log(1 - epsilon)) + sigmoid(-h) * (logsigmoid(-h) - sp.log(epsilon)),
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
    text: str,
    params: Mapping[str, float] | None = None,
    name: str = "custom",
    field: str = "loss-expr",
    params_field: str = "param",
) -> Loss:
    r"""A user-defined loss :math:`\phi(h)` from a SymPy expression string.

    ``text`` may use ``h``, ``beta``, the names in ``params`` (with their default values, kept
    exactly as decimals: ``0.1`` is ``1/10``, as the parser reads literals),
    ``sigmoid``, ``logsigmoid``, ``log``, ``exp``, ``sqrt``, ``Max``/``Min``, ``Abs``,
    ``tanh``, ``erf``. Each name in ``params`` must be an identifier other than ``h`` and
    ``beta``, and ``text`` must use it. Errors are :class:`~prefdyn.errors.PrefdynError` s naming
    ``field`` (the expression) or ``params_field`` (a parameter).

    >>> loss_from_expression("log(1 + exp(-h))").dphi_at_zero
    -1/2
    """
    from .expressions import parse_expression  # the one whitelisting parser: no eval, no sympify

    params = dict(params or {})
    for key in params:
        if not key.isidentifier() or key in (h.name, beta.name):
            raise PrefdynError(f"{params_field}: {key!r} must be an identifier other than {h.name} and {beta.name}")
    symbols = {key: sp.Symbol(key, real=True) for key in params}
    constants = {k: v for k, v in _PARSE_NAMESPACE.items() if isinstance(v, sp.Basic)}
    functions = {k: v for k, v in _PARSE_NAMESPACE.items() if callable(v) and not isinstance(v, sp.Basic)}
    # unknown names become symbols, so that every one of them is reported below
    expr = parse_expression(text, field=field, names={**constants, **symbols}, functions=functions, unknown=sp.Symbol)
    if not isinstance(expr, sp.Expr):
        raise PrefdynError(f"{field}: {text!r} is not a scalar expression")
    unknown = expr.free_symbols - {h, beta, *symbols.values()}
    if unknown:
        names = ", ".join(sorted(str(s) for s in unknown))
        raise PrefdynError(
            f"{field}: {text!r} uses unknown symbol(s) {names}; allowed: h, beta"
            + (", " + ", ".join(params) if params else "")
        )
    if h not in expr.free_symbols:
        raise PrefdynError(f"{field}: {text!r} does not depend on the margin h")
    for key in params:
        if symbols[key] not in expr.free_symbols:
            raise PrefdynError(f"{params_field}.{key}: unknown parameter: {field} does not use it")
    loss = Loss(
        name,
        expr,
        f"user-defined loss ${sp.latex(expr)}$",
        params={symbols[k]: sp.Rational(repr(float(v))) for k, v in params.items()},
    )
    at_reference = {h: 0, beta: 1, **loss.params}
    for label, value in (("phi(0)", expr), ("phi'(0)", sp.diff(expr, h))):
        number = sp.N(value.subs(at_reference))
        if not (number.is_finite and number.is_real):
            raise PrefdynError(
                f"{field}: {text!r} must be finite and real at the reference margin h = 0 "
                f"(every theorem starts there), but {label} = {number} (beta = 1)"
            )
    return loss
