r"""Concrete softmax heads for instantiated checks.

:math:`\log\pi_W(y\mid x) = (Wg)_y - \log\sum_k e^{(Wg)_k}` for a symbolic :math:`V\times d` head
:math:`W` and embedding :math:`g`; :math:`\rho = [\log\pi_W(y_w) - \log\pi_W(y_l)] -
[\log\pi_{W_{\rm ref}}(y_w) - \log\pi_{W_{\rm ref}}(y_l)]`. Symbols are named 1-based, as printed
(:math:`W_{11}, \dots`, like :func:`prefdyn.theory.model.vector`); the functions take the 0-based
rows of Python indexing.
"""

from __future__ import annotations

import sympy as sp


def head(name: str, V: int, d: int) -> sp.Matrix:
    """A :math:`V\\times d` matrix of real symbols ``name_11 .. name_Vd``."""
    return sp.Matrix(V, d, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


def log_softmax(W: sp.Matrix, g: sp.Matrix, y: int) -> sp.Expr:
    r""":math:`\log\operatorname{softmax}(Wg)_y` (row ``y``, 0-based)."""
    logits = W * g
    return logits[y] - sp.log(sum(sp.exp(z) for z in logits))


def softmax(W: sp.Matrix, g: sp.Matrix, i: int) -> sp.Expr:
    r""":math:`\operatorname{softmax}(Wg)_i` (row ``i``, 0-based)."""
    logits = W * g
    return sp.exp(logits[i]) / sum(sp.exp(z) for z in logits)


def log_ratio_difference(W: sp.Matrix, W_ref: sp.Matrix, g: sp.Matrix, w: int, l: int) -> sp.Expr:
    r""":math:`\rho` for the pair :math:`(y_w, y_l) = (w, l)` (0-based rows).

    With logits :math:`z = Wg`, :math:`\log\pi_W(y) = z_y - \log\sum_k e^{z_k}`: the normaliser is
    the same for :math:`y_w` and :math:`y_l` and cancels exactly, so
    :math:`\rho = (z_w - z_l) - (z^{\rm ref}_w - z^{\rm ref}_l)`, :math:`z^{\rm ref} = W_{\rm ref}g`
    (the very expression SymPy reduces :func:`log_softmax` differences to, without building the
    exponentials of large logits first).
    """
    logits, reference = W * g, W_ref * g
    return (logits[w] - logits[l]) - (reference[w] - reference[l])


def answer_rows(sign: int) -> tuple[int, int]:
    """The 0-based rows ``(y_w, y_l)`` of responses 1 and 2 for the sign :math:`s` (:math:`s = +1`
    when response 1 is preferred)."""
    return (0, 1) if sign > 0 else (1, 0)


def e12(V: int) -> sp.Matrix:
    r""":math:`e_1 - e_2 \in \mathbb R^V`, the direction in which every update of the two responses' rows moves."""
    e = sp.zeros(V, 1)
    e[0], e[1] = 1, -1
    return e
