"""Per-behaviour statistics, priority level, Spearman's rho and tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats as sps

from prefdyn.studies.stats import behavior_stats, priority_level, spearman
from prefdyn.tables import to_csv, to_latex


def _classes(n: int = 400, d: int = 12, shift: float = 1.0, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    sign = torch.where(torch.rand(n, generator=gen) < 0.4, 1.0, -1.0)
    g = torch.randn(n, d, generator=gen) * torch.linspace(0.5, 2.0, d)
    g[sign > 0, 0] += shift
    return g, sign


def test_point_estimates_match_direct_formulas() -> None:
    g, sign = _classes()
    st = behavior_stats("b", g, sign, resamples=50)
    pos, neg = g[sign > 0].double(), g[sign < 0].double()
    covs = [torch.cov(x.T, correction=0) for x in (pos, neg)]
    assert st.balance == pytest.approx(len(pos) / len(g))
    assert st.distinguishability == pytest.approx(float((pos.mean(0) - neg.mean(0)).norm()))
    assert st.concentration == pytest.approx(max(float(torch.linalg.matrix_norm(c, 2)) for c in covs), rel=1e-9)
    assert st.trace == pytest.approx(max(float(c.trace()) for c in covs))


def test_bootstrap_intervals_cover_the_truth_and_debias() -> None:
    # true ||delta|| = 1 and per-class covariance diag(linspace(0.5, 2)^2): spectral norm 4
    g, sign = _classes(n=3000, d=12, seed=1)
    st = behavior_stats("b", g, sign, resamples=300, seed=1)
    assert st.distinguishability_ci.low < 1.0 < st.distinguishability_ci.high
    assert st.distinguishability_debiased_ci.low < 1.0 < st.distinguishability_debiased_ci.high
    assert st.concentration_ci.low < 4.0 < st.concentration_ci.high
    truth_trace = float((torch.linspace(0.5, 2.0, 12) ** 2).sum())
    assert st.trace_ci.low < truth_trace * 1.02 and st.trace_ci.high > truth_trace * 0.98
    # in high dimension the plug-in norm is inflated by the sampling noise; the debiased is not
    g, sign = _classes(n=1000, d=200, seed=2)
    st = behavior_stats("b", g, sign, resamples=50)
    assert st.distinguishability > 1.4 and abs(st.distinguishability_debiased - 1.0) < 0.2


def test_bootstrap_is_seeded() -> None:
    g, sign = _classes()
    assert behavior_stats("b", g, sign, seed=3) == behavior_stats("b", g, sign, seed=3)
    assert behavior_stats("b", g, sign, seed=3) != behavior_stats("b", g, sign, seed=4)


def test_priority_level_formula() -> None:
    d_i, d_j = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 1.0])
    p_i, p_j, gap = priority_level(d_i, d_j)
    norm = float(np.hypot(1.5, 0.5))
    assert (p_i, p_j) == pytest.approx((4.5 / norm, 0.5 / norm))
    assert gap == pytest.approx((p_i - p_j) / 3)
    assert priority_level(d_j, d_i)[2] == pytest.approx(-gap)


def test_spearman_matches_scipy_and_is_significant_only_when_related() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = -x + 0.5 * rng.normal(size=40)
    c = spearman(x, y, permutations=2000, resamples=500)
    assert c.rho == pytest.approx(sps.spearmanr(x, y).statistic)
    assert c.p_value < 0.01 and c.ci.low < c.rho < c.ci.high < 0
    noise = spearman(x, rng.normal(size=40), permutations=2000, resamples=500)
    assert noise.p_value > 0.05 and noise.ci.low < 0 < noise.ci.high
    ties = spearman([1, 2, 3, 4], [5, 5, 5, 6], permutations=200, resamples=50)
    assert ties.rho == pytest.approx(sps.spearmanr([1, 2, 3, 4], [5, 5, 5, 6]).statistic)


def test_tables() -> None:
    rows = [{"name": "a_b", "x": 0.123456}, {"name": "c&d", "x": 2.0}]
    assert to_csv(rows, ["name", "x"]).splitlines() == ["name,x", "a_b,0.123456", "c&d,2.0"]
    tex = to_latex(rows, ["name", "x"], caption="t")
    for part in (
        r"\toprule",
        r"\midrule",
        r"\bottomrule",
        r"a\_b & 0.123 \\",
        r"c\&d & 2 \\",
        r"\begin{tabular}{lr}",
        r"\caption{t}",
    ):
        assert part in tex
