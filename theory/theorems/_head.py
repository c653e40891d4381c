r"""Concrete softmax heads for instantiated checks.

:math:`\log\pi_W(y\mid x) = (Wg)_y - \log\sum_k e^{(Wg)_k}` for a symbolic :math:`V\times d` head
:math:`W` and embedding :math:`g`; :math:`\rho = [\log\pi_W(y_w) - \log\pi_W(y_l)] -
[\log\pi_{W_{\rm ref}}(y_w) - \log\pi_{W_{\rm ref}}(y_l)]`.
"""

from __future__ import annotations

import sympy as sp


def head(name: str, V: int, d: int) -> sp.Matrix:
    return sp.Matrix(V, d, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


def vector(name: str, d: int) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{name}_{j}", real=True) for j in range(d)])


def log_softmax(W: sp.Matrix, g: sp.Matrix, y: int) -> sp.Expr:
    logits = W * g
    return logits[y] - sp.log(sum(sp.exp(z) for z in logits))


def softmax(W: sp.Matrix, g: sp.Matrix, i: int) -> sp.Expr:
    logits = W * g
    return sp.exp(logits[i]) / sum(sp.exp(z) for z in logits)


def log_ratio_difference(W: sp.Matrix, W_ref: sp.Matrix, g: sp.Matrix, w: int, l: int) -> sp.Expr:
    r""":math:`\rho` for the pair :math:`(y_w, y_l) = (w, l)`."""
    return (log_softmax(W, g, w) - log_softmax(W, g, l)) - (
        log_softmax(W_ref, g, w) - log_softmax(W_ref, g, l)
    )
