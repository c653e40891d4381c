"""``prefdyn predict`` against ``prefdyn simulate`` and the worked example of ``priority``.

Agreement tolerance (Gaussian scenario, n = 20000 samples, so n_b = 10^4 per behaviour, 4 runs,
float64, 30 full-batch steps): the simulated curve is a training-set average, so it differs from
the population value by sampling error, O(1/sqrt(n_b)), and by the finite-sample error of the
learnt direction, O(sqrt(d/n)). We allow 4 * sd / sqrt(n_b) for accuracy (sd = 1/2) and margin /
loss / log-prob changes (sd = the population margin std), and 2 * sqrt(d / n) relative for the weight
norm: 0.02 for accuracy, about 0.05 for margins, 6% for ||W - W_ref||.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from prefdyn.cli import main

WORKED = """
name = "worked-example"
[training]
loss = "dpo"
beta = 1.0
learning_rate = 2.0
steps = {steps}
samples = {samples}
dim = 16
seed = 7
{phases}
[[behaviors]]
name = "strong"
weight = 0.5
distinguishability = 3.0
noise = 1.0
distribution = "{dist}"
[[behaviors]]
name = "weak"
weight = 0.5
distinguishability = 1.0
noise = 1.0
distribution = "{dist}"
"""

FLIP_PHASES = """
[[phases]]
name = "align-first"
steps = 1
[[phases]]
name = "align"
steps = 199
[[phases]]
name = "flip"
steps = 1
labels = "flipped"
"""


def _scenario(tmp_path: Path, steps: int = 1, samples: int = 20000, phases: str = "", dist: str = "gaussian") -> str:
    path = tmp_path / "scenario.toml"
    path.write_text(WORKED.format(steps=steps, samples=samples, phases=phases, dist=dist))
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_worked_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Values fixed independently in tests/test_trajectory_numerics.py (scipy quadrature)."""
    one = _run(capsys, "predict", _scenario(tmp_path), "--json")
    assert [round(b["accuracy"]["mean"][1], 4) for b in one["behaviors"]] == [0.9226, 0.5628]
    fixed = _run(capsys, "predict", _scenario(tmp_path), "--steps", "200", "--json")
    assert [round(b["accuracy"]["mean"][-1], 4) for b in fixed["behaviors"]] == [0.8972, 0.6058]
    alone = [0.5 * (1 + math.erf(x / math.sqrt(2))) for x in (1.5, 0.5)]
    assert all(b["accuracy"]["mean"][-1] < a for b, a in zip(fixed["behaviors"], alone))


def test_predict_matches_simulate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _scenario(tmp_path, steps=30)
    sim = _run(capsys, "simulate", path, "--runs", "4", "--dtype", "float64", "--seed", "1", "--json")
    pred = _run(capsys, "predict", path, "--json")
    assert pred["prediction"] == "population-gd" and pred["steps"] == sim["steps"]
    curves = {k for k, v in sim["behaviors"][0].items() if isinstance(v, dict) and "mean" in v}
    assert curves <= set(pred["behaviors"][0])
    n_b, d, n = 10_000, 16, 20_000
    for s, p in zip(sim["behaviors"], pred["behaviors"]):
        sd = p["margin_std"]["mean"][-1]
        for metric, tol in [
            ("accuracy", 4 * 0.5 / math.sqrt(n_b)),
            ("reward_accuracy", 4 * 0.5 / math.sqrt(n_b)),
            ("margin", 4 * sd / math.sqrt(n_b)),
            ("loss", 4 * sd / math.sqrt(n_b)),
            ("chosen_logp_change", 4 * sd / math.sqrt(n_b)),
        ]:
            for t in (1, 10, 30):
                assert abs(s[metric]["mean"][t] - p[metric]["mean"][t]) < tol, (metric, t)
    for t in (1, 10, 30):
        w_sim, w_pred = sim["weight_change_opnorm"]["mean"][t], pred["weight_change_opnorm"]["mean"][t]
        assert abs(w_sim / w_pred - 1) < 2 * math.sqrt(d / n)


def test_misalignment_ratio_two_in_simulated_align_then_flip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Full-batch DPO to the empirical stationary point (200 steps), then one flipped step: the mean
    margin of every behaviour moves -2 x its first alignment step (exact for the empirical law)."""
    path = _scenario(tmp_path, steps=201, samples=2000, phases=FLIP_PHASES)
    for argv in (
        ("simulate", path, "--runs", "1", "--dtype", "float64", "--record-every", "0", "--json"),
        ("predict", path, "--json"),
    ):
        doc = _run(capsys, *argv)
        at = {step: i for i, step in enumerate(doc["steps"])}
        for b in doc["behaviors"]:
            m = b["margin"]["mean"]
            ratio = (m[at[201]] - m[at[200]]) / (m[at[1]] - m[at[0]])
            assert ratio == pytest.approx(-2.0, abs=1e-6)


def test_bounds_only_for_non_gaussian(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _run(capsys, "predict", _scenario(tmp_path, steps=5, dist="laplace"), "--json")
    assert doc["prediction"] == "bounds-only" and doc["bounds_available"]
    for b in doc["behaviors"]:
        assert "accuracy" not in b and len(b["accuracy_lower_bound"]["mean"]) == 6
    # Informative for a well-separated behaviour (||delta|| = 20 sigma) after one step, and a true
    # lower bound on the simulated accuracy at every step (20,000 samples: SE < 0.004).
    separated = _scenario(tmp_path, steps=5, dist="laplace").replace("scenario.toml", "separated.toml")
    Path(separated).write_text(
        Path(_scenario(tmp_path, steps=5, dist="laplace"))
        .read_text()
        .replace("distinguishability = 3.0", "distinguishability = 20.0")
    )
    bound = _run(capsys, "predict", separated, "--json")["behaviors"][0]["accuracy_lower_bound"]["mean"]
    simulated = _run(capsys, "simulate", separated, "--runs", "2", "--json")["behaviors"][0]["accuracy"]["mean"]
    assert bound[1] > 0.5
    assert all(b <= s for b, s in zip(bound, simulated))
    heavy = _run(capsys, "predict", _scenario(tmp_path, steps=5, dist="student-t"), "--json")
    assert not heavy["bounds_available"] and "psi_alpha" in heavy["reason"]


def test_no_finite_step_size_is_null_not_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the hinge has sup|phi''| = infinity: stable-step-size gives no step, which JSON says as null
    hinge = Path(_scenario(tmp_path, steps=2))
    hinge.write_text(hinge.read_text().replace('loss = "dpo"', 'loss = "hinge"'))
    assert _run(capsys, "predict", str(hinge), "--json")["max_learning_rate"] is None
    assert _run(capsys, "predict", _scenario(tmp_path, steps=2), "--json")["max_learning_rate"] > 0
