r"""Shared objects of the trajectory theorems (Gaussian laws, probit constants, vector algebra).

* :func:`normal_pdf` is :math:`\varphi`, the density of the standard normal (whose CDF is
  :class:`prefdyn.theory.functions.Phi`).
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

from collections.abc import Callable, Sequence

import sympy as sp

PROBIT_LAMBDA = sp.sqrt(sp.pi / 8)
PROBIT_ERROR_A = sp.Rational(177, 10000)
PROBIT_ERROR_B = sp.Rational(116, 10000)


def normal_pdf(x: sp.Expr) -> sp.Expr:
    r""":math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`."""
    return sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)


def dot(u: Sequence[sp.Expr], v: Sequence[sp.Expr]) -> sp.Expr:
    r""":math:`u^\top v` of two explicit vectors (columns or sequences of coordinates)."""
    return sp.Add(*(a * c for a, c in zip(u, v)))


def norm(u: Sequence[sp.Expr]) -> sp.Expr:
    r""":math:`\|u\| = \sqrt{u^\top u}`."""
    return sp.sqrt(dot(u, u))


def value_and_gradient(f: Callable[[list[sp.Expr]], sp.Expr], at: Sequence[sp.Expr]) -> tuple[sp.Expr, list[sp.Expr]]:
    r""":math:`(f(x), \nabla f(x))` at :math:`x` = ``at``, by SymPy differentiation (``f`` takes the
    list of coordinates)."""
    D = sp.symbols(f"_D1:{len(at) + 1}", real=True)
    value = f(list(D))
    point = dict(zip(D, at))
    return value.subs(point), [sp.diff(value, x).subs(point) for x in D]


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


# --------------------------------------------------------------------------- matrix displays


def _explicit(arg: sp.Basic) -> sp.Matrix | None:
    """``arg`` as an explicit matrix once no matrix symbol is left in it, else ``None``."""
    from sympy.matrices import MatrixBase
    from sympy.matrices.expressions import MatrixExpr

    if not isinstance(arg, (MatrixBase, MatrixExpr)) or arg.atoms(sp.MatrixSymbol):
        return None
    value = arg.doit()
    return sp.Matrix(value.as_explicit() if isinstance(value, MatrixExpr) else value)


def _matrix_latex(expr: sp.Basic, printer: sp.printing.printer.Printer) -> str:
    r"""``\Delta^\top\Sigma_b^+\Delta``: products in their true order, :math:`^\top` for transposes."""
    from sympy.matrices.expressions import MatAdd, MatMul, Transpose

    if isinstance(expr, MatMul):
        parts = []
        for factor in expr.args:
            text = _matrix_latex(factor, printer)
            if isinstance(factor, (MatAdd, sp.Add)):
                text = rf"\left({text}\right)"
            parts.append(text if isinstance(factor, sp.MatrixExpr) else text + " ")  # a scalar: "t v"
        return "".join(parts).strip()
    if isinstance(expr, Transpose):
        inner = _matrix_latex(expr.arg, printer)
        if isinstance(expr.arg, (MatAdd, MatMul)):
            return rf"\left({inner}\right)^{{\top}}"
        return (f"{{{inner}}}" if "^" in inner else inner) + r"^{\top}"
    if isinstance(expr, MatAdd):
        terms = [_matrix_latex(a, printer) for a in expr.args]
        out = " + ".join(t for t in terms if not t.startswith("-"))  # positive terms first: "\Delta_t - t v"
        for term in (t for t in terms if t.startswith("-")):
            out += " - " + term[1:].lstrip() if out else term
        return out
    return printer._print(expr)


class MatrixScalar(sp.Expr):
    r"""The one entry of a :math:`1\times1` matrix expression such as :math:`\Delta^\top\mu_b^+` or
    :math:`\Delta^\top\Sigma_b^+\Delta`, as a scalar of a display.

    It prints as the product (``\Delta^{\top}\mu_b^+``) and, once an instance binding has replaced
    every matrix symbol by an explicit matrix (:func:`prefdyn.theory.framework.realise`), it *is*
    that entry: so a display written with it is checked on the realised matrices themselves.
    """

    is_commutative = True
    is_extended_real = True

    def __new__(cls, arg: sp.Basic) -> sp.Expr:
        arg = sp.sympify(arg)
        explicit = _explicit(arg)
        if explicit is not None:
            if explicit.shape != (1, 1):
                raise ValueError(f"MatrixScalar needs a 1x1 matrix, got shape {explicit.shape}")
            return explicit[0, 0]
        return sp.Expr.__new__(cls, arg)

    def _latex(self, printer: sp.printing.printer.Printer) -> str:
        return _matrix_latex(self.args[0], printer)

    def _sympystr(self, printer: sp.printing.printer.Printer) -> str:
        return f"({printer._print(self.args[0])})"


class MatrixNorm(sp.Expr):
    r"""The Euclidean norm :math:`\|v\|` of a column (a matrix symbol, a sum of them, or an
    indexed family entry whose binding is a column); explicit once the column is."""

    is_commutative = True
    is_extended_nonnegative = True

    def __new__(cls, arg: sp.Basic) -> sp.Expr:
        arg = sp.sympify(arg)
        explicit = _explicit(arg)
        if explicit is not None:
            return sp.sqrt(sum(x**2 for x in explicit))
        return sp.Expr.__new__(cls, arg)

    def _latex(self, printer: sp.printing.printer.Printer) -> str:
        return rf"\|{_matrix_latex(self.args[0], printer)}\|"

    def _sympystr(self, printer: sp.printing.printer.Printer) -> str:
        return f"||{printer._print(self.args[0])}||"


def quadratic_form(x: sp.MatrixExpr, S: sp.MatrixExpr) -> sp.Expr:
    r""":math:`x^\top S x` as a display scalar (``x`` may be a sum such as :math:`\Delta + w`)."""
    return MatrixScalar(sp.MatMul(sp.Transpose(x), S, x))


def bilinear(x: sp.MatrixExpr, y: sp.MatrixExpr) -> sp.Expr:
    r""":math:`x^\top y` as a display scalar."""
    return MatrixScalar(sp.MatMul(sp.Transpose(x), y))
