r"""Theorems as data: assumptions, statements, and derivations whose *displayed* forms are checked.

A :class:`Theorem` holds :class:`Assumption` objects (hypotheses in LaTeX) and one or more
:class:`Claim` objects. A claim is a *chain* of :class:`Step` objects
:math:`E_0 \mathrel{R_1} E_1 \mathrel{R_2} \cdots \mathrel{R_m} E_m`, :math:`R_k \in \{=, \le, \ge\}`;
its statement is the composed relation :math:`E_0 \mathrel{R} E_m`.

The invariant: what is printed is what is checked
--------------------------------------------------
Every :math:`E_k` is one SymPy object, the *display*: it is what the LaTeX printer writes and it
is what the check evaluates. Nothing else is compared. A display may name *abstract objects*:

* :class:`Atom` symbols (and any symbol whose name is LaTeX, i.e. contains a backslash), such as
  :math:`\operatorname{Acc}_b(\Delta)` or :math:`\mathbb E[\Delta W_1]_{ij}`;
* indexed families (``IndexedBase``: :math:`p_b`, :math:`G_{bb'}`) summed over a symbolic range;
* undefined functions (:math:`A(m, r)`) and matrix symbols (non-commutative, so products print in
  their true order).

A step about abstract objects carries :class:`Instances`: a list of *bindings*, each a mapping from
the display's abstract objects to concrete SymPy values (a :math:`3\times 2` symbolic softmax head,
an exact expectation over a finite law, ``sympy.stats`` normals). :func:`realise` substitutes a
binding into **both displayed sides** and the relation is verified on the result. A display atom
that a binding leaves unset makes the step fail ("untied"), so a display can never drift from
its check: change a sign or a coefficient of what is printed and the realised relation changes
with it.

Deciding a relation is deterministic (:func:`verify_relation`): an equality whose difference
expands to ``0`` is proved at once; the others are first refuted
numerically at fixed points, then proved by a fixed sequence of exact rewrites (``expand``,
``cancel``, ``together``, exponential/log normalisation) and :func:`sympy.simplify`, each only
below an operation-count budget (:data:`REWRITE_MAX_OPS` and its kin); what stays
undecided is evaluated at :data:`NUMERIC_POINTS` seeded random
points and reported as ``numeric``. No wall clock is involved, so the same input gives the same
report on any machine under any load.

Everything renders to LaTeX through :mod:`prefdyn.theory.printing` and lambdifies to numpy
(:meth:`Theorem.lambdify`; the torch variant lives in :mod:`prefdyn.numerics`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Literal

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef, UndefinedFunction

from prefdyn.errors import PrefdynError

from .functions import to_elementary

#: One of ``"="``, ``"<="``, ``">="`` (validated by :class:`Step`).
Relation = str
RELATIONS = ("=", "<=", ">=")
#: A side of a claim's statement: its first (``"lhs"``) or its last (``"rhs"``) display.
Side = Literal["lhs", "rhs"]

#: How many seeded random points a numeric check evaluates, and its relative tolerance.
NUMERIC_POINTS = 48
NUMERIC_RTOL = 1e-9
#: Points at which an equality is first refuted numerically (a cheap, certain "no").
REFUTE_POINTS = 4
#: Operation-count budgets of :func:`_decide_symbolically` (deterministic, no clock): above them
#: :func:`sympy.simplify`, the rewrites through ``cancel(together(.))``, every rewrite of an inequality, and every
#: rewrite at all is not attempted; what is left undecided is evaluated at seeded points.
SIMPLIFY_MAX_OPS = 400
CANCEL_MAX_OPS = 1000
INEQUALITY_MAX_OPS = 600
REWRITE_MAX_OPS = 2500

#: numpy implementations of prefdyn's special functions, for :func:`sympy.lambdify`.
NUMPY_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def numpy_functions() -> dict[str, Callable[..., Any]]:
    if not NUMPY_FUNCTIONS:
        from scipy import special

        NUMPY_FUNCTIONS.update(sigmoid=special.expit, logsigmoid=special.log_expit, Phi=special.ndtr, erf=special.erf)
    return NUMPY_FUNCTIONS


class Atom(sp.Symbol):
    r"""An abstract object of a display (:math:`\operatorname{Acc}_b(\Delta)`, :math:`f'(0)`): it
    prints as its name (LaTeX) and has no meaning in a check until an instance binds it."""


@dataclass(frozen=True)
class Assumption:
    """A named hypothesis of a theorem, stated in LaTeX."""

    name: str
    latex: str


@dataclass(frozen=True)
class StepResult:
    """Outcome of checking one step: ``method`` is ``symbolic``, ``symbolic (instantiated: ..)``,
    ``numeric (N points)``, ``numeric (instantiated: ..)`` or ``untied``."""

    verified: bool
    method: str
    detail: str = ""


Binding = Mapping[Any, Any]


class Instances:
    """Concrete instances of a claim: a ``label`` (e.g. ``"V=3, d=2"``) and ``build()``, returning
    bindings (mappings from the displays' abstract objects to concrete values); built once.

    A binding maps a symbol or :class:`Atom` to an expression, an ``IndexedBase`` or undefined
    function to a Python callable of the indices/arguments (1-based indices, as printed), and a
    ``MatrixSymbol`` to an explicit matrix. ``generic`` names undefined functions that stay abstract
    on purpose (a generic :math:`\\phi`, which makes the identity hold for every :math:`\\phi`).
    """

    def __init__(
        self, label: str, build: Callable[[], Iterable[Binding]], generic: Iterable[UndefinedFunction] = ()
    ) -> None:
        self.label = label
        self._build = build
        self.generic = frozenset(generic)

    @cached_property
    def bindings(self) -> tuple[Binding, ...]:
        return tuple(self._build())


@dataclass(frozen=True)
class Step:
    r"""One link :math:`\text{lhs} \mathrel{R} \text{rhs}` of a derivation chain.

    ``lhs`` is ``None`` for every step but the first of a chain (it continues from the previous
    right-hand side). ``domain`` maps symbols to sampling intervals for numeric evaluation.
    """

    rel: Relation
    rhs: Any
    reason: str
    lhs: Any = None
    instances: Instances | None = None
    domain: Mapping[sp.Symbol, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rel not in RELATIONS:
            raise ValueError(f"step relation must be one of =, <=, >=; got {self.rel!r}")

    def check(self, lhs: Any) -> StepResult:
        """Verify the displayed ``lhs rel rhs``: directly when it names no abstract object, else
        on every instance, with both displays realised (:func:`realise`)."""
        if self.instances is None:
            untied = abstract_objects(lhs) | abstract_objects(self.rhs)
            if untied:
                return StepResult(False, "untied", f"abstract {_names(untied)} need instances")
            return verify_relation(lhs, self.rel, self.rhs, self.domain)
        results: list[StepResult] = []
        for binding in self.instances.bindings:
            left, right = realise(lhs, binding), realise(self.rhs, binding)
            untied = abstract_objects(left, self.instances.generic) | abstract_objects(right, self.instances.generic)
            if untied:
                return StepResult(False, "untied", f"instance {self.instances.label!r} leaves {_names(untied)} unbound")
            result = verify_relation(left, self.rel, right, self.domain)
            if _has_floats(left) or _has_floats(right):  # decided on rounded numbers: not a proof
                result = StepResult(result.verified, "numeric (floating-point instance)", result.detail)
            if not result.verified:
                return StepResult(
                    False,
                    f"{result.method} (instantiated: {self.instances.label})",
                    f"instance {len(results) + 1}: {result.detail}",
                )
            results.append(result)
        if not results:
            return StepResult(False, "untied", "no instances were built")
        numeric = any(r.method.startswith("numeric") for r in results)
        method = ("numeric" if numeric else "symbolic") + f" (instantiated: {self.instances.label})"
        return StepResult(True, method, f"{len(results)} instance(s)")


def _has_floats(expr: Any) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return any(_has_floats(e) for e in expr)
    return isinstance(expr, sp.Basic) and expr.has(sp.Float)


def abstract_objects(expr: Any, generic: frozenset[Any] = frozenset()) -> set[Any]:
    """The display-only objects left in ``expr``: atoms, LaTeX-named symbols, indexed entries,
    undefined functions (other than ``generic``) and matrix symbols."""
    if not isinstance(expr, sp.Basic):
        return set()
    found: set[Any] = set()
    for node in sp.preorder_traversal(expr):
        if (
            isinstance(node, Atom)
            or (isinstance(node, sp.Symbol) and "\\" in node.name)
            or isinstance(node, (sp.Indexed, sp.MatrixSymbol))
        ):
            found.add(node)
        elif isinstance(node, AppliedUndef) and node.func not in generic:
            found.add(node.func)
    return found


def _names(objects: set[Any]) -> str:
    return ", ".join(sorted(str(o) for o in objects))


def realise(expr: Any, binding: Binding) -> Any:
    """Substitute ``binding`` into a display: symbols and atoms first (integers such as ``K``
    included), then finite sums are expanded, indexed entries, undefined functions and matrix
    symbols replaced by their values."""
    if not isinstance(expr, sp.Basic):
        return expr
    symbols = {k: v for k, v in binding.items() if isinstance(k, sp.Symbol)}
    matrices = {k: v for k, v in binding.items() if isinstance(k, sp.MatrixSymbol)}
    families = {k: v for k, v in binding.items() if isinstance(k, sp.IndexedBase)}
    functions = {k: v for k, v in binding.items() if isinstance(k, UndefinedFunction)}
    out = expr.xreplace(symbols) if symbols else expr
    if out.has(sp.Sum, sp.Product):
        out = out.replace(lambda e: isinstance(e, (sp.Sum, sp.Product)), lambda e: e.doit())
    if families:
        out = out.replace(
            lambda e: isinstance(e, sp.Indexed) and e.base in families, lambda e: families[e.base](*e.indices)
        )
    if functions:
        out = out.replace(
            lambda e: isinstance(e, AppliedUndef) and e.func in functions, lambda e: functions[e.func](*e.args)
        )
    if matrices:
        out = out.xreplace({k: sp.ImmutableMatrix(v) for k, v in matrices.items()})
    if isinstance(out, sp.MatrixExpr):
        out = sp.Matrix(out.doit().as_explicit())
    return out


def compose(relations: Sequence[Relation]) -> Relation:
    """The relation implied by a chain (``=`` links are neutral; ``<=`` and ``>=`` cannot mix)."""
    strict = {r for r in relations if r != "="}
    if len(strict) > 1:
        raise ValueError("a chain cannot mix <= and >= links")
    return strict.pop() if strict else "="


def make_relation(lhs: Any, rel: Relation, rhs: Any) -> sp.Basic:
    """A SymPy relational (unevaluated)."""
    ctor = {"=": sp.Eq, "<=": sp.Le, ">=": sp.Ge}[rel]
    return ctor(lhs, rhs, evaluate=False)


@dataclass(frozen=True)
class Claim:
    """A derivation chain and the statement it proves."""

    label: str
    steps: tuple[Step, ...]
    prose: str = ""

    def __post_init__(self) -> None:
        if not self.steps or self.steps[0].lhs is None:
            raise ValueError(f"claim {self.label!r}: the first step needs an lhs")
        if any(s.lhs is not None for s in self.steps[1:]):
            raise ValueError(f"claim {self.label!r}: only the first step may set lhs")

    @property
    def relation(self) -> Relation:
        return compose([s.rel for s in self.steps])

    @property
    def lhs(self) -> Any:
        return self.steps[0].lhs

    @property
    def rhs(self) -> Any:
        return self.steps[-1].rhs

    def side(self, which: Side) -> Any:
        """The display ``which`` of the statement: :attr:`lhs` or :attr:`rhs`."""
        if which == "lhs":
            return self.lhs
        if which == "rhs":
            return self.rhs
        raise PrefdynError(f"side: must be 'lhs' or 'rhs', not {which!r}")

    @property
    def statement(self) -> sp.Basic:
        return make_relation(self.lhs, self.relation, self.rhs)

    def displays(self) -> list[Any]:
        """Every displayed form of the chain, :math:`E_0, \\dots, E_m`."""
        return [self.lhs, *(s.rhs for s in self.steps)]

    def check(self) -> list[StepResult]:
        results, left = [], self.lhs
        for step in self.steps:
            results.append(step.check(left))
            left = step.rhs
        return results


@dataclass
class CheckReport:
    """Per-claim, per-step verification results of a theorem."""

    theorem_id: str
    results: list[tuple[Claim, list[StepResult]]]

    @property
    def passed(self) -> bool:
        return all(r.verified for _, rs in self.results for r in rs)

    def steps(self) -> list[tuple[Claim, Step, StepResult]]:
        return [(c, s, r) for c, rs in self.results for s, r in zip(c.steps, rs)]


@dataclass
class Theorem:
    """A theorem: id, title, assumptions, claims (the first is the statement), summary.

    ``notation`` maps each object the statements use (a symbol, an atom, an indexed entry such as
    ``p[b]`` or an applied function; a tuple of them for objects defined together) to its meaning;
    the printer
    writes it as the theorem's "where" clause. ``provenance`` says which parts are Im & Li's
    (2024) and which are prefdyn's.
    """

    id: str
    title: str
    assumptions: list[Assumption]
    claims: list[Claim]
    summary: str = ""
    loss_name: str = ""
    notes: list[str] = field(default_factory=list)
    notation: Mapping[Any, str] = field(default_factory=dict)
    provenance: str = ""
    _report: CheckReport | None = field(default=None, init=False, repr=False)

    @property
    def statement(self) -> sp.Basic:
        """The main statement: the composed relation of the first claim."""
        return self.claims[0].statement

    def claim(self, label: str) -> Claim:
        for claim in self.claims:
            if claim.label == label:
                return claim
        raise KeyError(f"theorem {self.id!r} has no claim {label!r}")

    def check(self) -> CheckReport:
        """Re-verify every step of every claim (cached after the first call)."""
        if self._report is None:
            self._report = CheckReport(self.id, [(c, c.check()) for c in self.claims])
        return self._report

    def lambdify(self, claim: str | None = None, side: Side = "rhs") -> tuple[list[sp.Symbol], Callable[..., Any]]:
        """``(symbols, f)``: a numpy function of one side of a claim, arguments sorted by name."""
        expr = (self.claims[0] if claim is None else self.claim(claim)).side(side)
        symbols = sorted(expr.free_symbols, key=lambda s: s.name)
        return symbols, sp.lambdify(symbols, expr, modules=[numpy_functions(), "numpy"])

    def latex(self) -> str:
        """A complete ``theorem`` + ``proof`` block (amsthm/amsmath) with verification marks."""
        from .printing import theorem_latex

        return theorem_latex(self)

    def _repr_latex_(self) -> str:
        from .printing import statements_latex

        return statements_latex(self)


def tex(expr: Any) -> str:
    r"""LaTeX of a SymPy object; symbols whose names are already LaTeX (they contain ``\``,
    ``{`` or ``|``) print verbatim instead of being re-parsed into sub/superscripts."""
    from .printing import tex as _tex

    return _tex(expr)


# --------------------------------------------------------------------------- verification


def verify_relation(
    lhs: Any, rel: Relation, rhs: Any, domain: Mapping[sp.Symbol, tuple[float, float]] | None = None
) -> StepResult:
    """Check ``lhs rel rhs``: symbolically if SymPy can decide, else at seeded random points.

    The decision is a pure function of its arguments (fixed rewrites, an operation-count budget,
    seeded points), so it is memoised on their structure: a relation met again (the same step of
    another loss, or a theorem checked twice in one process) costs a dictionary look-up and gets
    the same answer.
    """
    key = _relation_key(lhs, rel, rhs, domain)
    if key is None:
        return _verify_relation(lhs, rel, rhs, domain)
    return _verify_memoised(key)


#: How many decided relations :func:`verify_relation` remembers (least recently used first out).
MEMO_SIZE = 16384


def _relation_key(
    lhs: Any, rel: Relation, rhs: Any, domain: Mapping[sp.Symbol, tuple[float, float]] | None
) -> tuple | None:
    """A hashable, structural key of the relation, or ``None`` when a side is not SymPy data."""

    def frozen(side: Any) -> Any:
        return sp.ImmutableMatrix(side) if isinstance(side, sp.MatrixBase) else sp.sympify(side, strict=True)

    try:
        key = (frozen(lhs), rel, frozen(rhs), tuple(sorted((domain or {}).items(), key=lambda kv: str(kv[0]))))
        hash(key)
    except (TypeError, sp.SympifyError):
        return None
    return key


def forget_decisions() -> None:
    """Empty the memo of :func:`verify_relation` (so that a relation is decided afresh)."""
    _verify_memoised.cache_clear()


@lru_cache(maxsize=MEMO_SIZE)
def _verify_memoised(key: tuple) -> StepResult:
    lhs, rel, rhs, domain = key
    return _verify_relation(lhs, rel, rhs, dict(domain))


def _verify_relation(
    lhs: Any, rel: Relation, rhs: Any, domain: Mapping[sp.Symbol, tuple[float, float]] | None
) -> StepResult:
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        lhs_m, rhs_m = sp.Matrix(lhs), sp.Matrix(rhs)
        if lhs_m.shape != rhs_m.shape:
            return StepResult(False, "symbolic", f"shape mismatch {lhs_m.shape} vs {rhs_m.shape}")
        results = [verify_relation(a, rel, b, domain) for a, b in zip(lhs_m, rhs_m)]
        failed = [r for r in results if not r.verified]
        numeric = [r for r in results if r.method.startswith("numeric")]
        method = numeric[0].method if numeric else "symbolic"
        return StepResult(not failed, method, failed[0].detail if failed else "")
    gap = sp.sympify(rhs - lhs if rel == "<=" else lhs - rhs)  # equality: 0; inequality: >= 0
    if rel == "=" and _expands_to_zero(gap):
        return StepResult(True, "symbolic")
    domain = domain or {}
    refuted = _refute(gap, rel, domain)
    if refuted is not None:
        return refuted
    decided = _decide_symbolically(gap, rel)
    if decided is not None:
        return StepResult(decided, "symbolic", "" if decided else f"residual {gap}")
    return _verify_numerically(gap, rel, domain)


def _expands_to_zero(gap: sp.Expr) -> bool:
    r"""Whether ``gap``, with :math:`\sigma`, :math:`\log\sigma` and :math:`\Phi` in elementary
    form, *expands* to the zero expression (below :data:`REWRITE_MAX_OPS` operations).

    ``expand`` only distributes products and powers and collects like terms, so a result ``0`` is
    a proof of ``gap == 0``: the same proof that :func:`_decide_symbolically` finds first for most
    identities of the catalogue, here reached without the numeric refutation and the full
    normalisation (``doit``) before it. Nothing is concluded when the expansion is not ``0``.
    """
    elementary = to_elementary(gap)
    if sp.count_ops(elementary) > REWRITE_MAX_OPS:
        return False
    try:
        return sp.expand(elementary) == 0
    except (TypeError, ValueError, NotImplementedError, sp.PolynomialError):
        return False


#: The exact rewrites, cheapest first, each with the operation count above which it is not tried
#: (``cancel`` of a large ``together`` grows fastest: both rewrites that use it have the smaller budget).
_REWRITES: tuple[tuple[Callable[[sp.Expr], sp.Expr], int], ...] = (
    (sp.expand, REWRITE_MAX_OPS),
    (lambda e: sp.expand(sp.powsimp(sp.expand_log(sp.expand_power_exp(e), force=True))), REWRITE_MAX_OPS),
    (lambda e: sp.cancel(sp.together(sp.expand(e.rewrite(sp.exp)))), CANCEL_MAX_OPS),
    (lambda e: sp.cancel(sp.together(e)), CANCEL_MAX_OPS),
)


def _decide_symbolically(gap: sp.Expr, rel: Relation) -> bool | None:
    """``True``/``False`` when exact rewriting decides ``gap == 0`` (equality) or ``gap >= 0``;
    ``None`` when undecided. Every operation is deterministic: each rewrite runs only below its
    operation-count budget (an inequality's below :data:`INEQUALITY_MAX_OPS`: rewriting seldom
    decides the sign of a large expression) and :func:`sympy.simplify` only below
    :data:`SIMPLIFY_MAX_OPS`."""
    elementary = to_elementary(gap).doit()
    ops = sp.count_ops(elementary)
    candidates = [elementary]
    for rewrite, budget in _REWRITES:
        if ops > (budget if rel == "=" else min(budget, INEQUALITY_MAX_OPS)):
            continue
        try:
            candidates.append(rewrite(elementary))
        except (TypeError, ValueError, NotImplementedError, sp.PolynomialError):
            continue
        if rel == "=" and candidates[-1] == 0:
            return True
    if ops <= SIMPLIFY_MAX_OPS:
        candidates.append(sp.simplify(elementary))
    if rel == "=":
        if any(c == 0 for c in candidates):
            return True
        return False if any(c.is_zero is False and not c.free_symbols for c in candidates) else None
    if any(c.is_nonnegative for c in candidates):
        return True
    return False if any(c.is_negative for c in candidates) else None


#: Default sampling intervals by symbol-name prefix (probabilities and flip rates).
PREFIX_DOMAINS: dict[str, tuple[float, float]] = {"p_": (0.01, 0.99), "q_": (0.01, 0.99), "epsilon_": (0.0, 0.49)}


def _sample(symbol: sp.Symbol, domain: Mapping[sp.Symbol, tuple[float, float]], rng: random.Random) -> float:
    if symbol in domain:
        lo, hi = domain[symbol]
        return rng.randint(int(lo), int(hi)) if symbol.is_integer else rng.uniform(lo, hi)
    for prefix, interval in PREFIX_DOMAINS.items():
        if symbol.name.startswith(prefix):
            return rng.uniform(*interval)
    if symbol.is_integer:
        return rng.randint(1, 12)
    if symbol.is_positive:
        return rng.uniform(0.05, 3.0)
    if symbol.is_nonnegative:
        return rng.uniform(0.0, 3.0)
    return rng.uniform(-3.0, 3.0)


#: Digits of the arbitrary-precision evaluation that replaces a floating-point one which overflows.
PRECISE_DIGITS = 30


def _mpmath_functions() -> dict[str, Callable[..., Any]]:
    import mpmath

    return {
        "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
        "logsigmoid": lambda x: -mpmath.log1p(mpmath.exp(-x)),
        "Phi": mpmath.ncdf,
        "erf": mpmath.erf,
    }


@lru_cache(maxsize=256)
def _evaluator(gap: sp.Expr) -> tuple[list[sp.Symbol], Callable[[list[float]], complex]] | None:
    """``(symbols, value)``: ``value(point)`` evaluates ``gap`` in floating point, or, where that
    overflows or divides by zero (``2**(100*beta)`` of a large trajectory), with
    :data:`PRECISE_DIGITS` digits (mpmath), so that rounding never decides a check. Built once per
    ``gap`` (the refutation and the numeric check of one step evaluate the same function)."""
    if gap.atoms(AppliedUndef):
        return None
    symbols = sorted(gap.free_symbols, key=lambda s: s.name)
    try:
        fast = sp.lambdify(symbols, gap, modules=[numpy_functions(), "scipy", "numpy"])
    except (TypeError, NameError, SyntaxError):
        return None
    precise: list[Callable[..., Any]] = []

    def value(point: list[float]) -> complex:
        try:
            with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                return complex(fast(*point))
        except (FloatingPointError, OverflowError):
            import mpmath

            if not precise:
                precise.append(sp.lambdify(symbols, gap, modules=[_mpmath_functions(), "mpmath"]))
            with mpmath.workdps(PRECISE_DIGITS):
                return complex(precise[0](*(mpmath.mpf(p) for p in point)))

    return symbols, value


def _points(
    gap: sp.Expr, rel: Relation, domain: Mapping[sp.Symbol, tuple[float, float]], count: int
) -> Iterable[tuple[dict[sp.Symbol, float], float, bool]]:
    """``(point, value, ok)`` at up to ``count`` seeded random points where ``gap`` is finite."""
    evaluator = _evaluator(gap)
    if evaluator is None:
        return
    symbols, value_at = evaluator
    rng = random.Random(0)  # fixed: a check must be reproducible
    for _ in range(count):
        point = [_sample(s, domain, rng) for s in symbols]
        try:
            value = value_at(point)
        except (ValueError, ZeroDivisionError, OverflowError, TypeError, FloatingPointError):
            continue
        if not math.isfinite(value.real) or abs(value.imag) > 1e-12:
            continue
        scale = 1.0 + max((abs(p) for p in point), default=0.0)
        ok = abs(value.real) <= NUMERIC_RTOL * scale if rel == "=" else value.real >= -NUMERIC_RTOL * scale
        yield dict(zip(symbols, point)), value.real, ok


def _refute(gap: sp.Expr, rel: Relation, domain: Mapping[sp.Symbol, tuple[float, float]]) -> StepResult | None:
    """A failing :class:`StepResult` when ``gap`` violates the relation at one of a few fixed
    points by far more than rounding (:math:`10^{-6}` relative), else ``None``."""
    for point, value, _ in _points(gap, rel, domain, REFUTE_POINTS):
        scale = 1.0 + max((abs(p) for p in point.values()), default=0.0)
        if (abs(value) if rel == "=" else -value) > 1e-6 * scale:
            return StepResult(False, "numeric (refuted)", f"fails at {point}: {value}")
    return None


def _verify_numerically(gap: sp.Expr, rel: Relation, domain: Mapping[sp.Symbol, tuple[float, float]]) -> StepResult:
    if gap.atoms(AppliedUndef):
        return StepResult(False, "undecided", "abstract objects: the step needs concrete instances")
    evaluated = 0
    for point, value, ok in _points(gap, rel, domain, NUMERIC_POINTS):
        evaluated += 1
        if not ok:
            return StepResult(False, f"numeric ({evaluated} points)", f"fails at {point}: {value}")
    if evaluated < NUMERIC_POINTS // 2:
        return StepResult(False, f"numeric ({evaluated} points)", "too few finite evaluations")
    return StepResult(True, f"numeric ({evaluated} points)")


# --------------------------------------------------------------------------- chains


Link = tuple[Relation, Any, str] | tuple[Relation, Any, str, Instances]


def chain(
    label: str,
    first: Any,
    links: Sequence[Link],
    instances: Instances | None = None,
    prose: str = "",
    domain: Mapping[sp.Symbol, tuple[float, float]] | None = None,
) -> Claim:
    """A :class:`Claim` from displays ``first R1 E1 R2 E2 ...``.

    A link ``(rel, display, reason)`` is checked on the claim's ``instances`` (every display
    realised in each binding), or directly when the claim has none; a link
    ``(rel, display, reason, Instances)`` is checked on its own instances (e.g. a lemma on its
    extremal case), still by realising the displays.
    """
    steps = []
    for k, link in enumerate(links):
        rel, display, reason = link[0], link[1], link[2]
        own = link[3] if len(link) == 4 else instances
        steps.append(
            Step(rel, display, reason, lhs=first if k == 0 else None, instances=own, domain=dict(domain or {}))
        )
    return Claim(label, tuple(steps), prose)


def matrix_family(matrix: sp.Matrix) -> Callable[..., sp.Expr]:
    """A binding value for an ``IndexedBase``: ``matrix`` read with 1-based indices."""
    if matrix.cols == 1:
        return lambda i: matrix[int(i) - 1, 0]
    return lambda i, j: matrix[int(i) - 1, int(j) - 1]
