r"""``dpo-gradient`` vs autograd: :math:`\nabla_W\phi(h) = \phi'(h)\beta(e_{y_w} - e_{y_l})g^\top`.

Example: a random :math:`V\times d` head :math:`W`, reference :math:`W_{\rm ref}`, embedding
:math:`g` and answer pair (torch generator seeded by a Hypothesis-drawn integer), a loss and
:math:`\beta`. Observed: torch autograd of :math:`\phi(\beta\rho)` through the full :math:`V`-way
log-softmax (no closed form). Claimed: the loss-specific claim of the theorem as printed, row by
row (:func:`~prefdyn.numerics.evaluate.claim_function`, 1-based answers as printed). An exact
identity: float64 tolerance :func:`~prefdyn.verification.tolerance.float_radius`.
"""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st

from prefdyn.numerics.evaluate import claim_function, loss_kernels
from prefdyn.theory.losses import loss_names

from ..outcome import Comparison, Outcome
from ..tolerance import float_radius
from ._base import Property

EXAMPLES = st.fixed_dictionaries(
    {
        "vocab": st.integers(2, 8),
        "dim": st.integers(1, 6),
        "loss": st.sampled_from(loss_names()),
        "beta": st.floats(0.05, 3.0),
        "scale": st.floats(0.1, 3.0),
        "seed": st.integers(0, 2**31 - 1),
    }
)


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
    row = claim_function("dpo-gradient", f"gradient for {example['loss']}", loss=example["loss"], vector=("j",))
    claimed = torch.stack(
        [row({"h": h.detach(), "beta": beta, "i": i + 1, "y_w": w + 1, "y_l": l + 1, "g": g}) for i in range(V)]
    )
    assert W.grad is not None
    return Outcome([Comparison("grad_W phi", W.grad, claimed, "=", float_radius(claimed, 1.0))])


PROPERTY = Property("dpo-gradient", "identity", EXAMPLES, check)
