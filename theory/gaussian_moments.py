r"""Gaussian expectations of a loss's derivatives, derived by SymPy where they have a closed form.

The population flow (``population-flow``) needs, for a margin :math:`h = \beta z` with
:math:`z \sim N(m, r^2)`,

.. math:: A(m, r, \beta) = \mathbb E[-\phi'(\beta z)], \qquad
          B(m, r, \beta) = \mathbb E[\phi''(\beta z)] = -\frac{1}{\beta}\,\frac{\partial A}{\partial m},

the second because :math:`\partial_m \phi'(\beta(m + r\zeta)) = \beta\phi''(\beta(m + r\zeta))`.
Taking :math:`B` from :math:`A` keeps the point masses of :math:`\phi''` at a kink (the hinge's
jump at :math:`h = 1`), which the pointwise :math:`\phi''` (zero almost everywhere) loses.

When :math:`\phi'` is piecewise polynomial in :math:`h` (hinge/SLiC, IPO, squared hinge, Huber,
any polynomial loss), :func:`gaussian_moments` gives :math:`A` exactly without integrating: on a
piece :math:`h \in (a, b)`, write :math:`z = m + r\zeta` and expand :math:`-\phi'(\beta(m + r\zeta))
= \sum_k c_k\zeta^k`; then

.. math:: A = \sum_{\text{pieces}}\sum_k c_k\,[U_k(u_a) - U_k(u_b)], \qquad
          u_a = \frac{a/\beta - m}{r},

with the upper moments :math:`U_k(u) = \int_u^\infty \zeta^k\varphi(\zeta)\,d\zeta`:
:math:`U_0 = \Phi(-u)`, :math:`U_1 = \varphi(u)`, :math:`U_k = u^{k-1}\varphi(u) + (k-1)U_{k-2}`
(integration by parts; :func:`upper_moment`, its defining derivative checked by SymPy in the
tests). Only :math:`\Phi` and :math:`\varphi` of the standardised break points appear, so nothing
cancels catastrophically near a kink or as :math:`r \to 0`. Otherwise :func:`gaussian_moments`
returns ``None`` and the numerics fall back to quadrature. Example, the hinge loss:

>>> from prefdyn.theory.losses import get_loss
>>> gaussian_moments(get_loss("hinge")).A
Phi((-m + 1/beta)/r)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .functions import Phi
from .losses import Loss
from .symbols import beta, h

#: the law of the margin's argument: z ~ N(m, r^2), r > 0; zeta = (z - m)/r
m = sp.Symbol("m", real=True)
r = sp.Symbol("r", positive=True)
zeta = sp.Symbol("zeta", real=True)


@dataclass(frozen=True)
class GaussianMoments:
    """:math:`A = \\mathbb E[-\\phi'(\\beta z)]` and :math:`B = \\mathbb E[\\phi''(\\beta z)]` as SymPy
    expressions in ``m``, ``r`` (> 0) and ``beta`` (the loss's parameters bound)."""

    A: sp.Expr
    B: sp.Expr


def density(u: sp.Expr) -> sp.Expr:
    r"""The standard normal density :math:`\varphi(u)`."""
    return sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)


def upper_moment(k: int, u: sp.Expr) -> sp.Expr:
    r""":math:`U_k(u) = \int_u^\infty \zeta^k\varphi(\zeta)\,d\zeta` (``u`` may be :math:`\pm\infty`)."""
    if u == sp.oo:
        return sp.S.Zero
    if u == -sp.oo:  # the k-th moment of N(0, 1)
        return sp.S.Zero if k % 2 else sp.factorial2(k - 1)
    if k == 0:
        return Phi(-u)
    if k == 1:
        return density(u)
    return u ** (k - 1) * density(u) + (k - 1) * upper_moment(k - 2, u)


def segment_moment(k: int, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    r""":math:`\int_{lo}^{hi} \zeta^k\varphi(\zeta)\,d\zeta`; a half-line below ``hi`` by symmetry,
    :math:`(-1)^k U_k(-hi)`, so that a lower tail is :math:`\Phi(hi)`, not :math:`1 - \Phi(-hi)`."""
    if lo == -sp.oo:
        return (-1) ** k * upper_moment(k, -hi)
    return upper_moment(k, lo) - upper_moment(k, hi)


def _pieces(dphi: sp.Expr) -> list[tuple[sp.Expr, sp.Interval]] | None:
    """``dphi`` as (polynomial in h, interval of h with numeric ends) pairs covering the real line,
    or ``None`` when a piece is not a polynomial or its region is not such an interval union."""
    # Max, Heaviside, sign -> one Piecewise; simplify merges pieces that differ on a null set
    folded = sp.simplify(sp.piecewise_fold(dphi.rewrite(sp.Piecewise)))
    branches = folded.args if isinstance(folded, sp.Piecewise) else ((folded, sp.true),)
    remaining: sp.Set = sp.S.Reals
    pieces = []
    for value, condition in branches:
        try:
            region = (sp.S.Reals if condition == sp.true else condition.as_set()) & remaining
        except NotImplementedError:  # e.g. a break point that depends on beta
            return None
        remaining = remaining - region
        parts = region.args if isinstance(region, sp.Union) else (region,)
        if not sp.sympify(value).is_polynomial(h) or not all(isinstance(p, sp.Interval | sp.FiniteSet) for p in parts):
            return None
        intervals = [p for p in parts if isinstance(p, sp.Interval)]  # points carry no mass
        if not all(end.is_number for p in intervals for end in (p.start, p.end)):
            return None
        pieces += [(value, p) for p in intervals]
    return pieces


@cache
def gaussian_moments(loss: Loss) -> GaussianMoments | None:
    r"""Closed-form :math:`A, B` of ``loss`` when its :math:`\phi'` is piecewise polynomial in
    :math:`h`, else ``None`` (see the module docstring)."""
    pieces = _pieces(loss.bind(loss.dphi))
    if pieces is None:
        return None
    A = sp.S.Zero
    for value, part in pieces:
        ends = [end if end.is_infinite else (end / beta - m) / r for end in (part.start, part.end)]
        expansion = sp.Poly(sp.expand(-value.subs(h, beta * (m + r * zeta))), zeta)
        A += sum(c * segment_moment(k, *ends) for (k,), c in expansion.terms())
    return GaussianMoments(_combined(A), _combined(-sp.diff(A, m) / beta))


def _combined(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` with like terms combined but every :math:`\Phi(u)` and :math:`e^{-u^2/2}` kept
    whole: expanding those (as plain :func:`sympy.expand` does) splits :math:`e^{-u^2/2}` into
    factors that overflow to :math:`\infty\cdot 0` as :math:`r \to 0`."""
    kept = {atom: sp.Dummy() for atom in expr.atoms(sp.exp, Phi)}
    return sp.expand(expr.xreplace(kept)).xreplace({d: atom for atom, d in kept.items()})
