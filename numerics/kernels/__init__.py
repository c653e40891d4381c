r"""Compiled single-pass simulator steps, and the choice between them and the torch step.

One step of :func:`~prefdyn.numerics.simulate` on per-run data computes, for every run ``r``,
the logit changes :math:`a = U_r g_r^\top` and the gradient :math:`G_r = \sum_i c_{ri} g_{ri}`
with :math:`c_{ri} = w_{ri}\phi'(h_{ri})\beta_r s_{ri}`. The torch step does this with two
batched products, so it reads the ``R x n x d`` embeddings twice; a fused step reads them once:

* on the CPU, :mod:`~prefdyn.numerics.kernels.cpu` (numba, the ``fast`` extra);
* on CUDA, :mod:`~prefdyn.numerics.kernels.cuda` (Triton, shipped with CUDA builds of torch).

Both compile the loss's :math:`\phi'` into the loop
(:mod:`~prefdyn.numerics.kernels.scalar_code`), for any loss prefdyn can parse, and give the
torch step's numbers up to summation order (tested: relative ``1e-12`` in float64 and ``1e-6``
in float32, against the scale :math:`\sum_i |c_{ri}|\,|g_{ri}|` of the gradient). Data shared by
all runs (the sweep mode, ``g``: ``[n, d]``) stays on the torch step: there both products are
single GEMMs over data that every run reuses.

``kernel="auto"`` (the default of :func:`~prefdyn.numerics.simulate`) uses a fused step only
where it is available and the run reads at least :data:`AUTO_MIN_READ_BYTES` of embeddings, so
that the one-off compilation (a few seconds per loss and dtype) is repaid; ``"fused"`` asks for
it (an error where it is not available) and ``"torch"`` never uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from prefdyn.errors import PrefdynError
from prefdyn.theory.losses import Loss

from . import cpu, cuda

#: ``kernel`` choices of :func:`~prefdyn.numerics.simulate`.
KERNELS = ("auto", "fused", "torch")

#: Embedding bytes read over a whole run (``R n d`` x bytes per element x steps) from which
#: ``kernel="auto"`` compiles a fused step, per device type.
AUTO_MIN_READ_BYTES = {"cpu": 2**32, "cuda": 2**40}


@dataclass(frozen=True)
class FusedStep:
    """A compiled single-pass step: ``step(g, u, s, w, beta) -> (a1, a2, G)``."""

    backend: str
    kernel: Any
    run: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]

    def __call__(
        self, g: torch.Tensor, u: torch.Tensor, s: torch.Tensor, w: torch.Tensor, beta: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.run(self.kernel, g, u, s, w, beta)


def _why_not(g: torch.Tensor, work: torch.dtype) -> str | None:
    """Why no fused step serves embeddings ``g`` computed in ``work``; ``None`` when one does."""
    if g.dim() != 3:
        return "data shared by all runs uses the GEMM step"
    if g.device.type == "cpu":
        if g.dtype not in (torch.float32, torch.float64) or g.dtype != work:
            return "the CPU fused step takes float32 or float64 embeddings"
        return None if cpu.available() else "numba is not installed (pip install 'prefdyn[fast]')"
    if work != torch.float32:
        return "the CUDA fused step computes in float32 (float32, bfloat16 or float16 storage)"
    return None if cuda.available() else "Triton is not installed"


def select_step(loss: Loss, g: torch.Tensor, work: torch.dtype, kernel: str, steps: int) -> FusedStep | None:
    """The fused step ``kernel`` asks for, or ``None`` for the torch step.

    Parameters
    ----------
    loss : Loss
        The loss whose :math:`\\phi'` is compiled in.
    g : torch.Tensor
        The embeddings as stored (``[R, n, d]`` per run, or ``[n, d]`` shared), on their device.
    work : torch.dtype
        The compute dtype.
    kernel : {"auto", "fused", "torch"}
        See the module docstring.
    steps : int
        Steps of the run (for ``auto``'s size rule).

    Raises
    ------
    PrefdynError
        ``kernel="fused"`` where no fused step is available (the message says why), or an
        unknown ``kernel``.
    """
    if kernel not in KERNELS:
        raise PrefdynError(f"kernel: must be one of {', '.join(KERNELS)}")
    if kernel == "torch":
        return None
    reason = _why_not(g, work)
    if reason is not None:
        if kernel == "fused":
            raise PrefdynError(f"kernel: no fused step here: {reason}")
        return None
    reads = g.numel() * g.element_size() * steps
    if kernel == "auto" and reads < AUTO_MIN_READ_BYTES[g.device.type]:
        return None
    backend = cpu if g.device.type == "cpu" else cuda
    try:
        compiled = backend.compile_step(loss)
    except PrefdynError:  # a function without a compiled form: the torch step serves any loss
        if kernel == "fused":
            raise
        return None
    return FusedStep(backend.__name__.rsplit(".", 1)[-1], compiled, backend.fused_step)
