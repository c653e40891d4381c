"""Simulation against theory: the update-rate theorem, stability at extreme margins, devices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prefdyn.numerics.evaluate import evaluate, evaluate_theorem, loss_kernels, parameter_grid
from prefdyn.numerics.sampling import population_margin_vectors, sample_scenario
from prefdyn.numerics.scenario import class_means, parse_scenario, stratified_counts
from prefdyn.numerics.simulator import simulate
from prefdyn.theory.catalogue import get_theorem

UPDATE_RATE = {
    "training": {"beta": 0.7, "learning_rate": 0.4, "steps": 1, "samples": 40, "dim": 6, "seed": 1},
    "geometry": {"cosines": [[1, 0.6, 0], [0.6, 1, -0.3], [0, -0.3, 1]]},
    "behaviors": [
        {"name": "a", "weight": 0.5, "distinguishability": 2.0, "positive_fraction": 0.7, "offset": 0.5},
        {"name": "b", "weight": 0.3, "distinguishability": 1.5, "label_noise": 0.2, "noise": 0.8},
        {"name": "c", "weight": 0.2, "distinguishability": 1.0, "positive_fraction": 0.4, "offset": 1.0},
    ],
}


def _update_rate_inputs(sc):
    """Theorem inputs: p_b = n_b/n (stratified), Omega = <m_b, m_b'>, S_b = E[||g||^2 | b]."""
    counts = np.array([c[0] for c in stratified_counts(sc)])
    m = population_margin_vectors(sc)
    mu_plus, mu_minus = class_means(sc)
    q = np.array([b.positive_fraction for b in sc.behaviors])
    noise_power = np.array([b.noise**2 * sc.dim for b in sc.behaviors])
    second_moment = q * (mu_plus**2).sum(1) + (1 - q) * (mu_minus**2).sum(1) + noise_power
    return {
        "p": torch.tensor(counts / counts.sum()),
        r"\Omega": torch.tensor(m @ m.T),
        "S": torch.tensor(second_moment),
        "n": float(counts.sum()),
        "K": len(sc.behaviors),
        "beta": sc.training.beta,
        "eta": sc.training.learning_rate,
    }


def test_first_step_margin_equals_update_rate_theorem() -> None:
    theorem = get_theorem("update-rate")
    sc = parse_scenario(UPDATE_RATE)
    runs = 3000
    result = simulate(sample_scenario(sc, runs=runs), sc.training)
    margins = result.curve("margin", "train")[:, 1, :]  # [R, K]: per-run mean margin after step 1
    inputs = _update_rate_inputs(sc)
    for b in range(3):
        predicted = evaluate_theorem(theorem, {**inputs, "b": b + 1}, claim="finite-n self-term").item()
        without_self_term = evaluate_theorem(theorem, {**inputs, "b": b + 1}, claim="margin growth").item()
        # CLT: the mean over R i.i.d. runs is within 4 standard errors with prob. 1 - 6e-5.
        standard_error = margins[:, b].std().item() / math.sqrt(runs)
        assert abs(margins[:, b].mean().item() - predicted) <= 4 * standard_error, (b, predicted)
        # the 1/n self-term is resolved: dropping it is rejected by the same test
        assert abs(margins[:, b].mean().item() - without_self_term) > 4 * standard_error, b


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_no_nan_at_beta_1e3_and_huge_margins(dtype: torch.dtype) -> None:
    doc = {
        "training": {"beta": 1000.0, "learning_rate": 5.0, "steps": 6, "samples": 64, "dim": 4, "test_fraction": 0.25},
        "behaviors": [
            {"name": "wide", "weight": 0.5, "distinguishability": 20.0},
            {"name": "flat", "weight": 0.5, "distinguishability": 0.0, "noise": 3.0},
        ],
    }
    sc = parse_scenario(doc)
    result = simulate(sample_scenario(sc, runs=2, dtype=dtype), sc.training, dtype=dtype)
    assert result.curve("margin")[:, -1, 0].abs().max() > 1e4, "the test must reach huge margins"
    assert torch.isfinite(result.curves).all() and torch.isfinite(result.norms).all()
    kernels = loss_kernels("dpo")
    h = torch.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype)
    assert torch.isfinite(kernels.phi(h, torch.tensor(1e3, dtype=dtype))).all()
    assert torch.isfinite(kernels.dphi(h, torch.tensor(1e3, dtype=dtype))).all()


def test_bfloat16_storage_tracks_float32() -> None:
    """bf16 storage rounds each embedding coordinate to 8 mantissa bits (relative error
    <= 2^-9); margins move by well under 1% of their scale (measured: 6e-4), accuracy by a
    couple of samples (1/80 each) that sit at the decision boundary."""
    sc = parse_scenario({**UPDATE_RATE, "training": {**UPDATE_RATE["training"], "steps": 30, "samples": 400}})
    data = sample_scenario(sc, runs=4)
    full = simulate(data, sc.training, dtype=torch.float32)
    half = simulate(data, sc.training, dtype=torch.bfloat16)
    margin32, margin16 = full.curve("margin")[:, -1], half.curve("margin")[:, -1]
    assert ((margin16 - margin32).abs().max(1).values / margin32.abs().max(1).values).max() < 0.005
    assert (half.curve("accuracy")[:, -1] - full.curve("accuracy")[:, -1]).abs().max() <= 0.03


def test_theory_on_tensors_broadcasts_over_a_grid() -> None:
    loss = loss_kernels("dpo").loss
    grid = parameter_grid(h=[-2.0, 0.0, 2.0], beta=[0.1, 1.0])
    values = evaluate(loss.bind(loss.dphi), grid)
    assert values.shape == (3, 2)
    assert torch.allclose(values, -torch.sigmoid(-grid["h"]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_agrees_with_cpu() -> None:
    # Same data (sampled on the CPU); only the float32 arithmetic differs. Over 30 steps the
    # rounding differences stay ~1e-6 relative; 1e-4 leaves a wide margin.
    sc = parse_scenario({**UPDATE_RATE, "training": {**UPDATE_RATE["training"], "steps": 30}})
    data = sample_scenario(sc, runs=8, dtype=torch.float32)
    cpu = simulate(data, sc.training, device="cpu")
    gpu = simulate(data, sc.training, device="cuda")
    assert torch.allclose(cpu.curve("margin"), gpu.curve("margin"), rtol=1e-4, atol=1e-6)
    assert torch.allclose(cpu.rows, gpu.rows, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_a_square_matrix_keeps_two_axes_at_every_dimension(dim: int) -> None:
    """The printed accuracy claim realised at ``dim`` reads a d x d covariance by two trailing
    axes even at d = 1, where it is 1 x 1 like a column; it equals the closed form
    q Phi(D.mu+/sqrt(D'SD)) + (1 - q) Phi(-D.mu-/sqrt(D'SD)) evaluated by hand, shape [R, K]."""
    from prefdyn.numerics.evaluate import claim_function

    generator = torch.Generator().manual_seed(dim)
    runs, behaviors = 5, 2
    delta = torch.randn(runs, 1, dim, generator=generator, dtype=torch.float64)
    plus, minus = (torch.randn(1, behaviors, dim, generator=generator, dtype=torch.float64) for _ in range(2))
    root = torch.randn(behaviors, dim, dim, generator=generator, dtype=torch.float64)
    cov = (root @ root.transpose(-1, -2) + torch.eye(dim, dtype=torch.float64))[None]
    q = torch.tensor([[0.3, 0.8]], dtype=torch.float64)
    values = {r"\Delta": delta, r"\mu_b^+": plus, r"\mu_b^-": minus, r"\Sigma_b^+": cov, r"\Sigma_b^-": cov, "q_b": q}
    claimed = claim_function("accuracy-gaussian", "accuracy", loss="dpo", dim=dim)(values)
    spread = torch.einsum("rkd,rkde,rke->rk", delta.expand(-1, behaviors, -1), cov, delta.expand(-1, behaviors, -1))
    normal = torch.distributions.Normal(0.0, 1.0)
    by_hand = q * normal.cdf((delta * plus).sum(-1) / spread.sqrt()) + (1 - q) * normal.cdf(
        -(delta * minus).sum(-1) / spread.sqrt()
    )
    assert claimed.shape == (runs, behaviors)
    torch.testing.assert_close(claimed, by_hand)
