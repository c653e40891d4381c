r"""Theorems as data: assumptions, a statement, and a derivation SymPy re-verifies.

A :class:`Theorem` holds

* ``assumptions``: :class:`Assumption` objects, each with LaTeX;
* ``claims``: one or more :class:`Claim` objects. A claim is a *chain* of :class:`Step` objects
  :math:`E_0 \mathrel{R_1} E_1 \mathrel{R_2} \cdots \mathrel{R_m} E_m` with
  :math:`R_k \in \{=, \le, \ge\}`; its statement is the composed relation
  :math:`E_0 \mathrel{R} E_m` (``Eq`` when every link is an equality, ``Le``/``Ge`` otherwise),
  so a statement can never drift away from the derivation that supports it. The first claim is
  the theorem's :attr:`Theorem.statement`.

Verification (:meth:`Step.check`) is symbolic where SymPy can decide: the difference of the two
sides (rewritten to elementary functions) simplifies to zero, or, for an inequality, to an
expression SymPy proves non-negative. A step about abstract objects (norms, expectations,
matrices of unspecified size) carries ``instances``: concrete SymPy constructions of both sides
(e.g. a 3x2 symbolic head and an explicit expectation over a discrete law) that are verified in
its place, reported as ``symbolic (instantiated: ...)``. Where SymPy cannot decide, both sides are
evaluated at random points of the symbols' domains and the step is reported as ``numeric``.

Everything renders to LaTeX (:meth:`Theorem.latex`, ``_repr_latex_`` for notebooks) and
lambdifies to numpy (:meth:`Theorem.lambdify`; the torch variant lives in
:mod:`prefdyn.numerics`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ._timeout import run_with_time_limit
from .functions import to_elementary

#: One of ``"="``, ``"<="``, ``">="`` (validated by :class:`Step`).
Relation = str
_LATEX_REL = {"=": "=", "<=": r"\le", ">=": r"\ge"}

#: How many random points a numeric check evaluates, and its relative tolerance.
NUMERIC_POINTS = 48
NUMERIC_RTOL = 1e-9

#: numpy implementations of prefdyn's special functions, for :func:`sympy.lambdify`.
NUMPY_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def _numpy_functions() -> dict[str, Callable[..., Any]]:
    if not NUMPY_FUNCTIONS:
        from scipy import special

        NUMPY_FUNCTIONS.update(
            sigmoid=special.expit, logsigmoid=special.log_expit, Phi=special.ndtr, erf=special.erf
        )
    return NUMPY_FUNCTIONS


@dataclass(frozen=True)
class Assumption:
    """A named hypothesis of a theorem, stated in LaTeX."""

    name: str
    latex: str


@dataclass(frozen=True)
class StepResult:
    """Outcome of checking one step: ``method`` is ``symbolic``, ``symbolic (instantiated: ..)``
    or ``numeric (N points)``."""

    verified: bool
    method: str
    detail: str = ""


Pair = tuple[Any, Any]


@dataclass(frozen=True)
class Instances:
    """Concrete versions of a step: a label (e.g. ``"V=3, d=2, K=2"``) and a builder returning
    ``(lhs, rhs)`` pairs of SymPy expressions or matrices that must satisfy the step's relation."""

    label: str
    build: Callable[[], Iterable[Pair]]


@dataclass(frozen=True)
class Step:
    r"""One link :math:`\text{lhs} \mathrel{R} \text{rhs}` of a derivation chain.

    ``lhs`` is ``None`` for every step but the first of a chain (it continues from the previous
    right-hand side). ``domain`` maps symbols to sampling intervals for the numeric fallback.
    """

    rel: Relation
    rhs: Any
    reason: str
    lhs: Any = None
    instances: Instances | None = None
    domain: Mapping[sp.Symbol, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rel not in _LATEX_REL:
            raise ValueError(f"step relation must be one of =, <=, >=; got {self.rel!r}")

    def latex(self) -> str:
        """``lhs rel rhs`` (``rel rhs`` when the step continues a chain)."""
        head = "" if self.lhs is None else tex(self.lhs) + " "
        return f"{head}{_LATEX_REL[self.rel]} {tex(self.rhs)}"

    def check(self, lhs: Any) -> StepResult:
        """Verify ``lhs rel rhs`` (or its concrete instances)."""
        if self.instances is None:
            return verify_relation(lhs, self.rel, self.rhs, self.domain)
        results = [
            verify_relation(a, self.rel, b, self.domain) for a, b in self.instances.build()
        ]
        if not results:
            return StepResult(False, "none", "no instances were built")
        failed = [r for r in results if not r.verified]
        numeric = any(r.method.startswith("numeric") for r in results)
        method = ("numeric" if numeric else "symbolic") + f" (instantiated: {self.instances.label})"
        detail = failed[0].detail if failed else f"{len(results)} instance(s)"
        return StepResult(not failed, method, detail)


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

    @property
    def statement(self) -> sp.Basic:
        return make_relation(self.lhs, self.relation, self.rhs)

    def check(self) -> list[StepResult]:
        results, left = [], self.lhs
        for step in self.steps:
            results.append(step.check(left))
            left = step.rhs
        return results

    def latex(self) -> str:
        """An ``align`` body: one numbered line per step, each with its justification."""
        lines = []
        for k, step in enumerate(self.steps):
            head = tex(step.lhs) if k == 0 else ""
            lines.append(
                rf"{head} &{_LATEX_REL[step.rel]} {tex(step.rhs)}"
                rf" && \text{{{_latex_text(step.reason)}}}"
            )
        return " \\\\\n".join(lines)


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
    """A theorem: id, title, assumptions, claims (the first is the statement), summary."""

    id: str
    title: str
    assumptions: list[Assumption]
    claims: list[Claim]
    summary: str = ""
    loss_name: str = ""
    notes: list[str] = field(default_factory=list)
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

    def lambdify(self, claim: str | None = None, side: str = "rhs") -> tuple[list[sp.Symbol], Callable[..., Any]]:
        """``(symbols, f)``: a numpy function of one side of a claim, arguments sorted by name."""
        chosen = self.claims[0] if claim is None else self.claim(claim)
        expr = chosen.rhs if side == "rhs" else chosen.lhs
        symbols = sorted(expr.free_symbols, key=lambda s: s.name)
        return symbols, sp.lambdify(symbols, expr, modules=[_numpy_functions(), "numpy"])

    def latex(self) -> str:
        """A complete ``theorem`` + ``proof`` block (amsthm/amsmath), with verification marks."""
        report = self.check()
        out = [rf"\begin{{theorem}}[{_latex_text(self.title)}]\label{{thm:{self.id}}}"]
        if self.assumptions:
            out.append(r"Assume")
            out.append(r"\begin{enumerate}")
            out += [rf"  \item[(A{i})] {a.latex}" for i, a in enumerate(self.assumptions, 1)]
            out.append(r"\end{enumerate}")
        if self.summary:
            out.append(self.summary)
        out.append(r"Then")
        for claim in self.claims:
            out.append(rf"\begin{{equation}}\label{{eq:{self.id}:{_slug(claim.label)}}}")
            out.append(tex(claim.statement))
            out.append(r"\end{equation}")
            if claim.prose:
                out.append(claim.prose)
        out.append(r"\end{theorem}")
        out.append(r"\begin{proof}")
        for claim, results in report.results:
            out.append(rf"\emph{{{_latex_text(claim.label)}.}}")
            out.append(r"\begin{align}")
            out.append(claim.latex())
            out.append(r"\end{align}")
            marks = "; ".join(
                f"step {k}: {'verified' if r.verified else 'NOT VERIFIED'}, {r.method}"
                for k, r in enumerate(results, 1)
            )
            out.append(rf"\noindent{{\small SymPy check: {_latex_text(marks)}.}}")
        out.extend(self.notes)
        out.append(r"\end{proof}")
        return "\n".join(out)

    def _repr_latex_(self) -> str:
        return "$$" + tex(self.statement) + "$$"


def tex(expr: Any) -> str:
    r"""LaTeX of a SymPy object; symbols whose names are already LaTeX (they contain ``\``,
    ``{`` or ``|``) print verbatim instead of being re-parsed into sub/superscripts."""
    symbols: set[sp.Symbol] = getattr(expr, "free_symbols", set())
    verbatim = {s: s.name for s in symbols if any(c in s.name for c in "\\{|")}
    return sp.latex(expr, symbol_names=verbatim)


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _latex_text(text: str) -> str:
    """Escape ``%``, ``&`` and ``#`` for text mode; ``$...$`` math passes through."""
    return text.replace("%", r"\%").replace("&", r"\&").replace("#", r"\#")


# --------------------------------------------------------------------------- verification


def verify_relation(
    lhs: Any, rel: Relation, rhs: Any, domain: Mapping[sp.Symbol, tuple[float, float]] | None = None
) -> StepResult:
    """Check ``lhs rel rhs``: symbolically if SymPy can decide, else at random points."""
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        lhs_m, rhs_m = sp.Matrix(lhs), sp.Matrix(rhs)
        if lhs_m.shape != rhs_m.shape:
            return StepResult(False, "symbolic", f"shape mismatch {lhs_m.shape} vs {rhs_m.shape}")
        results = [verify_relation(a, rel, b, domain) for a, b in zip(lhs_m, rhs_m)]
        failed = [r for r in results if not r.verified]
        numeric = [r for r in results if r.method.startswith("numeric")]
        method = numeric[0].method if numeric else "symbolic"
        return StepResult(not failed, method, failed[0].detail if failed else "")
    # equality: gap == 0; inequality: gap >= 0
    gap = sp.sympify(rhs - lhs if rel == "<=" else lhs - rhs)
    decided = _decide_symbolically(gap, rel)
    if decided is not None:
        return StepResult(decided, "symbolic", "" if decided else f"residual {gap}")
    return _verify_numerically(gap, rel, domain or {})


#: Seconds :func:`sympy.simplify` may spend on one residual before the numeric fallback
#: (equalities get longer: they are usually decidable; inequalities with |.|, max rarely are).
SIMPLIFY_SECONDS = {"=": 20.0, "<=": 3.0, ">=": 3.0}


def _decide_symbolically(gap: sp.Expr, rel: Relation) -> bool | None:
    """``True``/``False`` when SymPy decides ``gap == 0`` (equality) or ``gap >= 0``; else None."""
    elementary = to_elementary(gap).doit()
    if rel == "=" and sp.expand(elementary) == 0:
        return True
    try:
        simple = run_with_time_limit(SIMPLIFY_SECONDS[rel], sp.simplify, elementary)
    except TimeoutError:
        return None
    if rel == "=":
        if simple == 0:
            return True
        return False if simple.is_zero is False and not simple.free_symbols else None
    if simple.is_nonnegative:
        return True
    return False if simple.is_negative else None


#: Default sampling intervals by symbol-name prefix (probabilities and flip rates).
PREFIX_DOMAINS: dict[str, tuple[float, float]] = {"p_": (0.01, 0.99), "q_": (0.01, 0.99), "epsilon_": (0.0, 0.49)}


def _sample(symbol: sp.Symbol, domain: Mapping[sp.Symbol, tuple[float, float]], rng: random.Random) -> float:
    for prefix, interval in PREFIX_DOMAINS.items():
        if symbol.name.startswith(prefix) and symbol not in domain:
            return rng.uniform(*interval)
    if symbol in domain:
        lo, hi = domain[symbol]
        return rng.randint(int(lo), int(hi)) if symbol.is_integer else rng.uniform(lo, hi)
    if symbol.is_integer:
        return rng.randint(1, 12)
    if symbol.is_positive:
        return rng.uniform(0.05, 3.0)
    if symbol.is_nonnegative:
        return rng.uniform(0.0, 3.0)
    return rng.uniform(-3.0, 3.0)


def _verify_numerically(
    gap: sp.Expr, rel: Relation, domain: Mapping[sp.Symbol, tuple[float, float]]
) -> StepResult:
    if gap.atoms(AppliedUndef):
        return StepResult(False, "undecided", "abstract objects: the step needs concrete instances")
    symbols = sorted(gap.free_symbols, key=lambda s: s.name)
    f = sp.lambdify(symbols, gap, modules=[_numpy_functions(), "scipy", "numpy"])
    rng = random.Random(0)  # fixed: a check must be reproducible
    evaluated = 0
    for _ in range(NUMERIC_POINTS):
        point = [_sample(s, domain, rng) for s in symbols]
        with np.errstate(all="ignore"):
            value = complex(f(*point))
        if not math.isfinite(value.real) or abs(value.imag) > 1e-12:
            continue
        evaluated += 1
        scale = 1.0 + max((abs(p) for p in point), default=0.0)
        ok = abs(value.real) <= NUMERIC_RTOL * scale if rel == "=" else value.real >= -NUMERIC_RTOL * scale
        if not ok:
            return StepResult(False, f"numeric ({evaluated} points)", f"fails at {dict(zip(symbols, point))}: {value.real}")
    if evaluated < NUMERIC_POINTS // 2:
        return StepResult(False, f"numeric ({evaluated} points)", "too few finite evaluations")
    return StepResult(True, f"numeric ({evaluated} points)")


# --------------------------------------------------------------------------- chains of forms


@dataclass(frozen=True)
class Form:
    """One expression of a derivation: its abstract ``display`` form and, optionally, a builder
    of its ``concrete`` instances (one SymPy object per instance, in a fixed instance order)."""

    display: Any
    concrete: Callable[[], Sequence[Any]] | None = None


Link = tuple[Relation, Form, str] | tuple[Relation, Form, str, Instances]


def chain(
    label: str,
    first: Form,
    links: Sequence[Link],
    instances: str = "",
    prose: str = "",
    domain: Mapping[sp.Symbol, tuple[float, float]] | None = None,
) -> Claim:
    """A :class:`Claim` from forms ``first R1 f1 R2 f2 ...``.

    A link ``(rel, form, reason)`` whose two forms both have concrete builders is checked on
    their concrete instances (labelled ``instances``); a link ``(rel, form, reason, Instances)``
    is checked on its own instances (e.g. a lemma checked on its extremal case); any other link
    is checked on the display expressions themselves.
    """
    steps, previous = [], first
    for k, link in enumerate(links):
        rel, form, reason = link[0], link[1], link[2]
        check: Instances | None = link[3] if len(link) == 4 else None
        if check is None and previous.concrete is not None and form.concrete is not None:
            check = Instances(instances, _pairing(previous.concrete, form.concrete))
        steps.append(
            Step(rel, form.display, reason, lhs=first.display if k == 0 else None,
                 instances=check, domain=dict(domain or {}))
        )
        previous = form
    return Claim(label, tuple(steps), prose)


def _pairing(
    left: Callable[[], Sequence[Any]], right: Callable[[], Sequence[Any]]
) -> Callable[[], Iterable[Pair]]:
    def build() -> Iterable[Pair]:
        a, b = list(left()), list(right())
        if len(a) != len(b):
            raise ValueError("forms built different numbers of instances")
        return zip(a, b)

    return build
