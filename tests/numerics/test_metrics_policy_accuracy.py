"""Policy accuracy P(log pi_W(y_w|x) > log pi_W(y_l|x)) beside reward accuracy P(h > 0).

(a) The simulator's ``policy_accuracy`` equals a direct per-sample count through a real
    ``torch.log_softmax`` of the full V-way head, at several steps, in every optimizer path.
(b) With W_ref = 0 it equals ``reward_accuracy`` exactly (simulator, population theory, predict).
(c) ``prefdyn predict``'s policy accuracy (the reward formula at Delta + w) agrees with
    ``prefdyn simulate``'s within a CLT radius on a scenario whose reference head favours the
    rejected answer, so that the two accuracies differ by far at step 0.

CLT radius of (c): every compared curve is the mean over R = 64 independent runs (own data, same
reference head) of a per-run average over the m_b = 2000 held-out samples of a behaviour. Its
error is the run-to-run spread (sampling of the held-out set *and* of the learnt Delta) divided by
sqrt(R), estimated from the runs: radius = 5 s / sqrt(R), s the sample std over runs. Under the
model the standardised error is Student-t with 63 degrees of freedom: P(|T| > 5) = 4.9e-6 per
comparison; the at most 48 comparisons of one parametrisation give a family-wise false-alarm rate
<= 2.4e-4 (Bonferroni), and <= 4.7e-4 over both parametrisations. Held-out samples make each run's
value an unbiased estimate of the population accuracy at its own Delta; what the model neglects
(the O(1/n) bias of the learnt Delta, n = 4000 training samples per run; the quadrature error,
< 1e-9) is far below the radius (about 0.006 for an accuracy). Seeds are fixed, so the test is
deterministic; the budget says how likely a correct implementation is to fail under another seed.
"""

from __future__ import annotations

import copy
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
import torch

from prefdyn.cli import main
from prefdyn.numerics.data import PreferenceData, ReferenceHead
from prefdyn.numerics.population import (
    GaussianMixture,
    gaussian_accuracy,
    gaussian_policy_accuracy,
    population_gd,
)
from prefdyn.numerics.reference import train_reference
from prefdyn.numerics.sampling import reference_matrix, sample_scenario
from prefdyn.numerics.scenario import load_scenario, parse_scenario
from prefdyn.numerics.simulator import simulate

BASE: dict[str, Any] = tomllib.loads(
    (Path(__file__).resolve().parents[1] / "data" / "three-behaviors.toml").read_text()
)

OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd-full": {"optimizer": "sgd"},
    "sgd-minibatch": {"optimizer": "sgd", "batch_size": 13},
    "adam": {"optimizer": "adam", "learning_rate": 0.05, "batch_size": 16},
    # w_1 + w_2 != 0: the simulator tracks both answer rows
    "adamw": {"optimizer": "adamw", "learning_rate": 0.05, "weight_decay": 0.3},
}


def small_scenario(**training: Any) -> Any:
    doc = copy.deepcopy(BASE)
    doc["training"].update(training)
    return parse_scenario(doc)


def with_head(data: PreferenceData, w_ref: torch.Tensor) -> PreferenceData:
    head = ReferenceHead.from_matrix(w_ref, data.g)
    return PreferenceData(data.g, data.s, data.behavior, data.train, data.behavior_names, head)


@pytest.mark.parametrize("vocab", [2, 7])
@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_policy_accuracy_equals_full_log_softmax(case: str, vocab: int) -> None:
    """(a) Count [log_softmax(W_t g)[y_w] > log_softmax(W_t g)[y_l]] per behaviour and split with
    the full V x d head W_t = W_ref + (autograd-trained answer rows); the simulator's mean must be
    the same count (one flipped sample would move a group mean by 1/size >= 1/25)."""
    sc = small_scenario(**OPTIMIZERS[case])
    base = sample_scenario(sc, runs=2, seed=4)
    w_ref = 1.5 * torch.randn(vocab, base.dim, generator=torch.Generator().manual_seed(17), dtype=torch.float64)
    data = with_head(base, w_ref)
    result = simulate(data, sc.training, seed=4)
    assert result.steps == list(range(13))
    differs = False
    for r in range(2):
        history = train_reference(data.g[r], data.s[r], data.train, w_ref, sc.training, seed=4, run=r)
        for t in (0, 1, 6, 12):
            w = w_ref.clone()
            w[:2] += history[t]
            logp = torch.log_softmax(data.g[r] @ w.T, dim=-1)
            win = (data.s[r] < 0).long()  # s = +1: response 1 (row 0) is preferred
            correct = (logp.gather(1, win[:, None]) > logp.gather(1, (1 - win)[:, None])).squeeze(1).double()
            for split, mask in (("train", data.train), ("test", ~data.train)):
                got = result.curve("policy_accuracy", split)[r, t]
                reward = result.curve("reward_accuracy", split)[r, t]
                for b in range(3):
                    expected = correct[mask & (data.behavior == b)].mean()
                    assert torch.isclose(got[b], expected, rtol=0, atol=1e-12), (case, vocab, r, t, split, b)
                    differs |= bool(got[b] != reward[b])
    assert differs, "a nonzero reference must make policy and reward accuracy differ somewhere"
    assert torch.equal(result.curve("policy_accuracy", "test"), result.curve("accuracy", "test"))


@pytest.mark.parametrize("vocab", [None, 5])
@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_zero_reference_policy_equals_reward_accuracy(case: str, vocab: int | None) -> None:
    """(b) W_ref = 0 (no head, or a zero V = 5 head): the policy's logit gap is rho itself."""
    sc = small_scenario(**OPTIMIZERS[case])
    data = sample_scenario(sc, runs=3, seed=1)
    if vocab is not None:
        data = with_head(data, torch.zeros(vocab, data.dim, dtype=torch.float64))
    result = simulate(data, sc.training, seed=1)
    for split in ("train", "test"):
        assert torch.equal(result.curve("policy_accuracy", split), result.curve("reward_accuracy", split))
    for b in result.summary()["behaviors"]:
        assert b["policy_accuracy"] == b["accuracy"] == b["reward_accuracy"]
        assert b["test"]["policy_accuracy"] == b["test"]["reward_accuracy"]


def test_theory_policy_accuracy_is_reward_formula_at_delta_plus_w() -> None:
    """(b, theory) gaussian_policy_accuracy(Delta, w) = gaussian_accuracy(Delta + w), = the
    reward accuracy when w = 0; and the docstring's two-Phi formula for one behaviour."""
    mix = GaussianMixture.isotropic([0.5, 0.5], [3.0, 1.0], 1.0, dim=4, positive_fraction=0.8)
    delta = torch.tensor([[0.3, -0.2, 0.1, 0.0], [1.0, 2.0, -1.0, 0.5]], dtype=torch.float64)
    w = torch.tensor([-0.4, 0.1, 0.7, -0.2], dtype=torch.float64)
    assert torch.equal(gaussian_policy_accuracy(mix, delta), gaussian_accuracy(mix, delta))
    assert torch.equal(
        gaussian_policy_accuracy(mix, delta, torch.zeros(4, dtype=torch.float64)), gaussian_accuracy(mix, delta)
    )
    got = gaussian_policy_accuracy(mix, delta, w)
    v = delta + w
    mu_plus, mu_minus = mix.means[0]  # behaviour 0, Sigma = I
    norm = v.norm(dim=-1)
    Phi = torch.special.ndtr
    expected = 0.8 * Phi(v @ mu_plus / norm) + 0.2 * Phi(-(v @ mu_minus) / norm)
    torch.testing.assert_close(got[:, 0], expected, rtol=0, atol=1e-15)
    # a tie counts one half, as in the simulator: Acc(0) = 1/2 without a reference (point mass at 0)
    assert gaussian_accuracy(mix, torch.zeros(4, dtype=torch.float64)).tolist() == [0.5, 0.5]
    traj = population_gd(mix, "dpo", beta=1.0, learning_rate=1.0, steps=3)
    assert torch.equal(traj.policy_accuracy, traj.accuracy)


SCENARIO = """
name = "reference-against"
[training]
loss = "dpo"
beta = 1.0
learning_rate = {lr}
steps = 20
samples = 8000
test_fraction = 0.5
dim = 3
seed = 3
optimizer = "{optimizer}"
weight_decay = {decay}
[[behaviors]]
name = "skewed"
weight = 0.5
positive_fraction = 0.9
distinguishability = 1.5
noise = 1.0
offset = 2.0
[[behaviors]]
name = "balanced"
weight = 0.5
distinguishability = 1.0
noise = 1.0
[reference]
vocab = {vocab}
scale = {scale}
"""
RUNS = 64
STEPS = (0, 1, 5, 20)
#: Student-t(63) quantile used as the radius in standard errors (module docstring)
Z = 5.0


def _write(
    tmp_path: Path, *, optimizer: str = "sgd", lr: float = 0.5, decay: float = 0.0, vocab: int = 2, scale: float = 1.0
) -> str:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO.format(optimizer=optimizer, lr=lr, decay=decay, vocab=vocab, scale=scale))
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _simulate_and_predict(capsys: pytest.CaptureFixture[str], path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    sim = _run(
        capsys, "simulate", path, "--runs", str(RUNS), "--seed", "3", "--device", "cpu", "--dtype", "float64", "--json"
    )
    pred = _run(capsys, "predict", path, "--seed", "3", "--json")
    assert pred["prediction"] == "population-gd" and pred["steps"] == sim["steps"]
    return sim, pred


def _assert_within_clt(sim_curve: dict[str, Any], pred_curve: dict[str, Any], what: tuple[Any, ...]) -> None:
    for t in STEPS:
        spread = sim_curve["std"][t] * math.sqrt(RUNS / (RUNS - 1))  # JSON std is the population std
        radius = Z * spread / math.sqrt(RUNS) + 1e-12  # + float64 rounding where both are exact (step 0)
        error = abs(sim_curve["mean"][t] - pred_curve["mean"][t])
        assert error <= radius, (*what, t, error, radius)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_predicted_policy_accuracy_matches_simulation(
    optimizer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """(c) The reference head of seed 3 (||w|| = 3.75) points against the answer preferred by 90%
    of "skewed": policy accuracy 0.20 at step 0 while the reward accuracy is exactly 1/2 (every h = 0 is a
    tie, counted one half). AdamW with decay: both answer rows tracked (w_1 + w_2 != 0)."""
    settings: dict[str, Any] = {"optimizer": "adamw", "lr": 0.05, "decay": 0.5} if optimizer == "adamw" else {}
    path = _write(tmp_path, **settings)
    w = reference_matrix(load_scenario(path), 3)
    assert w is not None and float((w[0] + w[1]).abs().max()) > 0.1
    sim, pred = _simulate_and_predict(capsys, path)
    skewed = pred["behaviors"][0]
    assert skewed["policy_accuracy"]["mean"][0] == pytest.approx(0.2015, abs=1e-4)
    assert skewed["reward_accuracy"]["mean"][0] == 0.5 == sim["behaviors"][0]["test"]["reward_accuracy"]["mean"][0]
    assert skewed["accuracy"] == skewed["policy_accuracy"]
    assert skewed["reward_accuracy"]["mean"][-1] - skewed["policy_accuracy"]["mean"][-1] > 0.3
    for s, p in zip(sim["behaviors"], pred["behaviors"]):
        for metric in (
            "policy_accuracy",
            "accuracy",
            "reward_accuracy",
            "margin",
            "chosen_logp_change",
            "rejected_logp_change",
        ):
            _assert_within_clt(s["test"][metric], p[metric], (optimizer, s["name"], metric))
    for t in STEPS[1:]:  # ||W - W_ref||: the learnt Delta's finite-sample error, 2 sqrt(d / n) relative
        for norm in ("weight_change_opnorm", "weight_change_frobenius"):
            ratio = sim[norm]["mean"][t] / pred[norm]["mean"][t]
            assert abs(ratio - 1) < 2 * math.sqrt(3 / 4000), (norm, t, ratio)


def test_zero_scale_wide_head_log_prob_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """W_ref = 0 with V = 5 rows: policy = reward accuracy, and the log-prob changes use the
    V-way normaliser (E[+-rho/2 - log(e^{rho/2} + e^{-rho/2} + 3)] + log 5)."""
    sim, pred = _simulate_and_predict(capsys, _write(tmp_path, vocab=5, scale=0.0))
    for s, p in zip(sim["behaviors"], pred["behaviors"]):
        assert p["policy_accuracy"] == p["reward_accuracy"] == p["accuracy"]
        for metric in ("policy_accuracy", "chosen_logp_change", "rejected_logp_change"):
            _assert_within_clt(s["test"][metric], p[metric], ("V=5", s["name"], metric))


def test_wide_nonzero_head_leaves_log_prob_changes_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pred = _run(capsys, "predict", _write(tmp_path, vocab=6, scale=0.5), "--json")
    assert set(pred["unavailable"]) == {"chosen_logp_change", "rejected_logp_change"}
    assert all("chosen_logp_change" not in b and "policy_accuracy" in b for b in pred["behaviors"])
    assert main(["predict", _write(tmp_path, vocab=6, scale=0.5)]) == 0
    assert "reference head: V = 6" in capsys.readouterr().out
