"""The batched closed-form simulator against the plain autograd reference, and its invariants."""

from __future__ import annotations

import copy
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from prefdyn.numerics.data import PreferenceData, ReferenceHead
from prefdyn.numerics.reference import train_reference
from prefdyn.numerics.sampling import sample_scenario
from prefdyn.numerics.scenario import parse_scenario
from prefdyn.numerics.simulator import simulate

BASE = tomllib.loads((Path(__file__).resolve().parents[1] / "data" / "three-behaviors.toml").read_text())


def scenario(**training):
    doc = copy.deepcopy(BASE)
    doc["training"].update(training)
    return parse_scenario(doc)


def with_head(data: PreferenceData, vocab: int, seed: int = 11) -> tuple[PreferenceData, torch.Tensor]:
    """Attach a random nonzero V-way reference head (shared by the runs)."""
    w_ref = 0.7 * torch.randn(vocab, data.dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    head = ReferenceHead.from_matrix(w_ref, data.g)
    return PreferenceData(data.g, data.s, data.behavior, data.train, data.behavior_names, head), w_ref


CASES = {
    "sgd-full": {"optimizer": "sgd"},
    "sgd-minibatch": {"optimizer": "sgd", "batch_size": 13},
    "adam": {"optimizer": "adam", "learning_rate": 0.05, "batch_size": 16},
    "adamw": {"optimizer": "adamw", "learning_rate": 0.05, "weight_decay": 0.3},
    "ipo": {"loss": "ipo", "learning_rate": 0.05},
    "hinge-minibatch": {"loss": "hinge", "batch_size": 7},
}


@pytest.mark.parametrize("vocab", [2, 7])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_equals_autograd_reference(case: str, vocab: int) -> None:
    # float64 throughout: the two paths differ only in summation order, so 1e-6 relative is
    # many orders above rounding (~1e-15 per op, a few hundred ops) yet catches any real slip.
    sc = scenario(**CASES[case])
    data, w_ref = with_head(sample_scenario(sc, runs=3, seed=5), vocab)
    result = simulate(data, sc.training, seed=5)
    for r in range(3):
        ref = train_reference(data.g[r], data.s[r], data.train, w_ref, sc.training, seed=5, run=r)
        final = ref[-1]
        assert final.abs().max() > 1e-3, "training must have moved the head"
        rel = (result.rows[r] - final).abs().max() / final.abs().max()
        assert rel <= 1e-6, f"{case} V={vocab} run {r}: relative difference {rel:.3g}"


def test_metrics_equal_full_softmax_at_the_end() -> None:
    """Accuracy and log-prob changes of the closed form equal the full V-way softmax's."""
    sc = scenario(optimizer="adamw", learning_rate=0.05, weight_decay=0.3)
    data, w_ref = with_head(sample_scenario(sc, runs=2, seed=1), vocab=7)
    result = simulate(data, sc.training, seed=1)
    for r in range(2):
        rows = train_reference(data.g[r], data.s[r], data.train, w_ref, sc.training, seed=1, run=r)[-1]
        w = w_ref.clone()
        w[:2] += rows
        change = torch.log_softmax(data.g[r] @ w.T, -1) - torch.log_softmax(data.g[r] @ w_ref.T, -1)
        logp = torch.log_softmax(data.g[r] @ w.T, -1)
        win = (data.s[r] < 0).long()
        chosen = change.gather(1, win[:, None]).squeeze(1)
        rejected = change.gather(1, (1 - win)[:, None]).squeeze(1)
        correct = (logp.gather(1, win[:, None]) > logp.gather(1, (1 - win)[:, None])).squeeze(1).double()
        train_a = data.train & (data.behavior == 0)
        for metric, values in (
            ("chosen_logp_change", chosen),
            ("rejected_logp_change", rejected),
            ("accuracy", correct),
        ):
            got = result.curve(metric, "train")[r, -1, 0]
            assert torch.isclose(got, values[train_a].mean(), rtol=1e-9, atol=1e-12), metric


def test_flipped_phase_matches_reference() -> None:
    doc = copy.deepcopy(BASE)
    doc["training"].pop("steps")
    doc["phases"] = [{"name": "align", "steps": 6}, {"name": "misalign", "steps": 5, "labels": "flipped"}]
    doc["training"].update(optimizer="adam", learning_rate=0.05)
    sc = parse_scenario(doc)
    data = sample_scenario(sc, runs=1, seed=2)
    result = simulate(data, sc.training, seed=2)
    ref = train_reference(data.g[0], data.s[0], data.train, torch.zeros(2, 6, dtype=torch.float64), sc.training, seed=2)
    assert torch.allclose(result.rows[0], ref[-1], rtol=1e-9, atol=1e-12)
    assert [p["end"] for p in result.phases] == [6, 11]
    acc = result.curve("reward_accuracy")[0, :, 0]
    assert acc[6] > 0.6 and acc[-1] < acc[6], "misalignment must undo the aligned accuracy"


def test_shared_data_sweep_equals_separate_runs() -> None:
    """Per-run beta/lr over shared data (the sweep GEMMs) equal one simulation per setting."""
    sc = scenario(batch_size=9)
    data = sample_scenario(sc, runs=1, seed=4)
    shared = PreferenceData(data.g[0], data.s[0], data.behavior, data.train, data.behavior_names)
    betas = torch.tensor([0.1, 1.0, 3.0])
    lrs = torch.tensor([0.5, 0.2, 0.05])
    batched = simulate(shared, sc.training, beta=betas, learning_rate=lrs, seed=4)
    for i in range(3):
        single = simulate(shared, sc.training, beta=float(betas[i]), learning_rate=float(lrs[i]), seed=4, first_run=i)
        assert torch.allclose(batched.rows[i], single.rows[0], rtol=1e-10, atol=1e-13)
        assert torch.allclose(batched.curves[i], single.curves[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_step_equals_torch_step(case: str) -> None:
    # The compiled single-pass step differs from the two batched products only in summation
    # order: 1e-12 relative in float64 over a whole run still catches any slip in its indexing.
    pytest.importorskip("numba")
    sc = scenario(**CASES[case])
    data, _ = with_head(sample_scenario(sc, runs=5, seed=2), vocab=7)
    torch_step = simulate(data, sc.training, seed=2, kernel="torch")
    fused = simulate(data, sc.training, seed=2, kernel="fused")
    assert torch.allclose(fused.rows, torch_step.rows, rtol=1e-12, atol=1e-15)
    assert torch.allclose(fused.curves, torch_step.curves, rtol=1e-12, atol=1e-14)


def test_cpu_results_are_bit_for_bit_reproducible() -> None:
    sc = scenario(batch_size=8, optimizer="adam", learning_rate=0.05)
    first = simulate(sample_scenario(sc, runs=2, seed=9, dtype=torch.float32), sc.training, seed=9)
    second = simulate(sample_scenario(sc, runs=2, seed=9, dtype=torch.float32), sc.training, seed=9)
    assert torch.equal(first.curves, second.curves) and torch.equal(first.rows, second.rows)
    other = simulate(sample_scenario(sc, runs=2, seed=10, dtype=torch.float32), sc.training, seed=10)
    assert not torch.equal(first.curves, other.curves), "a different seed must change the result"


def test_weight_norms_match_linalg() -> None:
    sc = scenario(optimizer="adamw", learning_rate=0.05, weight_decay=0.3)
    data, _ = with_head(sample_scenario(sc, runs=2, seed=0), vocab=2)
    result = simulate(data, sc.training, seed=0)
    for r in range(2):
        op = torch.linalg.matrix_norm(result.rows[r], ord=2)
        fro = torch.linalg.matrix_norm(result.rows[r])
        assert torch.isclose(result.curve("weight_change_opnorm")[r, -1], op, rtol=1e-9)
        assert torch.isclose(result.curve("weight_change_frobenius")[r, -1], fro, rtol=1e-9)


def test_sweep_grid_matches_single_settings() -> None:
    from prefdyn.numerics.sweep import sweep_settings

    sc = scenario()
    data = sample_scenario(sc, runs=1, seed=6).shared(0)
    out = sweep_settings(data, sc.training, betas=[0.2, 2.0], learning_rates=[0.1, 0.4], losses=["dpo", "ipo"])
    assert [(s["loss"], s["beta"], s["learning_rate"]) for s in out.settings][:3] == [
        ("dpo", 0.2, 0.1),
        ("dpo", 0.2, 0.4),
        ("dpo", 2.0, 0.1),
    ]
    assert out.final("accuracy").shape == (8, 3)
    i = 6  # ("ipo", 2.0, 0.1)
    alone = simulate(data, replace(sc.training, loss="ipo", beta=2.0, learning_rate=0.1), record_every=0)
    assert torch.allclose(out.result.rows[i], alone.rows[0], rtol=1e-10, atol=1e-13)


def test_sweep_reports_divergence_instead_of_failing() -> None:
    from prefdyn.numerics.sweep import sweep_settings

    sc = scenario()
    data = sample_scenario(sc, runs=1, seed=6, dtype=torch.float32).shared(0)
    # IPO's phi'' = 2/beta^2 makes GD on h unstable for a large step: with eta = 50 the float32
    # loss overflows within 12 steps, while eta = 1e-3 stays small.
    out = sweep_settings(data, sc.training, betas=[0.01], learning_rates=[1e-3, 50.0], losses=["ipo"])
    assert out.diverged.tolist() == [False, True]


def test_metrics_are_reduced_in_float64_whatever_the_training_dtype() -> None:
    """At step 0 every sample's DPO loss is float32(log 2); their mean over the samples must be
    that value, not a float32 sum's (which drifted to 0.6931513, larger than the whole change of a
    training run at small learning rates)."""
    import math

    sc = scenario()
    data = sample_scenario(sc, runs=2, seed=0, dtype=torch.float32)
    loss = simulate(data, sc.training, dtype=torch.float32).curve("loss")[:, 0]
    assert torch.all(loss == float(torch.tensor(math.log(2), dtype=torch.float32)))
