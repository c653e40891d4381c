r"""A loss's :math:`\phi'(h, \beta)` as the source of one scalar Python function, for compilers.

The fused simulator steps (:mod:`~prefdyn.numerics.kernels.cpu`, numba;
:mod:`~prefdyn.numerics.kernels.cuda`, Triton) evaluate :math:`\phi'` inside their loop over
samples, so they need it as code their compiler reads, not as a torch function. This module
prints the bound SymPy expression (:meth:`Loss.bind <prefdyn.theory.losses.Loss.bind>` of
:attr:`Loss.dphi`) into ``def dphi(h, beta): return ...`` over a small vocabulary of bare names
(:data:`VOCABULARY`) that each backend binds to its own implementations:

* numbers become float literals (:math:`\log(999/1000)` is evaluated to 20 digits first);
* integer powers become products (:math:`x^3 \to x x x`, :math:`x^{-2} \to 1/(x x)`), half-integer
  powers ``sqrt``, any other power ``power(x, p)`` (Triton has no ``**`` on tensors);
* ``Piecewise`` (also ``Heaviside``, ``Max``, ``Min`` and ``Abs`` rewritten to it) becomes nested
  ``where(condition, a, b)``, conditions joined with ``&`` and ``|``;
* prefdyn's :func:`~prefdyn.theory.functions.sigmoid`,
  :func:`~prefdyn.theory.functions.logsigmoid` and :func:`~prefdyn.theory.functions.Phi` stay
  named (``sigmoid``, ``logsigmoid``, ``ndtr``) so each backend supplies a stable kernel.

The expression is a SymPy object built by prefdyn's loss parser, never user text, and the output
is only ever compiled by numba or Triton with the backend's own names bound.

Example
-------
>>> from prefdyn.theory.losses import get_loss
>>> print(dphi_source(get_loss("dpo")))
def dphi(h, beta):
    return (-1.0 * sigmoid((-1.0 * h)))
"""

from __future__ import annotations

import linecache
import math
from collections.abc import Callable, Mapping
from itertools import count
from typing import Any

import sympy as sp
from sympy.printing.printer import Printer

from prefdyn.errors import PrefdynError
from prefdyn.theory.functions import Phi, logsigmoid, sigmoid
from prefdyn.theory.losses import Loss
from prefdyn.theory.symbols import beta as beta_symbol
from prefdyn.theory.symbols import h as h_symbol

#: The bare names a printed :math:`\phi'` may call; a backend binds every one of them.
VOCABULARY = (
    "exp",
    "log",
    "sqrt",
    "power",
    "tanh",
    "cosh",
    "sinh",
    "erf",
    "sigmoid",
    "logsigmoid",
    "ndtr",
    "where",
    "fabs",
)

_FUNCTIONS = {
    sp.exp: "exp",
    sp.log: "log",
    sp.tanh: "tanh",
    sp.cosh: "cosh",
    sp.sinh: "sinh",
    sp.erf: "erf",
    sigmoid: "sigmoid",
    logsigmoid: "logsigmoid",
    Phi: "ndtr",
}


class _ScalarPrinter(Printer):
    """Prints an expression of ``h`` and ``beta`` over :data:`VOCABULARY`."""

    printmethod = "_prefdyn_scalar"

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr not in (h_symbol, beta_symbol):
            raise PrefdynError(f"loss: the symbol {expr} has no value (fused step)")
        return expr.name

    def _print_Float(self, expr: sp.Float) -> str:
        value = float(expr)
        if not math.isfinite(value):
            raise PrefdynError(f"loss: the constant {expr} has no compiled form (fused step)")
        return repr(value)

    _print_Rational = _print_Float

    _print_Integer = _print_Rational
    _print_NumberSymbol = _print_Float

    def _print_Mul(self, expr: sp.Mul) -> str:
        return "(" + " * ".join(self._print(a) for a in expr.args) + ")"

    def _print_Add(self, expr: sp.Add) -> str:
        return "(" + " + ".join(self._print(a) for a in expr.args) + ")"

    def _print_Pow(self, expr: sp.Pow) -> str:
        base, p = self._print(expr.base), expr.exp
        if p.is_Integer and 0 < abs(int(p)) <= 8:
            product = "(" + " * ".join([base] * abs(int(p))) + ")"
            return product if p > 0 else f"(1.0 / {product})"
        if p == sp.Rational(1, 2):
            return f"sqrt({base})"
        if p == -sp.Rational(1, 2):
            return f"(1.0 / sqrt({base}))"
        return f"power({base}, {self._print(p)})"

    def _print_Function(self, expr: sp.Function) -> str:
        for cls, name in _FUNCTIONS.items():
            if isinstance(expr, cls):
                return f"{name}({', '.join(self._print(a) for a in expr.args)})"
        raise PrefdynError(f"loss: the function {expr.func} has no compiled kernel (fused step)")

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        out = "(0.0 * h)"  # unreachable when the last condition is True, as SymPy requires of a loss
        for value, cond in reversed(expr.args):
            out = self._print(value) if cond is sp.true else f"where({self._print(cond)}, {self._print(value)}, {out})"
        return out

    def _print_Relational(self, expr: sp.core.relational.Relational) -> str:
        return f"({self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)})"

    def _print_And(self, expr: sp.And) -> str:
        return "(" + " & ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr: sp.Or) -> str:
        return "(" + " | ".join(self._print(a) for a in expr.args) + ")"

    def emptyPrinter(self, expr: Any) -> str:
        raise PrefdynError(f"loss: {type(expr).__name__} has no compiled kernel (fused step)")


def _prepare(expr: sp.Expr) -> sp.Expr:
    """Constants to floats; ``Heaviside``, ``Max``, ``Min``, ``Abs`` to ``Piecewise``."""
    expr = expr.replace(
        lambda e: isinstance(e, sp.Heaviside | sp.Max | sp.Min | sp.Abs), lambda e: e.rewrite(sp.Piecewise)
    )
    return expr.replace(
        lambda e: isinstance(e, sp.Expr) and e.is_number and not e.is_Number, lambda e: sp.Float(e.evalf(20), 20)
    )


def dphi_source(loss: Loss) -> str:
    r"""The source of ``def dphi(h, beta)`` computing :math:`\phi'(h)` of ``loss`` with its
    parameters bound (see the module docstring).

    Raises
    ------
    PrefdynError
        When a parameter has no value, or :math:`\phi'` uses a function outside
        :data:`VOCABULARY`.
    """
    bound = loss.bind(loss.dphi)
    extra = bound.free_symbols - {h_symbol, beta_symbol}
    if extra:
        names = ", ".join(sorted(s.name for s in extra))
        raise PrefdynError(f"loss: parameter(s) {names} of {loss.name!r} have no value")
    body = _ScalarPrinter().doprint(_prepare(bound))
    return f"def dphi(h, beta):\n    return {body}"


_serial = count()


def define(source: str, namespace: Mapping[str, Any]) -> Callable[..., Any]:
    """The function ``source`` defines, its names bound to ``namespace``.

    The source is registered with :mod:`linecache` under a unique file name, so compilers that
    read a function's source (Triton's ``jit``) find it.
    """
    filename = f"<prefdyn-kernel-{next(_serial)}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    scope = dict(namespace)
    exec(compile(source, filename, "exec"), scope)  # noqa: S102 - source printed from SymPy above
    return scope["dphi"]
