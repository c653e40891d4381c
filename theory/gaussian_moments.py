r"""Gaussian expectations of a loss's derivatives, derived by SymPy where they have a closed form.

The population flow (``population-flow``) needs, for a margin :math:`h = \beta z` with
:math:`z \sim N(m, r^2)`,

.. math:: A(m, r, \beta) = \mathbb E[-\phi'(\beta z)], \qquad
          B(m, r, \beta) = \mathbb E[\phi''(\beta z)] = -\frac{1}{\beta}\,\frac{\partial A}{\partial m},

the second because :math:`\partial_m \phi'(\beta(m + r\zeta)) = \beta\phi''(\beta(m + r\zeta))`.
Taking :math:`B` from :math:`A` keeps the point masses of :math:`\phi''` at a kink (the hinge's
jump at :math:`h = 1`), which the pointwise :math:`\phi''` (zero almost everywhere) loses.

When :math:`\phi'` is piecewise polynomial in :math:`h` (hinge/SLiC, IPO, any polynomial loss),
:func:`gaussian_moments` integrates :math:`A` exactly (polynomials against the normal density on
half-lines give :math:`\operatorname{erf}` and :math:`e^{-x^2}` terms); otherwise it returns ``None``
and the numerics fall back to quadrature. Example, the hinge loss:

>>> from prefdyn.theory.losses import get_loss
>>> moments = gaussian_moments(get_loss("hinge"))
>>> moments.A
1/2 - erf(sqrt(2)*(beta*m - 1)/(2*beta*r))/2
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from .losses import Loss
from .symbols import beta, h

#: the law of the margin's argument: z ~ N(m, r^2), r > 0
m = sp.Symbol("m", real=True)
r = sp.Symbol("r", positive=True)
_z = sp.Symbol("z", real=True)


@dataclass(frozen=True)
class GaussianMoments:
    """:math:`A = \\mathbb E[-\\phi'(\\beta z)]` and :math:`B = \\mathbb E[\\phi''(\\beta z)]` as SymPy
    expressions in ``m``, ``r`` (> 0) and ``beta`` (the loss's parameters bound)."""

    A: sp.Expr
    B: sp.Expr


def _pieces(dphi: sp.Expr) -> list[tuple[sp.Expr, sp.Interval]] | None:
    """``dphi`` as (polynomial in h, interval of h) pairs covering the real line, or ``None`` when a
    piece is not a polynomial or its region is not a union of intervals."""
    # Max, Heaviside, sign -> one Piecewise; simplify merges pieces that differ on a null set
    folded = sp.simplify(sp.piecewise_fold(dphi.rewrite(sp.Piecewise)))
    branches = folded.args if isinstance(folded, sp.Piecewise) else ((folded, sp.true),)
    remaining: sp.Set = sp.S.Reals
    pieces = []
    for value, condition in branches:
        region = (sp.S.Reals if condition == sp.true else condition.as_set()) & remaining
        remaining = remaining - region
        parts = region.args if isinstance(region, sp.Union) else (region,)
        if not sp.sympify(value).is_polynomial(h) or not all(isinstance(p, sp.Interval | sp.FiniteSet) for p in parts):
            return None
        pieces += [(value, p) for p in parts if isinstance(p, sp.Interval)]  # points carry no mass
    return pieces


@cache
def gaussian_moments(loss: Loss) -> GaussianMoments | None:
    r"""Closed-form :math:`A, B` of ``loss`` when its :math:`\phi'` is piecewise polynomial in
    :math:`h`, else ``None`` (see the module docstring). Each piece is integrated over its interval
    :math:`h \in (a, b)`, i.e. :math:`z \in (a/\beta, b/\beta)`."""
    pieces = _pieces(loss.bind(loss.dphi))
    if pieces is None:
        return None
    density = sp.exp(-((_z - m) ** 2) / (2 * r**2)) / (sp.sqrt(2 * sp.pi) * r)
    A = sp.Add(*(sp.integrate(-value.subs(h, beta * _z) * density, (_z, part.start / beta, part.end / beta))
                 for value, part in pieces))
    if A.has(sp.Integral):
        return None
    A = sp.simplify(sp.powsimp(sp.expand(A), combine="exp"))  # exp(x) exp(-x) -> 1: no overflow
    return GaussianMoments(A, sp.simplify(-sp.diff(A, m) / beta))
