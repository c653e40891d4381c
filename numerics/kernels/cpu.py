r"""The single-pass simulator step on the CPU, compiled by numba.

One step of ``R`` runs reads each run's embeddings :math:`g_r \in \mathbb R^{n \times d}` once.
The samples are walked in tiles of :data:`TILE_BYTES`; while a tile sits in the L1 cache the
kernel computes, for its rows :math:`i`, first the logits

.. math::

    a^{(1)}_{ri} = \langle u_{r1}, g_{ri}\rangle,\quad
    a^{(2)}_{ri} = \langle u_{r2}, g_{ri}\rangle \ (\text{or } -a^{(1)}_{ri} \text{ when } k = 1),

then the weights :math:`h_{ri} = \beta_r s_{ri} (a^{(1)}_{ri} - a^{(2)}_{ri})`,
:math:`c_{ri} = w_{ri}\,\phi'(h_{ri})\,\beta_r s_{ri}`, then the tile's share
:math:`G_r \mathrel{+}= \sum_i c_{ri}\, g_{ri}` (the tile read again, from L1). So the gradient and
the logits come out of one read of the data from memory, where two batched products
(:math:`a = U g^\top`, then :math:`G = c\,g`) read it twice; the phases keep each loop free of
the others' dependencies, so they pipeline. Runs are spread over threads (``prange``); the
inner loops over :math:`d` are vectorised (``fastmath`` allows reassociation and contraction
only, so NaN and infinity still propagate and a diverging run is still detected). Sums are in
the data's dtype, as the batched products' are; :math:`\phi'` is evaluated in float64.

Why numba: it compiles the loss's :math:`\phi'` (printed by
:mod:`~prefdyn.numerics.kernels.scalar_code`) into the loop for any loss, needs no C++ compiler
at install or run time, and its wheels exist wherever torch's do; torch.compile's CPU backend
needs a compiler at run time and emits the two products as two passes.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import torch

from prefdyn.theory.losses import Loss

from .scalar_code import define, dphi_source

_FAST = {"reassoc", "contract"}

#: Bytes of embeddings per tile: the rows whose logits, weights and gradient terms are computed
#: together while they sit in the L1 data cache (32 KiB or more on current x86 and Arm cores).
TILE_BYTES = 16384


@cache
def _numba() -> Any:
    import numba

    # numba's own thread pool: its OpenMP layer would share torch's OpenMP runtime and reset
    # torch's thread count (omp_set_num_threads) behind prefdyn's thread policy
    numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]
    return numba


def available() -> bool:
    """Whether numba can be imported (the ``fast`` extra)."""
    try:
        _numba()
    except ImportError:
        return False
    return True


@cache
def _namespace() -> dict[str, Any]:
    """:data:`~prefdyn.numerics.kernels.scalar_code.VOCABULARY` as numba functions."""
    njit = _numba().njit

    @njit(inline="always", error_model="numpy")
    def sigmoid(x: float) -> float:
        e = math.exp(-abs(x))  # never overflows; the select below compiles without a branch
        q = 1.0 / (1.0 + e)
        return q if x >= 0 else e * q

    @njit(inline="always", error_model="numpy")
    def logsigmoid(x: float) -> float:
        return min(x, 0.0) - math.log1p(math.exp(-abs(x)))

    @njit(inline="always", error_model="numpy")
    def ndtr(x: float) -> float:
        return 0.5 * math.erfc(-x * 0.7071067811865476)

    @njit(inline="always", error_model="numpy")
    def where(condition: bool, a: float, b: float) -> float:
        return a if condition else b

    @njit(inline="always", error_model="numpy")
    def power(x: float, p: float) -> float:
        return x**p

    return {
        "exp": math.exp,
        "log": math.log,
        "sqrt": math.sqrt,
        "tanh": math.tanh,
        "cosh": math.cosh,
        "sinh": math.sinh,
        "erf": math.erf,
        "fabs": math.fabs,
        "sigmoid": sigmoid,
        "logsigmoid": logsigmoid,
        "ndtr": ndtr,
        "where": where,
        "power": power,
    }


@cache
def _compiled(source: str) -> Any:
    """The fused step for the :math:`\\phi'` printed as ``source`` (compiled on first call per
    dtype and run once per process)."""
    nb = _numba()
    dphi = nb.njit(inline="always", error_model="numpy")(define(source, _namespace()))

    @nb.njit(parallel=True, fastmath=_FAST, error_model="numpy")
    def step(g, u, s, w, beta, a1, a2, grad):
        runs, n, d = g.shape
        k = u.shape[1]
        tile = max(1, TILE_BYTES // (d * g.itemsize))
        for r in nb.prange(runs):
            b, gr, u1, u2 = beta[r], g[r], u[r, 0], u[r, k - 1]
            acc = np.zeros(d, dtype=grad.dtype)
            c = np.empty(tile, dtype=grad.dtype)  # in the data's dtype, so the loops vectorise
            for i0 in range(0, n, tile):
                m = min(tile, n - i0)
                for i in range(i0, i0 + m):  # the tile's rows come from memory, once
                    gi = gr[i]
                    x1 = u1[0] * gi[0]
                    for j in range(1, d):
                        x1 += u1[j] * gi[j]
                    a1[r, i] = x1
                    if k == 2:
                        x2 = u2[0] * gi[0]
                        for j in range(1, d):
                            x2 += u2[j] * gi[j]
                        a2[r, i] = x2
                    else:
                        a2[r, i] = -x1
                for i in range(m):
                    bs = b * s[r, i0 + i]
                    c[i] = w[r, i0 + i] * dphi(bs * (a1[r, i0 + i] - a2[r, i0 + i]), b) * bs
                for i in range(m):  # ... and are read again from the L1 cache
                    gi = gr[i0 + i]
                    ci = c[i]
                    for j in range(d):
                        acc[j] += ci * gi[j]
            grad[r] = acc

    return step


def compile_step(loss: Loss) -> Any:
    """The compiled single-pass step of ``loss`` (see :func:`fused_step`; :func:`prefdyn.numerics.kernels.select_step` chooses it)."""
    return _compiled(dphi_source(loss))


def fused_step(
    kernel: Any, g: torch.Tensor, u: torch.Tensor, s: torch.Tensor, w: torch.Tensor, beta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Logits and gradient of one step, reading ``g`` once (see the module docstring).

    Parameters
    ----------
    kernel
        :func:`compile_step` of the loss.
    g : torch.Tensor
        ``[R, n, d]`` embeddings, float32 or float64, contiguous, on the CPU.
    u : torch.Tensor
        ``[R, k, d]`` tracked rows :math:`U = W_{\mathrm{ans}} - W_{\mathrm{ref,ans}}`, ``g``'s
        dtype.
    s, w : torch.Tensor
        ``[R, n]`` (or ``[1, n]``, shared by the runs) signs and batch weights.
    beta : torch.Tensor
        ``[R, 1]`` temperatures.

    Returns
    -------
    tuple of torch.Tensor
        ``a1, a2`` (``[R, n]``: the logit changes of the two answers) and the gradient
        ``G`` (``[R, d]``), in ``g``'s dtype.
    """
    R, n, d = g.shape
    dtype = g.dtype
    a1 = torch.empty(R, n, dtype=dtype)
    a2 = torch.empty(R, n, dtype=dtype)
    grad = torch.empty(R, d, dtype=dtype)

    def array(x: torch.Tensor) -> np.ndarray:
        return x.to(dtype).expand(R, *x.shape[1:]).contiguous().numpy()

    _numba().set_num_threads(min(torch.get_num_threads(), _numba().config.NUMBA_NUM_THREADS))
    kernel(g.numpy(), array(u), array(s), array(w), array(beta).reshape(R), a1.numpy(), a2.numpy(), grad.numpy())
    return a1, a2, grad
