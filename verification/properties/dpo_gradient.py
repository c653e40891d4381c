r"""``dpo-gradient`` vs autograd: :math:`\nabla_W\phi(h) = \phi'(h)\beta(e_{y_w} - e_{y_l})g^\top`.

Example: a random :math:`V\times d` head :math:`W`, reference :math:`W_{\rm ref}`, embedding
:math:`g` and answer pair (torch generator seeded by a Hypothesis-drawn integer), a loss and
:math:`\beta`. Observed: torch autograd of :math:`\phi(\beta\rho)` through the full :math:`V`-way
log-softmax (no closed form). Claimed: the loss-specific claim of the theorem, evaluated entry by
entry. An exact identity: float64 tolerance :func:`~prefdyn.verification.tolerance.float_radius`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sympy as sp
import torch
from hypothesis import strategies as st

from prefdyn.numerics.evaluate import loss_kernels
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import numpy_functions
from prefdyn.theory.losses import loss_names
from prefdyn.theory.theorems import dpo_gradient as T

from ..outcome import Comparison, Outcome
from ..tolerance import float_radius
from ._base import Property

EXAMPLES = st.fixed_dictionaries({
    "vocab": st.integers(2, 8), "dim": st.integers(1, 6), "loss": st.sampled_from(loss_names()),
    "beta": st.floats(0.05, 3.0), "scale": st.floats(0.1, 3.0), "seed": st.integers(0, 2**31 - 1),
})


_GJ = sp.Symbol("g_j", real=True)
_ARGS = (T.h, T.beta, T.i, T.y_w, T.y_l, _GJ)


@cache
def _statement(loss: str) -> Callable[..., Any]:
    """The printed loss-specific claim's right side as a function of ``(h, beta, i, y_w, y_l,
    g_j)`` (1-based answer indices, as printed)."""
    rhs = get_theorem("dpo-gradient", loss).claim(f"gradient for {loss}").rhs
    return sp.lambdify(_ARGS, rhs.xreplace({T.g[T.j]: _GJ}), modules=[numpy_functions(), "scipy", "numpy"])


def check(example: dict[str, Any], device: str) -> Outcome:
    V, d, beta = example["vocab"], example["dim"], example["beta"]
    gen = torch.Generator().manual_seed(example["seed"])
    W = (example["scale"] * torch.randn(V, d, generator=gen, dtype=torch.float64)).requires_grad_()
    W_ref = example["scale"] * torch.randn(V, d, generator=gen, dtype=torch.float64)
    g = torch.randn(d, generator=gen, dtype=torch.float64)
    w, l = torch.randperm(V, generator=gen)[:2].tolist()
    logp = torch.log_softmax(W @ g, -1) - torch.log_softmax(W_ref @ g, -1)
    h = beta * (logp[w] - logp[l])
    loss_kernels(example["loss"]).phi(h, torch.tensor(beta, dtype=torch.float64)).backward()
    formula = _statement(example["loss"])

    def entry(i: int, j: int) -> float:
        return float(formula(h.item(), beta, i + 1, w + 1, l + 1, g[j].item()))

    claimed = torch.tensor([[entry(i, j) for j in range(d)] for i in range(V)], dtype=torch.float64)
    assert W.grad is not None
    return Outcome([Comparison("grad_W phi", W.grad, claimed, "=", float_radius(claimed, 1.0))])


PROPERTY = Property("dpo-gradient", "identity", EXAMPLES, check)
