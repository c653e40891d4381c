r"""Shared objects of the trajectory theorems (Gaussian laws, probit constants, concrete vectors).

* :func:`Phi` is :math:`\Phi`, the standard normal CDF; :func:`normal_pdf` its density.
* :data:`PROBIT_LAMBDA` is :math:`\lambda = \sqrt{\pi/8}` of the probit approximation
  :math:`\sigma(x) \approx \Phi(\lambda x)`; :data:`PROBIT_ERROR_A` and :data:`PROBIT_ERROR_B`
  are rounded-up values of :math:`\sup_x|\sigma(x) - \Phi(\lambda x)| = 0.0176712\ldots` (at
  :math:`|x| = 2.7636`) and :math:`\sup_x|\sigma'(x) - \lambda\varphi(\lambda x)| = 0.0115753\ldots`
  (at :math:`|x| = 1.5025`), found by bounded scalar maximisation; both differences are odd/even
  and tend to 0 at :math:`\pm\infty`, so the maximum over a bounded window is the supremum.
* :func:`gaussian_mgf` is :math:`M(u) = \exp(u^\top\mu + \tfrac12 u^\top\Sigma u)`, the moment
  generating function of :math:`N(\mu, \Sigma)`; :math:`\mathbb E[g\,e^{u^\top g}] = \nabla M(u)`,
  which turns Gaussian expectations against exponential test functions into exact algebra.
"""

from __future__ import annotations

import sympy as sp

from ..functions import std_normal_cdf

PROBIT_LAMBDA = sp.sqrt(sp.pi / 8)
PROBIT_ERROR_A = sp.Rational(177, 10000)
PROBIT_ERROR_B = sp.Rational(116, 10000)


def Phi(x: sp.Expr) -> sp.Expr:
    r""":math:`\Phi(x)`."""
    return std_normal_cdf(x)


def normal_pdf(x: sp.Expr) -> sp.Expr:
    r""":math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`."""
    return sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)


def vector(name: str, d: int) -> sp.Matrix:
    """A column of real symbols ``name_1 .. name_d``."""
    return sp.Matrix([sp.Symbol(f"{name}_{i}", real=True) for i in range(1, d + 1)])


def symmetric(name: str, d: int) -> sp.Matrix:
    """A symmetric matrix of real symbols."""
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"{name}_{min(i, j) + 1}{max(i, j) + 1}", real=True))


def dot(u: sp.Matrix, v: sp.Matrix) -> sp.Expr:
    return (u.T * v)[0, 0]


def norm(u: sp.Matrix) -> sp.Expr:
    return sp.sqrt(dot(u, u))


def gaussian_mgf(u: sp.Matrix, mu: sp.Matrix, cov: sp.Matrix) -> sp.Expr:
    r""":math:`\mathbb E\, e^{u^\top g}` for :math:`g \sim N(\mu, \Sigma)`."""
    return sp.exp(dot(u, mu) + dot(u, cov * u) / 2)


def gaussian_mgf_gradient(u: sp.Matrix, mu: sp.Matrix, cov: sp.Matrix) -> sp.Matrix:
    r""":math:`\mathbb E[g\, e^{u^\top g}] = \nabla_u M(u)`, by differentiating under the integral."""
    x = sp.Matrix(sp.symbols(f"_u0:{len(u)}", real=True))
    grad = sp.Matrix([sp.diff(gaussian_mgf(x, mu, cov), xi) for xi in x])
    return grad.subs(dict(zip(x, u)))


def positive_part(x: sp.Expr) -> sp.Expr:
    r""":math:`(x)_+ = \max(x, 0)`."""
    return sp.Max(x, 0)
