"""Experiments on synthetic embedded behaviours (no model): split, speed rho, pair, misalign."""

from __future__ import annotations

import pytest
import torch

from prefdyn.numerics.persona.corpus import EmbeddedBehavior, EmbeddedCorpus
from prefdyn.numerics.persona.embedders import AnswerHead
from prefdyn.studies.experiments import (
    default_pair,
    misalignment,
    pair_priority,
    pair_sweep,
    speed_correlation,
)
from prefdyn.studies.training import TrainSettings, preference_data, split_mask

FAST = TrainSettings(beta=1.0, learning_rate=0.5, steps=30, batch_size=0, device="cpu")


def synthetic(deltas: list[float], n: int = 200, d: int = 8, noise: float = 0.5, seed: int = 0) -> EmbeddedCorpus:
    """Behaviour ``b``: g = s * delta_b e_b / 2 + noise, balanced signs (axis-aligned deltas)."""
    gen = torch.Generator().manual_seed(seed)
    parts = []
    for b, size in enumerate(deltas):
        sign = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0)
        g = noise * torch.randn(n, d, generator=gen)
        g[:, b] += sign * size / 2
        parts.append(EmbeddedBehavior(f"b{b}", g, sign, None))
    return EmbeddedCorpus(
        "synthetic", "{question}", (" Yes", " No"), AnswerHead(torch.zeros(2, d), 2, None), tuple(parts)
    )


def test_split_is_seeded_by_name_and_stratified() -> None:
    mask = split_mask(["a", "b"], [50, 30], 0.1, seed=0)
    assert mask.shape == (80,) and int((~mask[:50]).sum()) == 5 and int((~mask[50:]).sum()) == 3
    assert torch.equal(split_mask(["b"], [30], 0.1, 0), mask[50:])
    assert not torch.equal(split_mask(["b"], [30], 0.1, 1), mask[50:])


def test_preference_data_concatenates_behaviors() -> None:
    corpus = synthetic([1.0, 2.0], n=20)
    data = preference_data(corpus, 0.1, 0)
    assert data.g.shape == (40, 8) and data.behavior.tolist() == [0] * 20 + [1] * 20
    assert data.behavior_names == ("b0", "b1") and data.head is not None
    assert int((~data.train).sum()) == 4


def test_learning_speed_follows_distinguishability() -> None:
    corpus = synthetic([0.4, 0.8, 1.2, 1.6, 2.0, 2.4])
    result = speed_correlation(corpus, FAST, threshold=0.5, permutations=2000, resamples=200)
    assert result.rho_auc.rho == pytest.approx(-1.0)
    assert result.rho_auc.p_value < 0.01
    assert result.rho_steps.rho < -0.8
    aucs = [result.speeds[f"b{b}"].loss_auc for b in range(6)]
    assert aucs == sorted(aucs, reverse=True)


def test_pair_priority_predicts_the_first_learned() -> None:
    corpus = synthetic([0.5, 3.0])
    assert default_pair(corpus) == ("b1", "b0")
    r = pair_priority(corpus, "b0", "b1", FAST, threshold=0.5)
    assert r.gap < 0 and r.predicted_first == "b1" == r.observed_first and r.agrees
    # jointly, the weak behaviour is learned worse than alone (``priority``)
    assert r.joint[0].final_train_loss > r.alone[0].final_train_loss


def test_pair_sweep_correlates_gap_with_lead() -> None:
    corpus = synthetic([0.3, 0.9, 1.5, 2.1, 2.7])
    results, corr = pair_sweep(corpus, FAST, 0.5, pairs=10, permutations=2000)
    assert len(results) == 10 and all(r.agrees for r in results)
    assert corr is not None and corr.rho > 0.9


def test_misalignment_from_a_stationary_point_steps_twice_as_far() -> None:
    # overlapping classes: DPO (logistic) has a stationary point; misalignment-rate: ratio -> 2
    corpus = synthetic([1.0], n=400, d=4, noise=1.0)
    settings = TrainSettings(beta=1.0, learning_rate=0.5, steps=400, batch_size=0, device="cpu")
    m = misalignment(corpus, settings, flip_steps=50)
    assert m.first_step_ratio == pytest.approx(2.0, rel=0.02)
    assert m.steps_to_flip_from_reference == 1
    assert m.steps_to_flip_from_aligned > 1
    assert m.reward_accuracy_from_aligned[0] == pytest.approx(m.aligned_train_accuracy, abs=0.05)
