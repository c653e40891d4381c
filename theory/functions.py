r"""Special functions of preference learning as SymPy objects.

:class:`sigmoid` :math:`\sigma(x) = 1/(1+e^{-x})` and :class:`logsigmoid`
:math:`\log\sigma(x)` are kept as named functions (not expanded into exponentials) so that

* derivatives stay readable (:math:`\sigma' = \sigma(x)\sigma(-x)`,
  :math:`(\log\sigma)' = \sigma(-x)`), and print as :math:`\sigma` in LaTeX;
* the numerics layer can lambdify them to numerically stable kernels
  (``torch.sigmoid``, ``torch.nn.functional.logsigmoid``: SymPy's torch printer calls their
  ``_torchcode``, which only writes the code string, so this module never imports torch)
  instead of overflowing ``log(1 + exp(-x))``.

:func:`to_elementary` rewrites both into ``exp``/``log`` when a symbolic check needs it.
"""

from __future__ import annotations

import sympy as sp


class _Named(sp.Function):
    """A named real function of one real argument: kept whole in symbolic work (it prints and
    lambdifies as itself), evaluated through :func:`to_elementary` at numbers."""

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        if not self.args[0].is_number:  # keep the named function (stable torch kernels)
            return self.func(self.args[0]._eval_evalf(prec) or self.args[0])
        return to_elementary(self)._eval_evalf(prec)


class _CDF(_Named):
    """A distribution function of the real line: 1/2 at 0, 1 at +oo, 0 at -oo."""

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_zero:
            return sp.Rational(1, 2)
        if x is sp.oo:
            return sp.Integer(1)
        if x is sp.S.NegativeInfinity:
            return sp.Integer(0)
        return None


class sigmoid(_CDF):
    r"""The logistic function :math:`\sigma(x) = \frac{1}{1+e^{-x}}`."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = self.args[0]
        return sigmoid(x) * sigmoid(-x)

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs: object) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_extended_real else None

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\sigma\left({printer._print(self.args[0])}\right)"

    def _torchcode(self, printer: sp.printing.printer.Printer) -> str:
        return f"torch.sigmoid({printer._print(self.args[0])})"


class logsigmoid(_Named):
    r"""The log-sigmoid :math:`\log\sigma(x) = -\log(1+e^{-x})`."""

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_zero:
            return -sp.log(2)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(-self.args[0])

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs: object) -> sp.Expr:
        return -sp.log(1 + sp.exp(-x))

    def _eval_is_extended_negative(self) -> bool | None:
        return True if self.args[0].is_real else None

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\log\sigma\left({printer._print(self.args[0])}\right)"

    def _torchcode(self, printer: sp.printing.printer.Printer) -> str:
        return f"torch.nn.functional.logsigmoid({printer._print(self.args[0])})"


def to_elementary(expr: sp.Basic) -> sp.Basic:
    """Rewrite :class:`sigmoid`/:class:`logsigmoid` into ``exp``/``log`` and :class:`Phi` into
    ``erf``."""
    return (
        expr.replace(sigmoid, lambda x: 1 / (1 + sp.exp(-x)))
        .replace(logsigmoid, lambda x: -sp.log(1 + sp.exp(-x)))
        .replace(Phi, Phi.erf_form)
    )


class Phi(_CDF):
    r"""The standard normal CDF :math:`\Phi(x) = \tfrac12\,(1 + \operatorname{erf}(x/\sqrt2))`, the one
    name of :math:`\Phi` in prefdyn (it prints as :math:`\Phi`, lambdifies to ``torch.special.ndtr``
    and rewrites to ``erf``)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = self.args[0]
        return sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)

    @staticmethod
    def erf_form(x: sp.Expr) -> sp.Expr:
        r""":math:`\Phi(x)` written with ``erf``, :math:`\tfrac12(1 + \operatorname{erf}(x/\sqrt2))`."""
        return (1 + sp.erf(x / sp.sqrt(2))) / 2

    def _eval_rewrite_as_erf(self, x: sp.Expr, **kwargs: object) -> sp.Expr:
        return Phi.erf_form(x)

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_finite and self.args[0].is_real else None

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\Phi\left({printer._print(self.args[0])}\right)"

    def _torchcode(self, printer: sp.printing.printer.Printer) -> str:
        return f"torch.special.ndtr({printer._print(self.args[0])})"


class indicator(sp.KroneckerDelta):
    r"""The indicator :math:`\mathbb 1[i = j]` of two integers (SymPy's Kronecker delta, printed
    as an indicator so that :math:`\delta` keeps one meaning: distinguishability)."""

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\mathbb{{1}}[{printer._print(self.args[0])} = {printer._print(self.args[1])}]"

    def _pythoncode(self, printer: sp.printing.printer.Printer) -> str:
        return f"(1 if ({printer._print(self.args[0])}) == ({printer._print(self.args[1])}) else 0)"

    _numpycode = _pythoncode
    _torchcode = _pythoncode
