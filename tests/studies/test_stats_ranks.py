"""Spearman p-values a referee can trust: exact over all n! permutations for n <= 10 (never
below the test's resolution, 2/n! without ties), a seeded permutation test above, and text that
prints a p-value at the resolution as ``< r`` -- in the persona lines and the report's speed
figure (which used scipy's asymptotic p = 3.3e-5 for n = 8, below 2/8! = 5.0e-5)."""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import stats as sps

from prefdyn.cli._persona_options import spearman_text
from prefdyn.studies.stats import EXACT_MAX_N, all_permutations, exact_spearman_p, spearman


def test_perfect_ranking_of_eight_is_at_the_exact_resolution() -> None:
    c = spearman(np.arange(8.0), -(np.arange(8.0) ** 3))
    assert c.rho == -1.0 and c.method == "exact" and c.permutations == math.factorial(8)
    assert c.p_value == pytest.approx(2 / math.factorial(8)) and c.p_resolution == c.p_value
    assert c.p_value > sps.spearmanr(np.arange(8.0), -(np.arange(8.0) ** 3) + 1e-9 * np.arange(8)).pvalue
    line = spearman_text("x, y", asdict(c))
    assert "exact p < 5.0e-05" in line and "(n = 8)" in line


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_p_matches_brute_force_enumeration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=6)
    y = np.round(x + rng.normal(size=6))  # ties in y
    rho = sps.spearmanr(x, y).statistic
    null = [abs(sps.spearmanr(x, y[list(p)]).statistic) for p in itertools.permutations(range(6))]
    p, resolution = exact_spearman_p(x, y)
    assert p == pytest.approx(np.mean(np.array(null) >= abs(rho) - 1e-12), abs=1e-15)
    assert resolution == pytest.approx(np.mean(np.isclose(null, max(null))))
    assert p >= resolution


def test_all_permutations_are_distinct() -> None:
    perms = all_permutations(5)
    assert perms.shape == (120, 5) and len({tuple(p) for p in perms.tolist()}) == 120
    assert all(sorted(p) == list(range(5)) for p in perms.tolist())


def test_large_n_is_a_seeded_permutation_test() -> None:
    x = np.arange(EXACT_MAX_N + 2.0)
    c = spearman(x, x, permutations=999, seed=4)
    assert c.method == "permutation" and c.p_resolution == pytest.approx(1 / 1000)
    assert c.p_value == pytest.approx(1 / 1000)  # never below 1/(P + 1)
    assert spearman(x, x, permutations=999, seed=4) == c
    assert "permutation p <= 1.0e-03" in spearman_text("x, y", asdict(c))  # p is exactly 1/(P + 1)


def test_report_speed_scatter_uses_the_exact_test() -> None:
    """The report's synthetic sweep has 8 behaviours; a perfectly monotone loss area gets the
    exact p = 2/8!, printed ``< 5.0e-05``, not the asymptotic 3.3e-5."""
    from prefdyn.numerics import default_scenario
    from prefdyn.reporting import sources, variants

    sweep = variants.speed_sweep(default_scenario())
    K = len(sweep.behaviors)
    area = torch.linspace(0.7, 0.3, K).expand(3, 5, K).clone()  # [R, T, K], falling with distinguishability
    fake = SimpleNamespace(curve=lambda metric, split: area)
    scatter = sources.speed_scatter(sweep, fake)  # type: ignore[arg-type]
    assert K == 8 and scatter.p_method == "exact"
    assert scatter.p_value == pytest.approx(2 / math.factorial(8))
    assert scatter.p_text() == "exact p < 5.0e-05"
