r"""The single-pass simulator step on CUDA, compiled by Triton.

The same step as :mod:`~prefdyn.numerics.kernels.cpu` (logits, :math:`\phi'`, gradient from one
read of the embeddings), laid out for a GPU: program ``(r, t)`` owns run ``r``'s rows
``t B, ..., t B + B - 1`` (``B`` = ``BLOCK_N``). It loads that tile of :math:`g_r` once (float32,
or bfloat16/float16 widened to float32 in registers), computes the logits
:math:`a^{(1)}, a^{(2)}` and weights :math:`c_i = w_i\,\phi'(h_i)\,\beta s_i` of its rows, and
writes the tile's partial gradient :math:`\sum_{i \in \text{tile}} c_i g_i`. The partials
(``[R, n/B, d]``, a ``B``-th of the data) are summed by one reduction afterwards, in a fixed
order, so the step is deterministic (no atomics).

When ``d`` exceeds :data:`MAX_SINGLE_CHUNK` the tile is processed in column chunks, twice (the
second pass over a tile is served by the caches, not by HBM).

Triton compiles the loss's :math:`\phi'` into the kernel from the source printed by
:mod:`~prefdyn.numerics.kernels.scalar_code`: the kernel body below is one Python function, and
each loss gets a copy whose global ``dphi`` is that loss's compiled :math:`\phi'`.
"""

from __future__ import annotations

import types
from functools import cache
from typing import Any

import torch

from prefdyn.theory.losses import Loss

from .scalar_code import define, dphi_source

#: Largest power-of-two column count a tile holds at once (registers); wider data is chunked.
MAX_SINGLE_CHUNK = 512
#: Elements of one tile, ``BLOCK_N * BLOCK_D`` (16 KiB of float32).
TILE_ELEMENTS = 4096


@cache
def _triton() -> tuple[Any, Any]:
    import triton
    import triton.language as tl

    return triton, tl


def available() -> bool:
    """Whether Triton can be imported and a CUDA device is present."""
    if not torch.cuda.is_available():
        return False
    try:
        _triton()
    except ImportError:
        return False
    return True


@cache
def _compiled(source: str) -> Any:
    """The Triton step whose ``dphi`` is the function printed as ``source``."""
    from .triton_body import VOCABULARY, step_body

    triton, _ = _triton()
    dphi = triton.jit(define(source, VOCABULARY))
    body = types.FunctionType(step_body.__code__, {**step_body.__globals__, "dphi": dphi}, step_body.__name__)
    return triton.jit(body)


def compile_step(loss: Loss) -> Any:
    """The Triton single-pass step of ``loss`` (see :func:`fused_step`; :func:`prefdyn.numerics.kernels.select_step` chooses it)."""
    return _compiled(dphi_source(loss))


def _next_power_of_two(x: int) -> int:
    return 1 << max(0, (x - 1).bit_length())


def fused_step(
    kernel: Any, g: torch.Tensor, u: torch.Tensor, s: torch.Tensor, w: torch.Tensor, beta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Logits and gradient of one step on CUDA, reading ``g`` once (see the module docstring).

    Parameters
    ----------
    kernel
        :func:`compile_step` of the loss.
    g : torch.Tensor
        ``[R, n, d]`` embeddings on a CUDA device: float32, or bfloat16/float16 storage
        (widened to float32 in registers).
    u : torch.Tensor
        ``[R, k, d]`` float32 tracked rows.
    s, w : torch.Tensor
        ``[R, n]`` or ``[1, n]`` float32 signs and batch weights.
    beta : torch.Tensor
        ``[R, 1]`` float32 temperatures.

    Returns
    -------
    tuple of torch.Tensor
        ``a1, a2`` (``[R, n]``) and ``G`` (``[R, d]``), float32.
    """
    R, n, d = g.shape
    k = u.shape[1]
    block_d = min(_next_power_of_two(d), MAX_SINGLE_CHUNK)
    block_n = max(16, min(128, TILE_ELEMENTS // block_d))
    tiles = -(-n // block_n)
    a1 = torch.empty(R, n, dtype=torch.float32, device=g.device)
    a2 = torch.empty_like(a1)
    parts = torch.empty(R, tiles, d, dtype=torch.float32, device=g.device)

    def flat(x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float32).expand(R, *x.shape[1:]).contiguous()

    kernel[(R * tiles,)](
        g.contiguous(), flat(u), flat(s), flat(w), flat(beta).reshape(R), a1, a2, parts, n, d, tiles,
        K=k, BLOCK_N=block_n, BLOCK_D=block_d, CHUNKS=-(-d // block_d),
    )  # fmt: skip
    return a1, a2, parts.sum(1)
