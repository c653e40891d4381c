r"""``cross-example-influence`` vs a real gradient step through a :math:`V`-way softmax.

Example: a random :math:`V\times d` head :math:`W`, reference :math:`W_{\rm ref}`, embeddings
:math:`g_u` (the trained pair) and :math:`g_o` (the observed input; sometimes :math:`g_o = g_u`),
an answer pair, an observed answer :math:`y`, a loss, :math:`\beta` and :math:`\eta`. Observed:
torch autograd of :math:`\phi(\beta\rho_u)`, one step :math:`W - \eta\nabla_W\phi`, and the exact
change of :math:`\log\pi(y\mid x_o)`; also the directional derivative of :math:`\log\pi(y\mid x_o)`
along the step, by autograd. Claimed: the theorem's own printed expressions (realised at the example's numbers by
:func:`prefdyn.theory.framework.realise`): the slope
:math:`f'(0)` (an identity) and the two bounds on the change. All exact: float64 tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import sympy as sp
import torch
from hypothesis import strategies as st

from prefdyn.numerics.evaluate import loss_kernels
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import realise
from prefdyn.theory.losses import loss_names
from prefdyn.theory.theorems import cross_example_influence as T

from ..outcome import Comparison, Outcome
from ..tolerance import float_radius
from ._base import Property

EXAMPLES = st.fixed_dictionaries(
    {
        "vocab": st.integers(2, 8),
        "dim": st.integers(1, 6),
        "loss": st.sampled_from(loss_names()),
        "beta": st.floats(0.05, 3.0),
        "eta": st.floats(1e-3, 2.0),
        "scale": st.floats(0.1, 3.0),
        "same_input": st.booleans(),
        "seed": st.integers(0, 2**31 - 1),
    }
)


@cache
def _claims() -> dict[str, Any]:
    """The right-hand sides of the three claims, as the theorem prints them."""
    theorem = get_theorem("cross-example-influence")
    return {
        label: theorem.claim(label).rhs
        for label in ("first-order influence", "change upper bound", "change lower bound")
    }


def binding(
    *,
    beta: float,
    eta: float,
    pi: Sequence[float],
    g_o: Sequence[float],
    g_u: Sequence[float],
    dphi: float,
    y: int,
    y_w: int,
    y_l: int,
) -> dict[Any, Any]:
    """Numbers for the claims' display objects (0-based answers ``y, y_w, y_l``)."""
    num = sp.Float
    return {
        T.beta: num(beta),
        T.eta: num(eta),
        T.V: len(pi),
        T.d: len(g_o),
        T.y: y + 1,
        T.y_w: y_w + 1,
        T.y_l: y_l + 1,
        T.pi_o: lambda i: num(pi[int(i) - 1]),
        T.g_o: lambda j: num(g_o[int(j) - 1]),
        T.g_u: lambda j: num(g_u[int(j) - 1]),
        T.phi_prime: lambda x: num(dphi),
    }


def claimed(label: str, values: dict[Any, Any]) -> float:
    """A claim's right-hand side realised at ``values`` (:func:`binding`)."""
    return float(realise(_claims()[label], values))


def check(example: dict[str, Any], device: str) -> Outcome:
    V, d, beta, eta = example["vocab"], example["dim"], example["beta"], example["eta"]
    gen = torch.Generator().manual_seed(example["seed"])
    W = (example["scale"] * torch.randn(V, d, generator=gen, dtype=torch.float64)).requires_grad_()
    W_ref = example["scale"] * torch.randn(V, d, generator=gen, dtype=torch.float64)
    g_u = torch.randn(d, generator=gen, dtype=torch.float64)
    g_o = g_u.clone() if example["same_input"] else torch.randn(d, generator=gen, dtype=torch.float64)
    w, l = torch.randperm(V, generator=gen)[:2].tolist()
    y = int(torch.randint(V, (1,), generator=gen))

    logp = torch.log_softmax(W @ g_u, -1) - torch.log_softmax(W_ref @ g_u, -1)
    h = beta * (logp[w] - logp[l])
    kernels = loss_kernels(example["loss"])
    (grad,) = torch.autograd.grad(kernels.phi(h, torch.tensor(beta, dtype=torch.float64)), W)
    (score,) = torch.autograd.grad(torch.log_softmax(W @ g_o, -1)[y], W)  # d log pi(y|x_o) / dW
    with torch.no_grad():
        change = torch.log_softmax((W - eta * grad) @ g_o, -1)[y] - torch.log_softmax(W @ g_o, -1)[y]
        slope = -(grad * score).sum()
        pi = torch.softmax(W @ g_o, -1)
    values = binding(
        beta=beta,
        eta=eta,
        pi=pi.tolist(),
        g_o=g_o.tolist(),
        g_u=g_u.tolist(),
        dphi=float(kernels.dphi(h.detach(), torch.tensor(beta, dtype=torch.float64))),
        y=y,
        y_w=w,
        y_l=l,
    )

    def claimed_tensor(label: str) -> torch.Tensor:
        return torch.tensor(claimed(label, values), dtype=torch.float64)

    first = claimed_tensor("first-order influence")
    return Outcome(
        [
            Comparison("f'(0) (autograd directional derivative)", slope, first, "=", float_radius(first, 1.0)),
            Comparison(
                "Delta log pi(y|x_o) <= eta f'(0)",
                change,
                claimed_tensor("change upper bound"),
                "<=",
                float_radius(change, 1.0),
            ),
            Comparison(
                "Delta log pi(y|x_o) >= eta f'(0) - eta^2 (beta phi' <g^o, g^u>)^2 / 2",
                change,
                claimed_tensor("change lower bound"),
                ">=",
                float_radius(change, 1.0),
            ),
        ]
    )


PROPERTY = Property("cross-example-influence", "bound", EXAMPLES, check)
