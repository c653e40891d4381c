"""Structured sampling: geometry, stratified counts, noise families, label noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prefdyn.numerics.noise import DISTRIBUTIONS, standard_noise
from prefdyn.numerics.sampling import population_margin_vectors, sample_scenario
from prefdyn.numerics.scenario import class_means, parse_scenario, stratified_counts

COS = [[1.0, 0.5, -0.2], [0.5, 1.0, 0.0], [-0.2, 0.0, 1.0]]


def doc(**behavior_b):
    return {
        "training": {"steps": 1, "samples": 3000, "dim": 5, "seed": 4},
        "geometry": {"cosines": COS},
        "behaviors": [
            {"name": "a", "weight": 0.5, "distinguishability": 2.0, "offset": 1.5, "positive_fraction": 0.8},
            {"name": "b", "weight": 0.3, "distinguishability": 1.0, **behavior_b},
            {"name": "c", "weight": 0.2, "distinguishability": 3.0, "label_noise": 0.25},
        ],
    }


def test_class_means_follow_the_geometry() -> None:
    sc = parse_scenario(doc())
    plus, minus = class_means(sc)
    delta = plus - minus
    norms = np.linalg.norm(delta, axis=1)
    assert np.allclose(norms, [2.0, 1.0, 3.0])
    assert np.allclose((delta @ delta.T) / np.outer(norms, norms), COS)
    centre = (plus + minus) / 2
    assert np.allclose(np.linalg.norm(centre, axis=1), [1.5, 0, 0])
    assert np.allclose(centre @ delta.T, 0), "offsets are orthogonal to every delta"


def test_stratified_counts_sum_and_split() -> None:
    sc = parse_scenario({**doc(), "training": {"steps": 1, "samples": 101, "dim": 5, "test_fraction": 0.3}})
    counts = stratified_counts(sc)
    totals = [a + b for a, b in counts]
    assert sum(totals) == 101 and totals == [51, 30, 20]  # 50.5 takes the largest remainder
    assert [b for _, b in counts] == [round(0.3 * t) for t in totals]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_noise_has_unit_variance(distribution: str) -> None:
    z = standard_noise(distribution, (200_000,), torch.Generator().manual_seed(0), shape_param=0.7, df=6.0)
    # the variance estimate's standard error is sqrt((kurtosis - 1)/N); Student-t(6) has
    # excess kurtosis 3 (and heavy tails), gennorm(0.7) ~ 6.5: 0.05 is > 5 standard errors.
    assert abs(z.mean().item()) < 0.02
    assert abs(z.var().item() - 1) < 0.05


def test_gennorm_at_the_smallest_shape_stays_finite() -> None:
    # alpha = 0.1: |X| = scale * G^10 with G ~ Gamma(10); formed in logs it cannot overflow.
    z = standard_noise("gennorm", (100_000,), torch.Generator().manual_seed(1), shape_param=0.1, df=5.0)
    assert torch.isfinite(z).all() and z.abs().max() > 0


def test_full_covariance_and_label_noise_moments() -> None:
    corr = np.eye(5)
    corr[0, 1] = corr[1, 0] = 0.6
    scales = [1.0, 2.0, 0.5, 1.0, 1.0]
    sc = parse_scenario(doc(noise=0.5, distribution="laplace", noise_scales=scales, noise_correlation=corr.tolist()))
    data = sample_scenario(sc, runs=4)
    g, s, behavior = data.g.reshape(-1, 5), data.s.reshape(-1), data.behavior.repeat(4)
    _plus, minus = class_means(sc)
    m = population_margin_vectors(sc)
    for b in range(3):
        sg = (s[:, None] * g)[behavior == b].mean(0).numpy()
        # E[s g | b] = m_b; each coordinate's sample mean has standard error <= ~3/sqrt(N_b)
        assert np.abs(sg - m[b]).max() < 4 * 3 / np.sqrt((behavior == b).sum().item()), b
    # behaviour b's covariance within the negative class: sigma^2 D C D
    mask = (behavior == 1) & (s < 0)
    noise = g[mask] - torch.from_numpy(minus[1])
    expected = 0.25 * np.outer(scales, scales) * corr
    assert np.abs(np.cov(noise.numpy().T) - expected).max() < 0.1


def test_heavy_tails_are_heavier() -> None:
    gen = torch.Generator().manual_seed(1)
    kurt = {
        d: (standard_noise(d, (100_000,), gen, df=5.0) ** 4).mean().item() for d in ("gaussian", "laplace", "student-t")
    }
    assert kurt["gaussian"] < kurt["laplace"] < kurt["student-t"]
