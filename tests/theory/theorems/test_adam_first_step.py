"""``adam-first-step`` against ``torch.optim``: the printed statements evaluated on tensors
(:func:`prefdyn.numerics.evaluate.claim_function`, never re-typed) against one real Adam/AdamW step,
elementwise and on a full V-way softmax head trained by autograd
(:func:`prefdyn.numerics.reference.train_reference`)."""

import pytest
import torch

from prefdyn.numerics.config import Phase, TrainConfig
from prefdyn.numerics.evaluate import claim_function
from prefdyn.numerics.reference import train_reference
from prefdyn.numerics.schedule import BatchSchedule
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.losses import loss_from_expression

F64 = torch.float64
THEOREM = "adam-first-step"
#: phi'(0) = 0: the first step is the decay term alone.
FLAT = loss_from_expression("h**2", name="flat-at-zero")


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("eps", [1e-8, 0.3])
def test_adam_step_is_torch_first_step(weight_decay: float, eps: float) -> None:
    gen = torch.Generator().manual_seed(0)
    w0, grad = torch.randn(50, generator=gen, dtype=F64), torch.randn(50, generator=gen, dtype=F64)
    grad[:3] = torch.tensor([0.0, 1e-12, -1e-12], dtype=F64)
    param = torch.nn.Parameter(w0.clone())
    optimizer = (torch.optim.AdamW if weight_decay else torch.optim.Adam)(
        [param], lr=0.1, betas=(0.7, 0.95), eps=eps, weight_decay=weight_decay
    )
    param.grad = grad.clone()
    optimizer.step()
    values = {"eta": 0.1, "epsilon_A": eps, "lambda_wd": weight_decay, "W_0": w0, r"\mathcal{G}": grad}
    claimed = claim_function(THEOREM, "adam step")(values)
    torch.testing.assert_close(param.detach() - w0, claimed, rtol=1e-12, atol=1e-15)
    deviation = claim_function(THEOREM, "sign bound", side="lhs")({**values, r"\Delta W_1": claimed})
    # tight when G != 0: rounding of |Delta W_1 + eta sign G| (terms of size eta) is the tolerance
    assert bool((deviation <= claim_function(THEOREM, "sign bound")(values) + 1e-12 * 0.1).all())


@pytest.mark.parametrize("loss", ["dpo", "discopop", "hinge", FLAT], ids=["dpo", "discopop", "hinge", "flat"])
@pytest.mark.parametrize("batch_size", [0, 5])
def test_preference_direction_and_margins_match_a_full_head(loss, batch_size: int) -> None:
    """One AdamW step of a V = 6 head by autograd and torch.optim.AdamW (the reference trainer):
    Delta^(1) and every behaviour's mean margin are the theorem's, on the same data."""
    gen = torch.Generator().manual_seed(1)
    n, d, V = 12, 3, 6
    g = torch.randn(n, d, generator=gen, dtype=F64) + torch.tensor([0.5, -0.3, 0.2], dtype=F64)
    s = torch.where(torch.rand(n, generator=gen) < 0.7, 1.0, -1.0).to(F64)
    behavior = torch.arange(n) % 2
    train = torch.ones(n, dtype=torch.bool)
    w_ref = 0.3 * torch.randn(V, d, generator=gen, dtype=F64)
    config = TrainConfig(
        loss=loss,
        beta=0.7,
        learning_rate=0.05,
        phases=(Phase("train", 1),),
        batch_size=batch_size,
        optimizer="adamw",
        adam_eps=0.01,
        weight_decay=0.1,
    )
    moved = train_reference(g, s, train, w_ref, config)[1]  # W_1 - W_ref on the answer rows
    direction = moved[0] - moved[1]
    batch = BatchSchedule.from_config(torch.arange(n), config, 0, [0]).indices(0)[0]
    sg = s[:, None] * g
    means = torch.stack([sg[behavior == b].mean(0) for b in range(2)])
    values = {
        "eta": 0.05,
        "beta": 0.7,
        "epsilon_A": 0.01,
        "lambda_wd": 0.1,
        r"\hat m": sg[batch].mean(0),
        "m": means,
        r"w^{\mathrm{ref}}": w_ref[:2],
    }
    claimed = claim_function(THEOREM, "preference direction", loss=loss, vector=("j",))(values)
    torch.testing.assert_close(direction, claimed, rtol=1e-10, atol=1e-13)
    margins = 0.7 * s * (g @ direction)
    for b in range(2):
        observed = margins[behavior == b].mean()
        claimed_b = claim_function(THEOREM, "margin", loss=loss, b=b + 1, d=d)(values)
        torch.testing.assert_close(observed, claimed_b, rtol=1e-10, atol=1e-13)


def test_zero_slope_at_the_reference_leaves_only_the_decay() -> None:
    theorem = get_theorem(THEOREM, FLAT)
    labels = [claim.label for claim in theorem.claims]
    assert "sign form" not in labels and "aligned l1" not in labels
    assert any("zero" in note for note in theorem.notes)
    w_ref = torch.tensor([[1.0, 2.0], [-0.5, 0.25]], dtype=F64)
    values = {
        "eta": 0.1,
        "beta": 1.0,
        "epsilon_A": 1e-8,
        "lambda_wd": 0.2,
        r"\hat m": torch.ones(2),
        r"w^{\mathrm{ref}}": w_ref,
    }
    claimed = claim_function(THEOREM, "preference direction", loss=FLAT, vector=("j",))(values)
    torch.testing.assert_close(claimed, -0.1 * 0.2 * (w_ref[0] - w_ref[1]))


@pytest.mark.parametrize(("loss", "direction"), [("dpo", 1.0), ("ipo", 1.0), ("discopop", -1.0)])
def test_aligned_growth_follows_the_sign_of_phi_prime(loss: str, direction: float) -> None:
    """One behaviour, hat m = m_b: the margin grows by about +-2 eta beta ||m_b||_1 (phi'(0) < 0 or > 0)."""
    mean = torch.tensor([[3.0, -2.0]], dtype=F64)
    values = {
        "eta": 0.1,
        "beta": 0.5,
        "epsilon_A": 1e-9,
        "lambda_wd": 0.0,
        r"\hat m": mean[0],
        "m": mean,
        r"w^{\mathrm{ref}}": torch.zeros(2, 2, dtype=F64),
    }
    growth = claim_function(THEOREM, "aligned l1", loss=loss, b=1, d=2)(values)
    torch.testing.assert_close(growth, torch.tensor(direction * 2 * 0.1 * 0.5 * 5.0, dtype=F64), rtol=1e-7, atol=0.0)
