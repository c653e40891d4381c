r"""Certified constants of a preference loss, by interval arithmetic.

A loss is a SymPy expression :math:`\phi(h)` of the margin (:mod:`prefdyn.theory.losses`). The
theorems need four numbers derived from it:

* :math:`\sup_{h\in\mathbb R}|\phi'(h)|` and :math:`L_2 = \sup_{h\in\mathbb R}|\phi''(h)|`
  (:func:`sup_abs_derivative`),
* the sign of :math:`\phi'(0)` (:func:`sign_of_dphi_at_zero`),
* the stationary margin :math:`h^\star = \inf\{h : 0 \in \operatorname{hull}(\phi'(h^-), \phi'(h^+))\}`
  (:func:`stationary_margin`; for a :math:`C^1` loss simply the smallest root of :math:`\phi'`,
  :math:`+\infty` when there is none).

Each comes as a :class:`Certificate`: the value as a SymPy number -- exact when SymPy can name it
and a local certificate proves it is the supremum (``1/4`` for DPO's :math:`\phi''`, ``1`` for its
:math:`\phi'`), otherwise a :class:`~sympy.core.numbers.Float` rounded *outward* (up for a supremum)
-- together with a rigorous enclosure ``[lower, upper]`` (relative width :data:`REL_TOL`), where
the supremum is attained or approached, and a one-line account of the proof. Nothing here guesses:
when a step cannot be proved, :class:`CannotCertify` is raised with the reason; a number is never
returned on faith.

Mathematics and proof idea
--------------------------
**Pieces.** ``Max``, ``Min``, ``Abs``, ``Heaviside`` and ``Piecewise`` are rewritten into one
``Piecewise``; the real roots of its conditions (solved exactly by SymPy) cut :math:`\mathbb R`
into open intervals on each of which :math:`\phi` is one analytic expression. At every break point
:math:`b` the one-sided values of :math:`\phi^{(j)}`, :math:`j < k`, are compared exactly: a jump
of :math:`\phi^{(k-1)}` is a Dirac mass in :math:`\phi^{(k)}`, so :math:`\sup|\phi^{(k)}| = \infty`
*honestly* (hinge: :math:`\phi'` jumps at 1, :math:`L_2 = \infty`); when :math:`\phi^{(k-1)}` is
continuous (the smoothed hinge is :math:`C^1`), :math:`\sup|\phi^{(k)}|` is the largest supremum
over the pieces, each taken on the closure of its interval.

**Branch and bound on a window.** On a bounded interval :math:`X` with midpoint :math:`m`,
:math:`f = \phi^{(k)}` is enclosed by interval arithmetic (``mpmath.libmp.libmpi``, :data:`PREC`
bits, outward rounding): the natural extension intersected with the mean-value form
:math:`f(m) + f'(X)(X - m)` and the second-order form
:math:`f(m) + f'(m)(X - m) + \tfrac12 f''(X)(X - m)^2` (the last keeps large cancelling terms,
``exp(-a h) * sigmoid(a h)``, exact at :math:`m`). The *inclusion property* -- the enclosure
contains :math:`f(x)` for **every** :math:`x \in X` -- is what makes the search complete: a box is
discarded only when the upper end of its enclosure of :math:`|f|` is below :math:`|f(x_0)|` at a
point already evaluated (or a limit already proved), so the supremum always lies in a surviving
box. A feature narrower than any grid spacing (DiscoPOP's :math:`\phi''` dips to -13.2 at
:math:`h \approx 0.0538` on a width of ~0.05, where critical-point solving reported the local
maximum 0.646 at :math:`h \approx 0.389`) lifts the enclosure of the box containing it, so that box
is split instead of being discarded: nothing can be missed, however narrow. Termination: the
largest surviving upper bound is within :data:`REL_TOL` of the best lower bound.

**Tails.** Beyond the window, :math:`h \ge R` (the left tail is :math:`h = -x`, :math:`x \ge R`),
every subexpression is enclosed by *asymptotic interval arithmetic*: a finite sum
:math:`\sum_j c_j\, s_j(x)` with coefficients :math:`c_j` (exact SymPy numbers where possible,
else intervals) and scales :math:`s(x) = e^{qx^2 + ax}x^m(\log x)^l`, valid for **every**
:math:`x \ge R`, not only in the limit. Sums are kept term by term (exact coefficients cancel
exactly); a smaller scale is absorbed into a larger one through the bound
:math:`0 < s_j/s_k \le (s_j/s_k)(R)`, proved by the interval sign of :math:`(\log s_j/s_k)'` on
:math:`[R, \infty]`. ``exp`` and ``log`` split off their growing part exactly; a bounded argument
:math:`c_0 + w` of :math:`\sigma`, :math:`\log\sigma`, ``tanh``, ``erf`` goes through Taylor's
theorem :math:`F(c_0) + F'(c_0)w + \tfrac12F''(\xi)w^2`; a growing one through identities valid
for all arguments, expanded to two exact terms (:math:`\sigma(u) = 1 - e^{-u} + e^{-2u}\sigma(u)
= e^{u} - e^{2u}\sigma(-u)`, :math:`\log\sigma(u) = u - \log(1 + e^{u})`, ...) and the
inequalities :math:`x - \tfrac{x^2}2 \le \log(1+x) \le x - \tfrac{x^2}2 + \tfrac{x^3}3`
(:math:`x \ge 0`) and
:math:`\tfrac{e^{-u^2}}{u\sqrt\pi}(1 - \tfrac1{2u^2}) \le \operatorname{erfc}u \le \tfrac{e^{-u^2}}{u\sqrt\pi}`.
The resulting form :math:`f = L + s_d(x)\,C` (with :math:`C` an interval) gives, on the whole
tail at once, the limit :math:`L`, a bound :math:`|f| \le |L| + s_d(R)|C|`, and, when :math:`C`
has the sign opposite to :math:`L`, the proof that :math:`|f| < |L|` there (the supremum is then
:math:`|L|`, approached at infinity: DPO's :math:`\sup|\phi'| = 1`). A dominant growing scale with
a coefficient that excludes 0 proves :math:`|f| \to \infty`. If the bound is not yet below the
window's best value, the window grows (:math:`R \to 4R`).

**Exact values.** A surviving cluster of boxes is resolved exactly when (a) it contains an exact
critical point :math:`x_0` (a small rational or a SymPy root of :math:`f'`) and
:math:`\operatorname{sign}f(x_0)\,f''` is negative on the cluster (so :math:`|f|` is concave there
with its maximum at :math:`x_0`), or (b) it touches an exact end point :math:`a` of the piece and
:math:`\operatorname{sign}f(a)\,f'` shows :math:`|f|` decreasing away from :math:`a`, or (c) it is
covered by a tail certificate with an exact limit. Otherwise the value is the upper end of the
enclosure rounded up to a 53-bit ``Float``.

**Roots.** :math:`h^\star` is found by a left-to-right interval search: a box whose enclosure of
:math:`\phi'` excludes 0 holds no root; the first box that cannot be excluded is narrowed until a
strict sign change at its ends proves a root (intermediate value theorem), with every box to its
left proved root-free; a tail whose asymptotic form has a nonzero sign is root-free. The root is
made exact when SymPy solves :math:`\phi' = 0` and the enclosure holds exactly one root
(:math:`\phi''` excludes 0 there).

**The temperature.** :math:`\beta` is a parameter of the problem, not of the loss, except where
it enters :math:`\phi` itself (IPO: :math:`\phi = (h - \tfrac12)^2/\beta^2`). There the constants
are certified for *every* :math:`\beta > 0` at once, through an exact factorisation
:math:`\phi'(h) = c(\beta)\,\psi'(h)` (SymPy ``separatevars``): :math:`\sup|\phi^{(k)}| =
|c(\beta)|\sup|\psi^{(k)}|` (IPO: :math:`L_2 = 2/\beta^2`), the same :math:`h^\star`, and
:math:`\operatorname{sign}\phi'(0) = \operatorname{sign}c(\beta)\operatorname{sign}\psi'(0)`.
A loss whose :math:`\beta`-dependence does not factor is not certified (:class:`CannotCertify`).

Trust base: SymPy's exact arithmetic, differentiation, ``solveset`` (for break points and exact
roots: the roots it returns are re-checked against the interval enclosure) and ``limit`` (for a
one-sided value at a break point where the piece's expression is undefined), and mpmath's
directed-rounding interval kernels (``erf`` end points are rounded outward and widened by a few
ulps; exotic exact constants such as ``CRootOf`` enter through SymPy's adaptive ``evalf`` at 60
digits, widened). Losses are real-analytic on each piece, so a derivative that is only proved
:math:`\ge 0` on a tail cannot vanish on an interval there.

Cost: every registered loss certifies in about a second per constant (DiscoPOP's :math:`L_2`:
~400 boxes); :class:`~prefdyn.theory.losses.Loss` caches each certificate.

Example
-------
>>> from prefdyn.theory.symbols import h
>>> from prefdyn.theory.functions import logsigmoid
>>> sup_abs_derivative(-logsigmoid(h), 2).value
1/4
>>> sup_abs_derivative(-logsigmoid(h), 1).where
-oo
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache, reduce
from typing import Any

import mpmath
import sympy as sp
from mpmath import libmp
from mpmath.libmp import libmpi

from .functions import Phi, logsigmoid, sigmoid, to_elementary
from .symbols import beta, h

#: working precision of the interval arithmetic, in bits (~31 decimal digits)
PREC = 104
#: a supremum's enclosure ``[lower, upper]`` is refined until ``upper - lower <= REL_TOL * lower``
REL_TOL = 1e-13
#: boxes one branch and bound may evaluate before it gives up
MAX_BOXES = 40_000
#: tail starts tried, in turn (the window is ``[-R, R]``, grown by 4x while the tails are loose)
TAIL_STARTS = (8, 32, 128, 512, 2048, 8192, 2**15, 2**17, 2**19)
#: exact SymPy attempts (``solveset``, ``simplify``, ``limit``) run only on expressions of at most
#: this many operations: a deterministic budget (the same answer on any machine under any load)
EXACT_MAX_OPS = 120
#: ``solveset`` is only tried on expressions this small (larger ones give no closed form in time)
_SOLVE_MAX_OPS = 25

Raw = tuple  # an mpmath raw mpf (sign, mantissa, exponent, bitcount)
Interval = tuple[Raw, Raw]

_F0, _F1, _INF, _NINF = libmp.fzero, libmp.fone, libmp.finf, libmp.fninf
_ZERO: Interval = (_F0, _F0)
_ONE: Interval = (_F1, _F1)
_TWO: Interval = (libmp.from_int(2), libmp.from_int(2))
_ENTIRE: Interval = (_NINF, _INF)


class CannotCertify(Exception):
    """A constant cannot be certified; the message (one line) names the step that failed."""


class _Undefined(Exception):
    """A subexpression is not real anywhere on the box (logarithm or root of a negative)."""


class _TailFail(Exception):
    """The asymptotic form of a tail could not be built at this tail start."""


@dataclass(frozen=True)
class Certificate:
    r"""A certified constant.

    ``value`` is what the theory uses: an exact SymPy number, a ``Float`` rounded outward (up for a
    supremum), ``oo``, or -- for a loss in which :math:`\beta` enters -- such a number times an exact
    factor in :math:`\beta` (``factor``). ``lower``/``upper`` enclose the :math:`\beta`-free part
    (``mpmath.mpf``; ``upper = inf`` for an unbounded supremum). ``where`` is the point where the
    supremum is attained (exact or a ``Float``), ``oo``/``-oo`` when it is approached at infinity, or
    the break point of a jump; ``proof`` says how, in one line.
    """

    value: sp.Expr
    lower: Any
    upper: Any
    exact: bool
    where: sp.Expr | None
    proof: str
    factor: sp.Expr = sp.S.One


# --------------------------------------------------------------------------------------------
# interval kernels (raw mpf pairs, outward rounding)
# --------------------------------------------------------------------------------------------


def _raw_int(n: int) -> Raw:
    return libmp.from_int(n)


def _add(a: Interval, b: Interval) -> Interval:
    return libmpi.mpi_add(a, b, PREC)


def _sub(a: Interval, b: Interval) -> Interval:
    return libmpi.mpi_sub(a, b, PREC)


def _neg(a: Interval) -> Interval:
    return libmpi.mpi_neg(a)


def _mul(a: Interval, b: Interval) -> Interval:
    if a == _ZERO or b == _ZERO:  # exactly zero times any real number (an infinite end is only a bound)
        return _ZERO
    return libmpi.mpi_mul(a, b, PREC)


def _div(a: Interval, b: Interval) -> Interval:
    if _has_zero(b):
        return _ENTIRE
    return libmpi.mpi_div(a, b, PREC)


def _exp(a: Interval) -> Interval:
    return libmpi.mpi_exp(a, PREC)


def _log(a: Interval) -> Interval:
    lo, hi = a
    if libmp.mpf_le(hi, _F0):
        raise _Undefined("logarithm of a nonpositive number")
    if libmp.mpf_le(lo, _F0):
        return (_NINF, libmpi.mpi_log((hi, hi), PREC)[1])
    return libmpi.mpi_log(a, PREC)


def _ipow(a: Interval, n: int) -> Interval:
    if n == 0:
        return _ONE
    if n < 0 and _has_zero(a):
        return _ENTIRE
    return libmpi.mpi_pow_int(a, n, PREC)


def _rpow(a: Interval, r: Fraction) -> Interval:
    """``a ** r`` for a non-integer rational ``r`` (SymPy's principal branch: real only for ``a >= 0``)."""
    lo, hi = a
    if libmp.mpf_lt(hi, _F0) or (libmp.mpf_le(hi, _F0) and r < 0):
        raise _Undefined("real root of a negative number")
    if libmp.mpf_lt(lo, _F0):
        return _ENTIRE  # part of the box is outside the domain: no bound
    rr = (
        libmp.from_rational(r.numerator, r.denominator, PREC, "f"),
        libmp.from_rational(r.numerator, r.denominator, PREC, "c"),
    )
    if libmp.mpf_eq(lo, _F0):
        top = _exp(_mul(rr, _log((hi, hi)))) if libmp.mpf_gt(hi, _F0) else _ZERO
        return (_F0, top[1]) if r > 0 else (top[0], _INF)
    return _exp(_mul(rr, _log(a)))


def _sigmoid(a: Interval) -> Interval:
    return _div(_ONE, _add(_ONE, _exp(_neg(a))))


def _logsigmoid(a: Interval) -> Interval:
    if libmp.mpf_gt(a[0], _raw_int(32)):
        # -log1p(u), u = e^{-x} < e^{-32}: u - u^2/2 <= log1p(u) <= u - u^2/2 + u^3/3 (keeps the
        # relative accuracy that 1 + u would lose)
        u = _exp(_neg(a))
        u2 = _div(_ipow(u, 2), _TWO)
        low = _sub((u[0], u[0]), (u2[1], u2[1]))
        high = _add(_sub((u[1], u[1]), (u2[0], u2[0])), _div(_ipow((u[1], u[1]), 3), (_raw_int(3),) * 2))
        return (libmp.mpf_neg(high[1]), libmp.mpf_neg(low[0]))
    return _neg(_log(_add(_ONE, _exp(_neg(a)))))


def _tanh(a: Interval) -> Interval:
    return _sub(_ONE, _div(_TWO, _add(_ONE, _exp(_mul(_TWO, a)))))


def _erf(a: Interval) -> Interval:
    lo, hi = a

    def at(x: Raw, rnd: str) -> Raw:
        if x == _INF:
            return _F1
        if x == _NINF:
            return libmp.mpf_neg(_F1)
        v = libmp.mpf_erf(x, PREC, rnd)
        slack = libmp.mpf_shift(_F1, -PREC + 6)  # mpmath rounds erf directionally; widen by a few ulps more
        return libmp.mpf_sub(v, slack, PREC, "f") if rnd == "f" else libmp.mpf_add(v, slack, PREC, "c")

    return (at(lo, "f"), at(hi, "c"))


def _sigmoid_prime(a: Interval) -> Interval:
    return _mul(_sigmoid(a), _sigmoid(_neg(a)))


def _erf_prime(a: Interval) -> Interval:
    return _mul(_div(_TWO, _sqrt_pi()), _exp(_neg(_ipow(a, 2))))


def _tanh_prime(a: Interval) -> Interval:
    return _sub(_ONE, _ipow(_tanh(a), 2))


@lru_cache(maxsize=1)
def _sqrt_pi() -> Interval:
    return libmpi.mpi_sqrt(libmpi.mpi_pi(PREC), PREC)


def _rmin(a: Raw, b: Raw) -> Raw:
    return a if libmp.mpf_le(a, b) else b


def _rmax(a: Raw, b: Raw) -> Raw:
    return a if libmp.mpf_ge(a, b) else b


def _has_zero(a: Interval) -> bool:
    return libmp.mpf_le(a[0], _F0) and libmp.mpf_ge(a[1], _F0)


def _sign(a: Interval) -> int | None:
    """+1/-1 when the interval excludes 0 (strictly), else ``None``."""
    if libmp.mpf_gt(a[0], _F0):
        return 1
    if libmp.mpf_lt(a[1], _F0):
        return -1
    return None


def _abs_hi(a: Interval) -> Raw:
    return _rmax(libmp.mpf_abs(a[0]), libmp.mpf_abs(a[1]))


def _abs_lo(a: Interval) -> Raw:
    if _has_zero(a):
        return _F0
    return _rmin(libmp.mpf_abs(a[0]), libmp.mpf_abs(a[1]))


def _hull(a: Interval, b: Interval) -> Interval:
    return (_rmin(a[0], b[0]), _rmax(a[1], b[1]))


def _intersect(a: Interval, b: Interval) -> Interval:
    lo, hi = _rmax(a[0], b[0]), _rmin(a[1], b[1])
    return (lo, hi) if libmp.mpf_le(lo, hi) else a


def _finite(a: Interval) -> bool:
    return a[0] not in (_NINF, _INF, libmp.fnan) and a[1] not in (_NINF, _INF, libmp.fnan)


def _mid(lo: Raw, hi: Raw) -> Raw:
    return libmp.mpf_shift(libmp.mpf_add(lo, hi, PREC + 8, "n"), -1)


def _fl(x: Raw) -> float:
    return libmp.to_float(x)


def _mpf(x: Raw) -> mpmath.mpf:
    return mpmath.mpf(x)


def _rational(x: Raw) -> sp.Rational:
    """The dyadic rational equal to a finite raw mpf."""
    p, q = libmp.to_rational(x)
    return sp.Rational(p, q)


def _float_out(x: Raw, up: bool) -> sp.Float:
    """A 53-bit SymPy ``Float`` >= ``x`` (``up``) or <= ``x``; ``x`` itself when it fits."""
    if x in (_INF, _NINF):
        return sp.oo if x == _INF else -sp.oo
    return sp.Float._new(libmp.mpf_pos(x, 53, "c" if up else "f"), 53)


def _float_near(x: Raw) -> sp.Float:
    return sp.Float._new(libmp.mpf_pos(x, 53, "n"), 53)


# --------------------------------------------------------------------------------------------
# SymPy expressions -> interval programs
# --------------------------------------------------------------------------------------------

_UNARY: dict[type, Callable[[Interval], Interval]] = {
    sp.exp: _exp,
    sp.log: _log,
    sigmoid: _sigmoid,
    logsigmoid: _logsigmoid,
    sp.tanh: _tanh,
    sp.erf: _erf,
    sp.Abs: lambda a: libmpi.mpi_abs(a),
}


def _leaf(x: sp.Expr) -> Interval:
    if x.is_Integer:
        r = _raw_int(int(x))
        return (r, r)
    if x.is_Rational:
        p, q = int(x.p), int(x.q)
        return (libmp.from_rational(p, q, PREC, "f"), libmp.from_rational(p, q, PREC, "c"))
    if x.is_Float:
        r = x._mpf_
        return (r, r)
    if x is sp.pi:
        return libmpi.mpi_pi(PREC)
    if x is sp.E:
        return _exp(_ONE)
    if x in (sp.oo, -sp.oo, sp.zoo, sp.nan) or x.has(sp.I):
        raise _Undefined(f"{x} is not a finite real number")
    if x.is_number and x.is_real:
        # exotic exact constants (CRootOf, EulerGamma, ...): SymPy's adaptive evalf, widened
        v = sp.Float(x.evalf(60), 60)._mpf_
        slack = libmp.mpf_add(libmp.mpf_shift(libmp.mpf_abs(v), -150), libmp.mpf_shift(_F1, -400), PREC)
        return (libmp.mpf_sub(v, slack, PREC, "f"), libmp.mpf_add(v, slack, PREC, "c"))
    raise CannotCertify(f"no interval rule for {x}")


def _operation(e: sp.Expr) -> Callable[[list[Interval]], Interval]:
    """The interval operation of the head of ``e``, applied to its arguments' enclosures."""
    if e.is_Add:
        return lambda v: reduce(_add, v)
    if e.is_Mul:
        return lambda v: reduce(_mul, v)
    if e.is_Pow:
        x = e.args[1]
        if x.is_Integer:
            n = int(x)
            return lambda v: _ipow(v[0], n)
        if x.is_Rational:
            r = Fraction(int(x.p), int(x.q))
            if r == Fraction(1, 2):
                return lambda v: _sqrt(v[0])
            return lambda v: _rpow(v[0], r)
        return lambda v: _exp(_mul(v[1], _log(v[0])))
    if isinstance(e, sp.Max):
        return lambda v: reduce(lambda a, b: (_rmax(a[0], b[0]), _rmax(a[1], b[1])), v)
    if isinstance(e, sp.Min):
        return lambda v: reduce(lambda a, b: (_rmin(a[0], b[0]), _rmin(a[1], b[1])), v)
    fn = _UNARY.get(type(e))
    if fn is not None and len(e.args) == 1:
        return lambda v: fn(v[0])
    raise CannotCertify(f"no interval rule for {type(e).__name__}")


def _sqrt(a: Interval) -> Interval:
    if libmp.mpf_lt(a[1], _F0):
        raise _Undefined("square root of a negative number")
    if libmp.mpf_lt(a[0], _F0):
        return _ENTIRE
    return libmpi.mpi_sqrt(a, PREC)


@lru_cache(maxsize=4096)
def _number(x: sp.Expr) -> Interval:
    """Enclosure of a constant SymPy expression."""
    if not x.args or x.is_Atom:
        return _leaf(x)
    if isinstance(x, (sp.Piecewise, sp.Heaviside, sp.DiracDelta)) or not x.is_number:
        return _leaf(x)
    try:
        op = _operation(x)
    except CannotCertify:
        return _leaf(x)
    return op([_number(a) for a in x.args])


class _Program:
    """Interval evaluation of several expressions in one variable, sharing subexpressions (CSE)."""

    def __init__(self, exprs: Sequence[sp.Expr], var: sp.Symbol = h) -> None:
        reps, reduced = sp.cse(list(exprs), symbols=(sp.Dummy() for _ in itertools.count()))
        self._var = var
        self._live = {var} | {s for s, _ in reps}
        self._steps = [(s, self._node(e)) for s, e in reps]
        self._outs = [self._node(e) for e in reduced]

    def __call__(self, x: Interval) -> list[Interval]:
        env: dict[sp.Symbol, Interval] = {self._var: x}
        for s, fn in self._steps:
            env[s] = fn(env)
        return [fn(env) for fn in self._outs]

    def _node(self, e: sp.Expr) -> Callable[[dict[sp.Symbol, Interval]], Interval]:
        if not (e.free_symbols & self._live):
            if e.free_symbols:
                raise CannotCertify(f"unbound symbol(s) {', '.join(sorted(map(str, e.free_symbols)))}")
            value = _number(e)
            return lambda env: value
        if e.is_Symbol:
            return lambda env: env[e]
        op = _operation(e)
        args = [self._node(a) for a in e.args]
        return lambda env: op([a(env) for a in args])


class _Taylor:
    r"""Enclosures of :math:`f` on a box :math:`X` with midpoint :math:`m`: the natural extension,
    the mean-value form :math:`f(m) + f'(X)(X - m)` and the second-order form
    :math:`f(m) + f'(m)(X - m) + \tfrac12 f''(X)(X - m)^2`, intersected. The second-order form
    keeps the cancellation between large terms (``exp(-a h) * sigmoid(a h)``) exact at the midpoint,
    so boxes need not shrink to the scale of the cancellation."""

    def __init__(self, f: sp.Expr) -> None:
        self.f = f
        self.fp = sp.diff(f, h)
        self._box = _Program([f, self.fp, sp.diff(self.fp, h)])
        self._point = _Program([f, self.fp])

    def point(self, x: Raw) -> tuple[Interval, Interval]:
        """``(f(x), f'(x))`` enclosures."""
        fx, fpx = self._point((x, x))
        return fx, fpx

    def box(self, lo: Raw, hi: Raw) -> tuple[Interval, Interval, Interval]:
        """``(enclosure of f on [lo, hi], f(m), enclosure of f' on [lo, hi])``."""
        m = _mid(lo, hi)
        fm, fpm = self.point(m)
        F, FP, FPP = self._box((lo, hi))
        d = _sub((lo, hi), (m, m))
        forms = [F, _add(fm, _mul(FP, d)), _add(_add(fm, _mul(fpm, d)), _mul(_div(FPP, _TWO), _ipow(d, 2)))]
        finite = [e for e in forms if _finite(e)]
        enc = reduce(_intersect, finite) if finite else _ENTIRE
        return enc, fm, FP


# --------------------------------------------------------------------------------------------
# asymptotic interval arithmetic on a tail x >= R
# --------------------------------------------------------------------------------------------

Scale = tuple[Fraction, Fraction, Fraction, Fraction]  # (q, a, m, l): exp(q x^2 + a x) x^m (log x)^l
_UNIT: Scale = (Fraction(0), Fraction(0), Fraction(0), Fraction(0))
_X1: Scale = (Fraction(0), Fraction(0), Fraction(1), Fraction(0))
_X2: Scale = (Fraction(0), Fraction(0), Fraction(2), Fraction(0))
_LOGX: Scale = (Fraction(0), Fraction(0), Fraction(0), Fraction(1))
_MAX_TERMS = 6
_MAX_EXACT_OPS = 40


@dataclass(frozen=True)
class _Term:
    iv: Interval
    exact: sp.Expr | None = None


def _term(exact: sp.Expr | None, iv: Interval | None = None) -> _Term:
    if iv is None:
        iv = _number(exact)
    if exact is not None and sp.count_ops(exact) > _MAX_EXACT_OPS:
        exact = None
    return _Term(iv, exact)


def _s_add(s: Scale, t: Scale) -> Scale:
    return (s[0] + t[0], s[1] + t[1], s[2] + t[2], s[3] + t[3])


def _s_mul(s: Scale, p: Fraction) -> Scale:
    return (s[0] * p, s[1] * p, s[2] * p, s[3] * p)


def _s_neg(s: Scale) -> Scale:
    return _s_mul(s, Fraction(-1))


def _frac(x: Fraction) -> Interval:
    return (
        libmp.from_rational(x.numerator, x.denominator, PREC, "f"),
        libmp.from_rational(x.numerator, x.denominator, PREC, "c"),
    )


Asym = dict  # Scale -> _Term; f(x) in sum_j s_j(x) * iv_j for every x >= R


class _Tail:
    r"""Asymptotic enclosures of expressions in ``var`` on :math:`[R, \infty)`."""

    def __init__(self, R: int, var: sp.Symbol) -> None:
        if R < 3:
            raise ValueError("tails start at R >= 3 (log x > 1)")
        self.R = R
        self.var = var
        r = _raw_int(R)
        self._R = (r, r)
        self._X = (r, _INF)
        self._memo: dict[sp.Expr, Asym] = {}
        self._bounds: dict[Scale, Interval] = {}

    # ---- scales ----------------------------------------------------------------------------

    def _at_R(self, s: Scale) -> Interval:
        q, a, m, l = (_frac(c) for c in s)
        R = self._R
        value = _exp(_add(_mul(q, _ipow(R, 2)), _mul(a, R)))
        value = _mul(value, _exp(_mul(m, _log(R))))
        if s[3]:
            value = _mul(value, _exp(_mul(l, _log(_log(R)))))
        return value

    def _log_slope(self, s: Scale) -> Interval:
        """Enclosure of :math:`(\\log s)'(x) = 2qx + a + m/x + l/(x\\log x)` over :math:`[R, \\infty]`."""
        q, a, m, l = (_frac(c) for c in s)
        X = self._X
        inv = (_F0, _div(_ONE, self._R)[1])
        inv_log = (_F0, _div(_ONE, _mul(self._R, _log(self._R)))[1])
        return _add(_add(_mul(_mul(_TWO, q), X), a), _add(_mul(m, inv), _mul(l, inv_log)))

    def bound(self, s: Scale) -> Interval:
        """The range of :math:`s(x)` over :math:`x \\ge R`: ``(0, s(R)]`` for a decaying scale
        (after proving it decreasing), ``[1, 1]`` for the unit, ``[s(R), inf)`` for a growing one."""
        if s in self._bounds:
            return self._bounds[s]
        if s == _UNIT:
            result = _ONE
        elif s < _UNIT:
            if libmp.mpf_gt(self._log_slope(s)[1], _F0):
                raise _TailFail(f"scale {s} not decreasing beyond {self.R}")
            result = (_F0, self._at_R(s)[1])
        else:
            if libmp.mpf_lt(self._log_slope(s)[0], _F0):
                raise _TailFail(f"scale {s} not increasing beyond {self.R}")
            result = (self._at_R(s)[0], _INF)
        self._bounds[s] = result
        return result

    # ---- sums of scaled terms ----------------------------------------------------------------

    @staticmethod
    def _put(out: Asym, s: Scale, t: _Term) -> None:
        old = out.get(s)
        if old is not None:
            if old.exact is not None and t.exact is not None:
                t = _term(old.exact + t.exact)
            else:
                t = _Term(_add(old.iv, t.iv))
        if (t.exact is not None and t.exact.is_zero) or (t.exact is None and t.iv == _ZERO):
            out.pop(s, None)
        else:
            out[s] = t

    def add(self, *parts: Asym) -> Asym:
        out: Asym = {}
        for part in parts:
            for s, t in part.items():
                self._put(out, s, t)
        return out

    def times(self, A: Asym, c: Interval, exact: sp.Expr | None = None, shift: Scale = _UNIT) -> Asym:
        """``A * c * s_shift`` (``c`` an interval, ``exact`` its exact value when known)."""
        out: Asym = {}
        if c == _ZERO:
            return out
        for s, t in A.items():
            ex = t.exact * exact if t.exact is not None and exact is not None else None
            self._put(out, _s_add(s, shift), _term(ex, _mul(t.iv, c) if ex is None else None))
        return out

    def mul(self, A: Asym, B: Asym) -> Asym:
        out: Asym = {}
        for (s, t), (u, v) in itertools.product(A.items(), B.items()):
            ex = t.exact * v.exact if t.exact is not None and v.exact is not None else None
            self._put(out, _s_add(s, u), _term(ex, _mul(t.iv, v.iv) if ex is None else None))
        return self._trim(out)

    def _trim(self, A: Asym) -> Asym:
        if len(A) <= _MAX_TERMS:
            return A
        scales = sorted(A, reverse=True)
        keep, last = scales[: _MAX_TERMS - 1], scales[_MAX_TERMS - 2]
        out = {s: A[s] for s in keep}
        iv = A[last].iv
        for s in scales[_MAX_TERMS - 1 :]:
            iv = _add(iv, _mul(A[s].iv, self.bound(_s_add(s, _s_neg(last)))))
        out[last] = _Term(iv)
        return out

    def collapse(self, A: Asym) -> tuple[Scale, Interval]:
        """``(D, C)`` with :math:`f(x) \\in s_D(x)\\,C` for every :math:`x \\ge R` (``D`` the largest scale)."""
        D = max(A)
        C = A[D].iv
        for s, t in A.items():
            if s != D:
                C = _add(C, _mul(t.iv, self.bound(_s_add(s, _s_neg(D)))))
        return D, C

    def enclosure(self, A: Asym) -> Interval:
        """Enclosure of :math:`f(x)` over :math:`x \\ge R`."""
        out = _ZERO
        for s, t in A.items():
            out = _add(out, _mul(t.iv, self.bound(s)))
        return out

    def relative(self, A: Asym) -> tuple[Scale, _Term, Asym, Interval]:
        """``A = c_D s_D (1 + eps)``: ``(D, c_D, eps, E)`` with ``E`` enclosing ``eps`` on the tail."""
        D = max(A)
        cD = A[D]
        if _sign(cD.iv) is None:
            raise _TailFail("leading coefficient not separated from 0")
        eps: Asym = {}
        for s, t in A.items():
            if s != D:
                ex = t.exact / cD.exact if t.exact is not None and cD.exact is not None else None
                self._put(eps, _s_add(s, _s_neg(D)), _term(ex, _div(t.iv, cD.iv) if ex is None else None))
        return D, cD, eps, self.enclosure(eps)

    # ---- expressions -------------------------------------------------------------------------

    def of(self, e: sp.Expr) -> Asym:
        if e in self._memo:
            return self._memo[e]
        result = self._of(e)
        self._memo[e] = result
        return result

    def _of(self, e: sp.Expr) -> Asym:
        x = self.var
        if x not in e.free_symbols:
            if e.free_symbols:
                raise CannotCertify(f"unbound symbol(s) {', '.join(sorted(map(str, e.free_symbols)))}")
            return {} if e == 0 else {_UNIT: _term(e)}
        if e == x:
            return {_X1: _term(sp.Integer(1))}
        if e.is_Add:
            return self.add(*(self.of(a) for a in e.args))
        if e.is_Mul:
            return reduce(self.mul, (self.of(a) for a in e.args))
        if e.is_Pow:
            b, n = e.args
            if x in n.free_symbols:
                return self.exp(self.mul(self.of(n), self.log(self.of(b))))
            if n.is_Integer:
                k = int(n)
                base = self.of(b) if k > 0 else self.power(self.of(b), Fraction(-1))
                return self._ipow(base, abs(k))
            if n.is_Rational:
                return self.power(self.of(b), Fraction(int(n.p), int(n.q)))
            raise _TailFail(f"irrational power {n}")
        if isinstance(e, sp.exp):
            return self.exp(self.of(e.args[0]))
        if isinstance(e, sp.log):
            return self.log(self.of(e.args[0]))
        if isinstance(e, (sigmoid, logsigmoid, sp.tanh, sp.erf)):
            return self.special(type(e), self.of(e.args[0]))
        raise _TailFail(f"no asymptotic rule for {type(e).__name__}")

    def _ipow(self, A: Asym, k: int) -> Asym:
        if k == 0:
            return {_UNIT: _term(sp.Integer(1))}
        if k > 8:
            return self.power(A, Fraction(k))
        out = A
        for _ in range(k - 1):
            out = self.mul(out, A)
        return out

    def power(self, A: Asym, p: Fraction) -> Asym:
        r"""``A ** p``: :math:`(c s(1+\epsilon))^p = c^p s^p (1 + \epsilon\,p(1+\xi)^{p-1})`."""
        if not A:
            if p > 0:
                return {}
            raise _TailFail("power of zero")
        D, cD, eps, E = self.relative(A)
        integer = p.denominator == 1
        if not integer and _sign(cD.iv) != 1:
            raise _TailFail("non-integer power of a negative leading term")
        one_plus = _add(_ONE, _hull(_ZERO, E))
        if libmp.mpf_le(one_plus[0], _F0):
            raise _TailFail("relative correction too large for a power")
        pp = sp.Rational(p.numerator, p.denominator)
        c_exact = cD.exact**pp if cD.exact is not None else None
        c_iv = _ipow(cD.iv, int(p)) if integer else _rpow(cD.iv, p)
        main = {_s_mul(D, p): _term(c_exact, c_iv if c_exact is None else None)}
        if not eps:
            return main
        K = _mul(_frac(p), _ipow(one_plus, int(p) - 1) if integer else _rpow(one_plus, p - 1))
        return self.add(main, self.times(eps, _mul(c_iv, K), shift=_s_mul(D, p)))

    def exp(self, A: Asym) -> Asym:
        r""":math:`e^{G + c_0 + w} = e^{G} e^{c_0}(1 + w\,e^{\xi})`, :math:`G` the growing part
        (exact multiples of :math:`x^2`, :math:`x`, :math:`\log x`), :math:`w \to 0`."""
        shift = [Fraction(0)] * 4
        slot = {_X2: 0, _X1: 1, _LOGX: 2}
        for s, t in A.items():
            if s > _UNIT:
                if s not in slot:
                    raise _TailFail("exponent grows faster than x^2")
                if t.exact is None or not t.exact.is_Rational:
                    raise _TailFail("inexact growth rate in an exponent")
                shift[slot[s]] = Fraction(int(t.exact.p), int(t.exact.q))
        c0 = A.get(_UNIT)
        w = {s: t for s, t in A.items() if s < _UNIT}
        base = (
            _term(sp.exp(c0.exact))
            if c0 is not None and c0.exact is not None
            else (_Term(_exp(c0.iv)) if c0 is not None else _term(sp.Integer(1)))
        )
        out: Asym = {_UNIT: base}
        if w:
            W = self.enclosure(w)
            out = self.add(out, self.times(w, _mul(base.iv, _exp(_hull(_ZERO, W)))))
        return self.times(out, _ONE, sp.Integer(1), shift=tuple(shift))  # type: ignore[arg-type]

    def log(self, A: Asym) -> Asym:
        r""":math:`\log(c s (1+\epsilon)) = \log c + qx^2 + ax + m\log x + \epsilon/(1+\xi)`."""
        if not A:
            raise _TailFail("logarithm of zero")
        D, cD, eps, E = self.relative(A)
        if _sign(cD.iv) != 1:
            raise _TailFail("logarithm of a negative leading term")
        if D[3]:
            raise _TailFail("log log x scale")
        out: Asym = {}
        const = _term(sp.log(cD.exact)) if cD.exact is not None else _Term(_log(cD.iv))
        self._put(out, _UNIT, const)
        for slot, c in ((_X2, D[0]), (_X1, D[1]), (_LOGX, D[2])):
            if c:
                self._put(out, slot, _term(sp.Rational(c.numerator, c.denominator)))
        if eps:
            one_plus = _add(_ONE, _hull(_ZERO, E))
            if libmp.mpf_le(one_plus[0], _F0):
                raise _TailFail("relative correction too large for a logarithm")
            out = self.add(out, self.times(eps, _div(_ONE, one_plus)))
        return out

    def special(self, kind: type, A: Asym) -> Asym:
        r"""sigmoid, logsigmoid, tanh, erf of an asymptotic sum. A bounded argument
        :math:`c_0 + w` (:math:`w \to 0`) by Taylor's theorem,
        :math:`F(c_0) + F'(c_0)\,w + \tfrac12 F''(\xi)\,w^2` (exact leading terms when :math:`c_0` is);
        a growing one by the identities of :meth:`_special_growing`."""
        if A and max(A) > _UNIT:
            return self._special_growing(kind, A)
        c0 = A.get(_UNIT)
        w = {s: t for s, t in A.items() if s < _UNIT}
        c0_iv = c0.iv if c0 is not None else _ZERO
        c0_exact = c0.exact if c0 is not None else sp.Integer(0)
        d1, d2 = _derivatives(kind)
        if c0_exact is not None:
            base, slope = _term(kind(c0_exact)), _term(d1[0].subs(d1[1], c0_exact))
        else:
            base = _Term(_Program([kind(d1[1])], d1[1])(c0_iv)[0])
            slope = _Term(_Program([d1[0]], d1[1])(c0_iv)[0])
        out: Asym = {}
        self._put(out, _UNIT, base)
        if w:
            xi = _add(c0_iv, _hull(_ZERO, self.enclosure(w)))
            curvature = _div(d2(xi), _TWO)
            out = self.add(out, self.times(w, slope.iv, slope.exact), self.times(self.mul(w, w), curvature))
        return out

    def _special_growing(self, kind: type, A: Asym) -> Asym:
        r"""Identities valid for every real :math:`u`, expanded to two terms so that the leading
        coefficients stay exact: :math:`\sigma(u) = 1 - e^{-u} + e^{-2u}\sigma(u)
        = e^{u} - e^{2u}\sigma(-u)`, :math:`\log\sigma(u) = -\log(1+e^{-u}) = u - \log(1+e^{u})` with
        :math:`x - x^2/2 \le \log(1+x) \le x - x^2/2 + x^3/3`, :math:`\tanh u = 1 - 2\sigma(-2u)
        = -1 + 2\sigma(2u)`, :math:`\operatorname{erf}u = 1 - \operatorname{erfc}u` with
        :math:`\tfrac{e^{-u^2}}{u\sqrt\pi}(1 - \tfrac1{2u^2}) \le \operatorname{erfc}u \le
        \tfrac{e^{-u^2}}{u\sqrt\pi}` (:math:`u > 1`)."""
        _, C = self.collapse(A)
        direction = _sign(C)
        if direction is None:
            raise _TailFail("argument with undetermined growth")
        U = self.enclosure(A)
        lo, hi = (U[0], U[0]), (U[1], U[1])

        def const(c: int) -> Asym:
            return {_UNIT: _term(sp.Integer(c))}

        def e(k: int) -> Asym:  # exp(k u), exactly scaled
            return self.exp(self.times(A, (_raw_int(k), _raw_int(k)), sp.Integer(k)))

        def scaled(B: Asym, c: int) -> Asym:
            return self.times(B, (_raw_int(c), _raw_int(c)), sp.Integer(c))

        if kind is sigmoid:
            if direction > 0:  # 1 - e^{-u} + e^{-2u} sigma(u)
                return self.add(const(1), scaled(e(-1), -1), self.times(e(-2), (_sigmoid(lo)[0], _F1)))
            return self.add(e(1), self.times(e(2), _neg((_sigmoid(_neg(hi))[0], _F1))))  # e^u - e^{2u} sigma(-u)
        if kind is logsigmoid:
            cubic = (_F0, _div(_ONE, (_raw_int(3), _raw_int(3)))[1])
            half = (libmp.mpf_shift(_F1, -1),) * 2
            if direction > 0:  # -log1p(e^{-u})
                return self.add(
                    scaled(e(-1), -1), self.times(e(-2), half, sp.Rational(1, 2)), self.times(e(-3), _neg(cubic))
                )
            return self.add(
                A, scaled(e(1), -1), self.times(e(2), half, sp.Rational(1, 2)), self.times(e(3), _neg(cubic))
            )  # u - log1p(e^u)
        if kind is sp.tanh:
            if direction > 0:  # 1 - 2 e^{-2u} + 2 e^{-4u} sigma(2u)
                s = _sigmoid(_mul(_TWO, lo))[0]
                return self.add(const(1), scaled(e(-2), -2), self.times(e(-4), _mul(_TWO, (s, _F1))))
            s = _sigmoid(_neg(_mul(_TWO, hi)))[0]  # -1 + 2 e^{2u} - 2 e^{4u} sigma(-2u)
            return self.add(const(-1), scaled(e(2), 2), self.times(e(4), _neg(_mul(_TWO, (s, _F1)))))
        if kind is sp.erf:
            v = A if direction > 0 else scaled(A, -1)
            V = U if direction > 0 else _neg(U)
            if libmp.mpf_le(V[0], _F1):
                raise _TailFail("erf argument not yet beyond 1")
            lower = _sub(_ONE, _div(_ONE, _mul(_TWO, _ipow((V[0], V[0]), 2))))
            k = _div((lower[0], _F1), _sqrt_pi())
            erfc = self.times(self.mul(self.exp(scaled(self.mul(v, v), -1)), self.power(v, Fraction(-1))), k)
            return self.add(const(direction), scaled(erfc, -direction))
        raise _TailFail(f"no asymptotic rule for {kind.__name__}")

    # ---- what the certificates need ------------------------------------------------------------

    def sign(self, A: Asym) -> int | None:
        """The sign of :math:`f` on the whole tail (0 if identically zero), or ``None``."""
        if not A:
            return 0
        return _sign(self.collapse(A)[1])


@lru_cache(maxsize=8)
def _derivatives(kind: type) -> tuple[tuple[sp.Expr, sp.Symbol], Callable[[Interval], Interval]]:
    """``((F'(t), t), F'' as an interval function)`` of a special function."""
    t = sp.Dummy("t", real=True)
    second = _Program([sp.diff(kind(t), t, 2)], t)
    return (sp.diff(kind(t), t), t), lambda x: second(x)[0]


@dataclass
class _TailSup:
    side: int  # +1: h >= R, -1: h <= -R
    R: int
    ub: Raw  # sup |f| over the tail <= ub
    limit: _Term | None  # f -> limit
    below: bool  # |f| <= |limit| on the whole tail (so the tail's sup is |limit|, approached)
    unbounded: bool = False


def _tail_expr(f: sp.Expr, side: int) -> tuple[sp.Expr, sp.Symbol]:
    x = sp.Dummy("x", positive=True)
    return f.subs(h, x if side > 0 else -x), x


def _tail_sup(f: sp.Expr, side: int, R: int) -> _TailSup:
    expr, x = _tail_expr(f, side)
    tail = _Tail(R, x)
    A = tail.of(expr)
    if not A:
        return _TailSup(side, R, _F0, _term(sp.Integer(0)), True)
    D, C = tail.collapse(A)
    if D > _UNIT:
        if _sign(C) is None:
            raise _TailFail("growing term with a coefficient that may vanish")
        return _TailSup(side, R, _INF, None, False, unbounded=True)
    L = A.get(_UNIT, _term(sp.Integer(0)))
    rest = {s: t for s, t in A.items() if s < _UNIT}
    if not rest:
        return _TailSup(side, R, _abs_hi(L.iv), L, True)
    _, C2 = tail.collapse(rest)
    corr = _mul(C2, tail.bound(max(rest)))
    ub = _abs_hi(_add(L.iv, corr))
    sL, sC = _sign(L.iv), _sign(C2)
    below = (
        sL is not None and sC == -sL and libmp.mpf_le(_abs_hi(corr), libmp.mpf_mul(_TWO[0], _abs_lo(L.iv), PREC, "f"))
    )
    return _TailSup(side, R, ub, L, below)


def _tail_sign(f: sp.Expr, side: int, R: int) -> int | None:
    expr, x = _tail_expr(f, side)
    tail = _Tail(R, x)
    return tail.sign(tail.of(expr))


# --------------------------------------------------------------------------------------------
# exact SymPy helpers (operation-count budget, no clock)
# --------------------------------------------------------------------------------------------


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)``, or ``None`` when it fails or its first argument exceeds
    :data:`EXACT_MAX_OPS` operations (then the interval enclosure stands alone)."""
    if isinstance(args[0], sp.Basic) and sp.count_ops(args[0]) > EXACT_MAX_OPS:
        return None
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, ValueError, TypeError, AttributeError, RecursionError):
        return None


def _exact_sign(v: sp.Expr, what: str) -> int:
    """The sign of a constant, proved by an enclosure that excludes 0 or by exact zero."""
    if v.is_zero:
        return 0
    try:
        s = _sign(_number(v))
    except _Undefined as err:
        raise CannotCertify(f"{what} is not a finite real number ({err})") from None
    if s is not None:
        return s
    simple = _timed(sp.simplify, v)
    if simple is not None and simple.is_zero:
        return 0
    if _timed(v.equals, 0) is True:
        return 0
    raise CannotCertify(f"cannot decide the sign of {what} = {v}")


def _equal(a: sp.Expr, b: sp.Expr, what: str) -> bool:
    return _exact_sign(a - b, what) == 0


def _one_sided(expr: sp.Expr, b: sp.Expr, direction: str) -> sp.Expr:
    value = expr.subs(h, b)
    if value.is_number and value.is_finite and value.is_real is not False and not value.has(sp.nan, sp.zoo):
        return value
    limit = _timed(sp.limit, to_elementary(expr), h, b, direction)
    if limit is None or limit.has(sp.AccumBounds) or not limit.is_number:
        raise CannotCertify(f"cannot take the one-sided limit at h = {b}")
    return limit


def _candidate_points(lo: Raw, hi: Raw) -> list[sp.Rational]:
    """Small rationals in ``[lo, hi]`` (denominators up to 12): exact critical-point candidates."""
    flo, fhi = _fl(lo), _fl(hi)
    out = []
    for q in range(1, 13):
        for p in range(math.ceil(flo * q), math.floor(fhi * q) + 1):
            r = sp.Rational(p, q)
            if r not in out:
                out.append(r)
            if len(out) > 8:
                return out
    return out


def _exact_roots_in(g: sp.Expr, lo: Raw, hi: Raw) -> list[sp.Expr]:
    """Exact roots of ``g`` in ``[lo, hi]``: small rationals that are roots, else ``solveset``."""
    roots = []
    for r in _candidate_points(lo, hi):
        v = g.subs(h, r)
        if v.is_zero or (v.is_number and getattr(_timed(sp.simplify, v), "is_zero", False)):
            roots.append(r)
    if roots or sp.count_ops(g) > _SOLVE_MAX_OPS:
        return roots
    domain = sp.Interval(_rational(lo), _rational(hi))
    if g.is_polynomial(h):
        found = [r for r in sp.Poly(g, h).real_roots() if r in domain]
        return found
    elementary = to_elementary(g)
    if not _one_exponential(elementary):
        return []  # mixed polynomial/transcendental: solveset may not terminate; the enclosure stands
    solutions = _timed(sp.solveset, elementary, h, domain)
    if isinstance(solutions, sp.FiniteSet):
        return [r for r in solutions if r.is_real]
    return []


def _one_exponential(g: sp.Expr) -> bool:
    """``True`` when ``g`` depends on :math:`h` only through powers of one :math:`e^{ch}` (every
    exponent a rational multiple of one :math:`ch`): then :math:`g = 0` is an equation in
    :math:`u = e^{ch}` alone, which ``solveset`` finishes. Equations that mix :math:`h` itself with
    transcendental functions are left to the interval enclosure (``solveset`` need not terminate
    on them)."""
    arguments = [e.args[0] for e in g.atoms(sp.exp) if e.has(h)]
    if not arguments or (arguments[0] / h).has(h):
        return False
    ratios = [sp.simplify(a / arguments[0]) for a in arguments]
    if not all(r.is_Rational for r in ratios):
        return False
    u = sp.Dummy("u", positive=True)
    return not g.xreplace({sp.exp(a): u**r for a, r in zip(arguments, ratios)}).has(h)


# --------------------------------------------------------------------------------------------
# pieces
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    lo: sp.Expr  # exact real number or -oo
    hi: sp.Expr  # exact real number or oo
    expr: sp.Expr


_NONSMOOTH = (sp.Piecewise, sp.Max, sp.Min, sp.Abs, sp.Heaviside, sp.sign)


def _prepare(expr: sp.Expr) -> sp.Expr:
    return expr.replace(Phi, Phi.erf_form)


def _break_points(g: sp.Expr) -> list[sp.Expr]:
    if h not in g.free_symbols:
        return []
    g = to_elementary(g)
    points: list[sp.Expr] = []
    numerator, denominator = sp.fraction(sp.together(g))
    for part in (numerator, denominator):
        if h not in part.free_symbols:
            continue
        if part.is_polynomial(h):
            points += list(sp.Poly(part, h).real_roots())
            continue
        solutions = _timed(sp.solveset, part, h, sp.S.Reals)
        if not isinstance(solutions, sp.FiniteSet):
            raise CannotCertify(f"cannot solve the break condition {g} = 0 exactly")
        points += [s for s in solutions if s.is_real]
    return points


def pieces(phi: sp.Expr) -> list[_Piece]:
    """Cut :math:`\\mathbb R` at the exact real roots of the conditions of ``phi`` (``Max``,
    ``Min``, ``Abs``, ``Heaviside`` rewritten into one ``Piecewise``): one analytic expression per
    open interval, adjacent equal expressions merged."""
    phi = _prepare(phi)
    if phi.has(sp.DiracDelta):
        raise CannotCertify("DiracDelta in the loss")
    if not phi.has(*_NONSMOOTH):
        return [_Piece(-sp.oo, sp.oo, phi)]
    folded = sp.piecewise_fold(phi.rewrite(sp.Piecewise))
    if folded.has(sp.Max, sp.Min, sp.Abs, sp.Heaviside, sp.sign):
        raise CannotCertify("cannot rewrite Max/Min/Abs/Heaviside into Piecewise")
    if not isinstance(folded, sp.Piecewise):
        if folded.has(sp.Piecewise):
            raise CannotCertify("nested Piecewise that does not fold")
        return [_Piece(-sp.oo, sp.oo, folded)]
    relations = set()
    for _, cond in folded.args:
        relations |= cond.atoms(sp.core.relational.Relational)
    points: list[sp.Expr] = []
    for rel in relations:
        points += _break_points(rel.lhs - rel.rhs)
    ordered: list[tuple[Interval, sp.Expr]] = []
    for p in sorted(points, key=lambda p: _fl(_mid(*_number(p)))):
        iv = _number(p)
        if ordered and not libmp.mpf_lt(ordered[-1][0][1], iv[0]):
            if _equal(ordered[-1][1], p, "two break points"):
                continue
            raise CannotCertify("break points too close to order")
        ordered.append((iv, p))
    edges: list[tuple[Interval | None, sp.Expr]] = [(None, -sp.oo), *ordered, (None, sp.oo)]
    result: list[_Piece] = []
    for (liv, lo), (riv, hi) in itertools.pairwise(edges):
        if liv is None and riv is None:
            q = sp.Integer(0)
        elif liv is None:
            q = sp.floor(_rational(riv[0])) - 1  # type: ignore[index]
        elif riv is None:
            q = sp.ceiling(_rational(liv[1])) + 1
        else:
            q = _rational(_mid(liv[1], riv[0]))
        expr = None
        for e, cond in folded.args:
            truth = cond.subs(h, q)
            if truth not in (sp.true, sp.false):
                raise CannotCertify(f"cannot evaluate the condition {cond} at h = {q}")
            if truth == sp.true:
                expr = e
                break
        if expr is None:
            raise CannotCertify(f"the loss is undefined near h = {q} (no Piecewise condition holds)")
        if expr.has(sp.Piecewise):
            raise CannotCertify("nested Piecewise that does not fold")
        if result and result[-1].expr == expr:
            result[-1] = _Piece(result[-1].lo, hi, expr)
        else:
            result.append(_Piece(lo, hi, expr))
    return result


# --------------------------------------------------------------------------------------------
# supremum of |f| on one piece
# --------------------------------------------------------------------------------------------


@dataclass
class _PieceSup:
    lower: Raw
    upper: Raw
    exact: sp.Expr | None
    where: sp.Expr | None
    proof: str


class _Search:
    """Branch and bound for :math:`\\sup|f|` on a piece ``(a, b)`` (ends may be infinite)."""

    def __init__(self, f: sp.Expr, a: sp.Expr, b: sp.Expr) -> None:
        self.f, self.a, self.b = f, a, b
        self.taylor = _Taylor(f)
        self.fp = self.taylor.fp
        self.both = _Program([f, self.fp])
        self.value = _Program([f])
        self.heap: list[tuple[float, int, str, Any]] = []
        self.count = itertools.count()
        self.lo: Raw = _F0
        self.lo_where: sp.Expr | None = None
        self.boxes = 0

    # -- evaluation
    def point(self, x: Raw) -> Interval:
        try:
            return self.value((x, x))[0]
        except _Undefined as err:
            raise CannotCertify(f"not real at h = {_fl(x):.6g} ({err})") from None

    def box(self, lo: Raw, hi: Raw) -> tuple[Interval, Raw]:
        self.boxes += 1
        if self.boxes > MAX_BOXES:
            raise CannotCertify(f"branch and bound did not converge in {MAX_BOXES} boxes")
        m = _mid(lo, hi)
        try:
            enc, fm, _ = self.taylor.box(lo, hi)
        except _Undefined as err:
            raise CannotCertify(f"not real on [{_fl(lo):.6g}, {_fl(hi):.6g}] ({err})") from None
        self.offer(_abs_lo(fm), m)
        return enc, _abs_hi(enc)

    def offer(self, value: Raw, where_raw: Raw | None = None, where: sp.Expr | None = None) -> None:
        if libmp.mpf_gt(value, self.lo):
            self.lo = value
            self.lo_where = where if where is not None else (_float_near(where_raw) if where_raw else None)

    def push_box(self, lo: Raw, hi: Raw) -> None:
        _, ub = self.box(lo, hi)
        heapq.heappush(self.heap, (-_fl(ub), next(self.count), "box", (lo, hi, ub)))

    def push_tail(self, tail: _TailSup) -> None:
        if tail.limit is not None:
            self.offer(_abs_lo(tail.limit.iv), where=sp.oo * tail.side)
        heapq.heappush(self.heap, (-_fl(tail.ub), next(self.count), "tail", tail))

    def threshold(self) -> Raw:
        return libmp.mpf_add(self.lo, libmp.mpf_mul(self.lo, libmp.from_float(REL_TOL), PREC, "f"), PREC, "f")

    # -- tails
    def make_tail(self, side: int, start: int) -> _TailSup:
        reason = "no tail start left"
        for R in TAIL_STARTS:
            if R < start:
                continue
            try:
                return _tail_sup(self.f, side, R)
            except _TailFail as err:
                reason = str(err)
            except _Undefined as err:
                raise CannotCertify(f"not real as h -> {'+' if side > 0 else '-'}oo ({err})") from None
        raise CannotCertify(f"cannot bound the tail at {'+' if side > 0 else '-'}oo ({reason})")

    def seed(self, lo: Raw, hi: Raw) -> None:
        """Non-rigorous float scan to find good points; their values are then evaluated rigorously."""
        try:
            fn = sp.lambdify(h, to_elementary(self.f), "math")
        except Exception:  # noqa: BLE001 - the scan is only a hint
            return
        a, b = _fl(lo), _fl(hi)
        grid = [a + (b - a) * k / 2000 for k in range(2001)]
        grid += [t / 1000 for t in range(-2000, 2001) if a < t / 1000 < b]
        scored = []
        for x in grid:
            try:
                scored.append((abs(float(fn(x))), x))
            except (ArithmeticError, ValueError, TypeError):
                continue
        for _, x in sorted(scored, reverse=True)[:5]:
            self.offer(_abs_lo(self.point(libmp.from_float(x))), libmp.from_float(x))

    # -- the search
    def run(self) -> _PieceSup:
        a, b = self.a, self.b
        start_right = max(8, math.ceil(_fl(_number(a)[1])) + 8) if a != -sp.oo else 8
        start_left = max(8, math.ceil(-_fl(_number(b)[0])) + 8) if b != sp.oo else 8
        tails: list[_TailSup] = []
        if a == -sp.oo:
            tails.append(self.make_tail(-1, start_left))
        if b == sp.oo:
            tails.append(self.make_tail(+1, start_right))
        for t in tails:
            if t.unbounded:
                return _PieceSup(_INF, _INF, sp.oo, sp.oo * t.side, f"|f| -> oo as h -> {'+' if t.side > 0 else '-'}oo")
        left = _raw_int(-next(t.R for t in tails if t.side < 0)) if a == -sp.oo else _number(a)[0]
        right = _raw_int(next(t.R for t in tails if t.side > 0)) if b == sp.oo else _number(b)[1]
        for end, raw in ((a, left), (b, right)):
            if end.is_finite:
                ev = _one_sided(self.f, end, "+" if end == a else "-")
                if not ev.is_finite:
                    return _PieceSup(_INF, _INF, sp.oo, end, f"|f| -> oo at h = {end}")
                self.offer(_abs_lo(_number(ev)), where=end)
        self.seed(left, right)
        for t in tails:
            self.push_tail(t)
        self.push_box(left, right)
        while True:
            _, _, kind, item = self.heap[0]
            top = item.ub if kind == "tail" else item[2]
            if libmp.mpf_le(top, self.threshold()):
                break
            if kind == "tail" and item.below:
                break  # its bound is |limit|, itself a lower bound: nothing left to refine
            heapq.heappop(self.heap)
            if kind == "tail":
                bigger = next((R for R in TAIL_STARTS if R > item.R), None)
                if bigger is None:
                    raise CannotCertify("the tail bound does not settle below the window's supremum")
                new = self.make_tail(item.side, bigger)
                if new.unbounded:
                    return _PieceSup(_INF, _INF, sp.oo, sp.oo * new.side, "|f| -> oo at infinity")
                lo_h, hi_h = (item.R, new.R) if item.side > 0 else (-new.R, -item.R)
                self.push_box(_raw_int(lo_h), _raw_int(hi_h))
                self.push_tail(new)
                continue
            lo, hi, _ = item
            m = _mid(lo, hi)
            if libmp.mpf_eq(m, lo) or libmp.mpf_eq(m, hi):
                raise CannotCertify(f"boxes at h = {_fl(m):.6g} cannot be split further")
            for child in ((lo, m), (m, hi)):
                _, ub = self.box(*child)
                if libmp.mpf_ge(ub, self.lo) or not self.heap:
                    heapq.heappush(self.heap, (-_fl(ub), next(self.count), "box", (child[0], child[1], ub)))
        upper = reduce(_rmax, (e[3].ub if e[2] == "tail" else e[3][2] for e in self.heap), self.lo)
        exact, where, proof = self.resolve()
        if exact is not None:
            iv = _number(exact)
            return _PieceSup(iv[0], iv[1], exact, where, proof)
        return _PieceSup(self.lo, upper, None, self.lo_where, f"branch and bound, {self.boxes} boxes")

    # -- exact values
    def resolve(self) -> tuple[sp.Expr | None, sp.Expr | None, str]:
        survivors = [e for e in self.heap if libmp.mpf_ge(e[3].ub if e[2] == "tail" else e[3][2], self.lo)]
        boxes = sorted((e[3][0], e[3][1]) for e in survivors if e[2] == "box")
        tails = [e[3] for e in survivors if e[2] == "tail"]
        clusters: list[list[Raw]] = []
        for lo, hi in sorted(boxes, key=lambda b: _fl(b[0])):
            if clusters and libmp.mpf_le(lo, clusters[-1][1]):
                clusters[-1][1] = _rmax(clusters[-1][1], hi)
            else:
                clusters.append([lo, hi])
        candidates: list[tuple[sp.Expr, sp.Expr, str]] = []
        for t in tails:
            if not (t.below and t.limit is not None and t.limit.exact is not None):
                return None, None, ""
            candidates.append((sp.Abs(t.limit.exact), sp.oo * t.side, "limit at infinity, approached from below"))
        for lo, hi in clusters:
            found = self._resolve_cluster(lo, hi)
            if found is None:
                return None, None, ""
            candidates.append(found)
        if not candidates:
            return None, None, ""
        best = max(candidates, key=lambda c: _fl(_number(c[0])[1]))
        for c in candidates:
            below = c is best or libmp.mpf_le(_number(c[0])[1], _number(best[0])[0])
            if not below and not _equal(c[0], best[0], "two candidate suprema"):
                return None, None, ""
        value = best[0]
        if sp.count_ops(value) > 4:
            simple = _timed(sp.simplify, value)
            if simple is not None and simple.is_number and _equal(simple, value, "the simplified supremum"):
                value = simple
        return value, best[1], best[2]

    def _resolve_cluster(self, lo: Raw, hi: Raw) -> tuple[sp.Expr, sp.Expr, str] | None:
        f, fp = self.f, self.fp
        # (a) a piece end point
        for end, direction in ((self.a, 1), (self.b, -1)):
            if not end.is_finite:
                continue
            e_iv = _number(end)
            touches = libmp.mpf_le(lo, e_iv[1]) and libmp.mpf_ge(hi, e_iv[0])
            if touches:
                value = _one_sided(f, end, "+" if direction > 0 else "-")
                s = _exact_sign(value, "f at the end point")
                span = (_rmin(lo, e_iv[0]), _rmax(hi, e_iv[1]))
                try:
                    F, FP = self.both(span)
                except _Undefined:
                    return None
                if s and _sign(F) == s and _sign(_mul(FP, (_raw_int(s * direction),) * 2)) == -1:
                    return sp.Abs(value), end, "end point of the piece, |f| decreasing away from it"
        # (b) a tail with an exact limit reaching into the window
        for side in (-1, 1):
            inner = _fl(lo) if side > 0 else -_fl(hi)
            if (side > 0 and self.b != sp.oo) or (side < 0 and self.a != -sp.oo) or inner < 3:
                continue
            R = math.floor(inner)
            try:
                t = _tail_sup(f, side, R)
            except (_TailFail, _Undefined):
                continue
            if t.below and t.limit is not None and t.limit.exact is not None:
                return sp.Abs(t.limit.exact), sp.oo * side, "limit at infinity, approached from below"
        # (c) an exact critical point with |f| concave around it
        for x0 in _exact_roots_in(fp, lo, hi):
            value = f.subs(h, x0)
            s = _exact_sign(value, "f at the critical point")
            if not s:
                continue
            d2 = _Program([sp.diff(fp, h)])
            try:
                F = self.value((lo, hi))[0]
                F2 = d2((lo, hi))[0]
            except _Undefined:
                return None
            if _sign(F) == s and _sign(_mul(F2, (_raw_int(s),) * 2)) == -1:
                return sp.Abs(value), x0, "exact critical point, |f| concave around it"
        return None


def _sup_on_piece(f: sp.Expr, a: sp.Expr, b: sp.Expr) -> _PieceSup:
    if h not in f.free_symbols:
        value = sp.Abs(f)
        iv = _number(value)
        return _PieceSup(iv[0], iv[1], sp.simplify(value), None, "constant on the piece")
    if f.is_polynomial(h) and (a == -sp.oo or b == sp.oo):
        return _PieceSup(_INF, _INF, sp.oo, sp.oo if b == sp.oo else -sp.oo, "nonconstant polynomial on a half-line")
    return _Search(f, a, b).run()


# --------------------------------------------------------------------------------------------
# beta
# --------------------------------------------------------------------------------------------


def _separate_beta(phi: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""``(c, kappa, psi)`` with :math:`\phi(h) = c(\beta)\,\psi(\kappa h) + d(\beta)` exactly,
    ``psi`` free of :math:`\beta` and :math:`\kappa \in \{1, \beta\}`; ``(1, 1, phi)`` when
    :math:`\beta` does not enter. Then :math:`\phi^{(k)}(h) = c\,\kappa^k\psi^{(k)}(\kappa h)`."""
    free = phi.free_symbols - {h, beta}
    if free:
        raise CannotCertify(f"unbound parameter(s) {', '.join(sorted(map(str, free)))}")
    if beta not in phi.free_symbols:
        return sp.Integer(1), sp.Integer(1), phi
    u = sp.Dummy("u", real=True)
    for kappa in (sp.Integer(1), beta):
        expr = phi.subs(h, u / kappa)
        parts = sp.separatevars(sp.factor_terms(sp.diff(expr, u)), symbols=[beta, u], dict=True)
        if not parts:
            continue
        c = parts["coeff"] * parts[beta]
        psi = sp.expand(expr / c).as_independent(u, as_Add=True)[1]
        if beta in psi.free_symbols:
            psi = sp.simplify(psi)
        if beta in psi.free_symbols:
            continue
        if not (c.is_positive or c.is_negative):
            raise CannotCertify(f"the sign of the beta factor {c} is not known")
        return c, kappa, psi.subs(u, h)
    raise CannotCertify("beta enters phi other than as c(beta) * psi(h) or c(beta) * psi(beta h)")


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def sup_abs_derivative(phi: sp.Expr, order: int) -> Certificate:
    r"""Certified :math:`\sup_{h\in\mathbb R}|\phi^{(k)}(h)|`, :math:`k` = ``order`` >= 1.

    ``phi`` is an expression in :data:`~prefdyn.theory.symbols.h` (parameters bound; ``beta``
    allowed when it factors out, see the module docstring). ``oo`` when a lower derivative jumps
    (a Dirac mass) or :math:`|\phi^{(k)}|` is unbounded. Raises :class:`CannotCertify`.
    """
    c, kappa, psi = _separate_beta(phi)
    factor = sp.simplify(sp.Abs(c) * kappa**order)
    parts = pieces(psi)
    for left, right in itertools.pairwise(parts):
        b = left.hi
        for j in range(order):
            l_value = _one_sided(sp.diff(left.expr, h, j), b, "-")
            r_value = _one_sided(sp.diff(right.expr, h, j), b, "+")
            if not _equal(l_value, r_value, f"the jump of phi^({j}) at h = {b}"):
                return Certificate(
                    sp.oo,
                    mpmath.inf,
                    mpmath.inf,
                    True,
                    b,
                    f"phi^({j}) jumps at h = {b} ({l_value} -> {r_value}): a Dirac mass in phi^({j + 1})",
                    factor,
                )
    results = []
    for piece in parts:
        try:
            results.append(_sup_on_piece(sp.diff(piece.expr, h, order), piece.lo, piece.hi))
        except _Undefined as err:
            raise CannotCertify(str(err)) from None
    best = max(results, key=lambda r: _fl(r.upper))
    lower = reduce(_rmax, (r.lower for r in results))
    upper = reduce(_rmax, (r.upper for r in results))
    if upper == _INF:
        return Certificate(sp.oo, mpmath.inf, mpmath.inf, True, best.where, best.proof, factor)
    exact = best.exact
    if exact is not None:
        for r in results:
            if r is best or libmp.mpf_le(r.upper, best.lower):
                continue
            if r.exact is None or not _equal(r.exact, exact, "two piece suprema"):
                exact = None
                break
    value = exact if exact is not None else _float_out(upper, up=True)
    return Certificate(
        sp.simplify(factor * value) if exact is not None else factor * value,
        _mpf(lower),
        _mpf(upper),
        exact is not None,
        best.where,
        best.proof,
        factor,
    )


def sign_of_dphi_at_zero(phi: sp.Expr) -> Certificate:
    r"""Certified sign of :math:`\phi'(0)` (-1, 0 or 1); at a break point at 0 both one-sided
    derivatives must have that sign."""
    c, _, psi = _separate_beta(phi)
    c_sign = 1 if c.is_positive else -1
    parts = pieces(psi)
    for piece in parts:
        lo_s = -1 if piece.lo == -sp.oo else _exact_sign(piece.lo, "a break point")
        hi_s = 1 if piece.hi == sp.oo else _exact_sign(piece.hi, "a break point")
        g = sp.diff(piece.expr, h)
        if lo_s < 0 < hi_s:
            value = g.subs(h, 0)
            s = _exact_sign(value, "phi'(0)")
            iv = _number(value)
            return Certificate(
                sp.Integer(c_sign * s),
                _mpf(iv[0]),
                _mpf(iv[1]),
                True,
                sp.Integer(0),
                f"phi'(0) = {value} enclosed in [{_fl(iv[0]):.6g}, {_fl(iv[1]):.6g}]",
            )
        if hi_s == 0:
            nxt = next(p for p in parts if p.lo == piece.hi)
            left = _one_sided(g, 0, "-")
            right = _one_sided(sp.diff(nxt.expr, h), 0, "+")
            sl, sr = _exact_sign(left, "phi'(0-)"), _exact_sign(right, "phi'(0+)")
            if sl != sr:
                raise CannotCertify(f"phi' jumps at h = 0 from {left} to {right}: no single sign")
            return Certificate(
                sp.Integer(c_sign * sl),
                _mpf(_number(left)[0]),
                _mpf(_number(right)[1]),
                True,
                sp.Integer(0),
                "both one-sided derivatives at the break point h = 0 share the sign",
            )
    raise CannotCertify("h = 0 is in no piece")


def stationary_margin(phi: sp.Expr) -> Certificate:
    r"""Certified :math:`h^\star = \inf\{h : 0 \in \operatorname{hull}(\phi'(h^-), \phi'(h^+))\}`
    (the smallest root of :math:`\phi'` for a :math:`C^1` loss; ``oo`` when there is none).

    Exact when SymPy names the root, else the 53-bit ``Float`` nearest the enclosure's midpoint
    (``lower``/``upper`` hold the enclosure, relative width below 1e-20).
    """
    _, kappa, psi = _separate_beta(phi)
    found = _stationary(psi)
    if kappa == 1 or found.value in (sp.oo, -sp.oo):
        return found
    return Certificate(
        found.value / kappa,
        found.lower,
        found.upper,
        found.exact,
        None if found.where is None else found.where / kappa,
        found.proof + "; h* = u*/beta for phi(h) = c psi(beta h)",
        1 / kappa,
    )


def _stationary(psi: sp.Expr) -> Certificate:
    parts = pieces(psi)
    previous: _Piece | None = None
    for piece in parts:
        g = sp.diff(piece.expr, h)
        if previous is not None:
            b = piece.lo
            left = _one_sided(sp.diff(previous.expr, h), b, "-")
            right = _one_sided(g, b, "+")
            sl, sr = _exact_sign(left, "phi'(b-)"), _exact_sign(right, "phi'(b+)")
            if sl == 0 or sr == 0 or sl != sr:
                iv = _number(b)
                return Certificate(
                    b, _mpf(iv[0]), _mpf(iv[1]), True, b, f"0 in [phi'({b}-), phi'({b}+)] = hull({left}, {right})"
                )
        if h not in g.free_symbols:
            if _exact_sign(g, "phi' on a piece") == 0:
                iv = _number(piece.lo) if piece.lo.is_finite else (_NINF, _NINF)
                return Certificate(
                    piece.lo,
                    _mpf(iv[0]),
                    _mpf(iv[1]),
                    True,
                    piece.lo,
                    "phi' vanishes identically on the piece starting here",
                )
        else:
            found = _leftmost_root(g, piece.lo, piece.hi)
            if found is not None:
                return found
        previous = piece
    return Certificate(
        sp.oo, mpmath.inf, mpmath.inf, True, None, "phi' certified nonzero on every piece and at every break point"
    )


def _root_free_tail(g: sp.Expr, side: int, start: int) -> int:
    for R in TAIL_STARTS:
        if R < start:
            continue
        try:
            s = _tail_sign(g, side, R)
        except (_TailFail, _Undefined):
            continue
        if s == 0:
            raise CannotCertify("phi' vanishes identically at infinity")
        if s is not None:
            return R
    raise CannotCertify(f"cannot prove phi' nonzero as h -> {'+' if side > 0 else '-'}oo")


def _leftmost_root(g: sp.Expr, a: sp.Expr, b: sp.Expr) -> Certificate | None:
    if g.is_polynomial(h):
        roots = [
            r
            for r in sp.Poly(g, h).real_roots()
            if (a == -sp.oo or _exact_sign(r - a, "root - a") > 0)
            and (b == sp.oo or _exact_sign(b - r, "b - root") > 0)
        ]
        if not roots:
            return None
        r = roots[0]
        iv = _number(r)
        return Certificate(r, _mpf(iv[0]), _mpf(iv[1]), True, r, "smallest real root of the polynomial phi'")
    taylor, value = _Taylor(g), _Program([g])
    start_right = max(8, math.ceil(_fl(_number(a)[1])) + 8) if a != -sp.oo else 8
    start_left = max(8, math.ceil(-_fl(_number(b)[0])) + 8) if b != sp.oo else 8
    left = _raw_int(-_root_free_tail(g, -1, start_left)) if a == -sp.oo else _number(a)[0]
    right = _raw_int(_root_free_tail(g, +1, start_right)) if b == sp.oo else _number(b)[1]
    stack = [(left, right)]
    boxes = 0

    def at(x: Raw) -> Interval:
        try:
            return value((x, x))[0]
        except _Undefined as err:
            raise CannotCertify(f"phi' not real at h = {_fl(x):.6g} ({err})") from None

    while stack:
        lo, hi = stack.pop()
        boxes += 1
        if boxes > MAX_BOXES:
            raise CannotCertify(f"root isolation did not converge in {MAX_BOXES} boxes")
        m = _mid(lo, hi)
        try:
            enc, _, GP = taylor.box(lo, hi)
        except _Undefined as err:
            raise CannotCertify(f"phi' not real near h = {_fl(m):.6g} ({err})") from None
        if not _has_zero(enc):
            continue
        width = _fl(libmp.mpf_sub(hi, lo, 53, "u"))
        if width > 1e-20 * max(1.0, abs(_fl(m))):
            stack += [(m, hi), (lo, m)]
            continue
        sa, sb, monotone = _sign(at(lo)), _sign(at(hi)), _sign(GP)
        if sa is not None and sb is not None and sa == sb and monotone is not None:
            continue  # strictly monotone with one sign at both ends: no root in this box
        for end, s_end in ((lo, sa), (hi, sb)):
            if s_end is None and monotone is not None and g.subs(h, _rational(end)).is_zero:
                r = _rational(end)  # an exact dyadic root, the only one in this monotone box
                return Certificate(
                    r, _mpf(end), _mpf(end), True, r, "phi' vanishes exactly here, every box to the left root-free"
                )
        if sa is None or sb is None or sa == sb:
            raise CannotCertify(f"cannot isolate the root of phi' near h = {_fl(m):.12g} (double root?)")
        exact = None
        if monotone is not None:
            for r in _exact_roots_in(g, lo, hi):
                r_iv = _number(r)
                if libmp.mpf_ge(r_iv[0], lo) and libmp.mpf_le(r_iv[1], hi):
                    exact = r
        if exact is not None:
            return Certificate(
                exact,
                _mpf(lo),
                _mpf(hi),
                True,
                exact,
                "sign change of phi' with every box to the left root-free; SymPy root inside",
            )
        return Certificate(
            _float_near(m),
            _mpf(lo),
            _mpf(hi),
            False,
            _float_near(m),
            "sign change of phi' with every box to the left root-free",
        )
    return None


__all__ = [
    "CannotCertify",
    "Certificate",
    "pieces",
    "sign_of_dphi_at_zero",
    "stationary_margin",
    "sup_abs_derivative",
]


def _iter_intervals(values: Iterable[Interval]) -> list[tuple[float, float]]:  # debugging aid
    return [(_fl(a), _fl(b)) for a, b in values]
