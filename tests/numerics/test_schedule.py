"""Minibatch schedules: the epoch schedule (with and without its last, smaller batch) and
independent per-step draws; both a function of (seed, run, step) alone."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest
import torch

from prefdyn.numerics.config import TrainConfig
from prefdyn.numerics.reference import train_reference
from prefdyn.numerics.sampling import sample_scenario
from prefdyn.numerics.scenario import parse_scenario, scenario_toml
from prefdyn.numerics.schedule import BatchSchedule
from prefdyn.numerics.simulator import simulate

BASE = tomllib.loads((Path(__file__).resolve().parents[1] / "data" / "three-behaviors.toml").read_text())
TRAIN = torch.arange(1000, 1900)  # 900 training samples, not numbered from 0


def batches(schedule: BatchSchedule, steps: int) -> list[torch.Tensor]:
    return [schedule.indices(t) for t in range(steps)]


def test_epoch_schedule_keeps_the_remainder_by_default() -> None:
    steps = batches(BatchSchedule(TRAIN, 128, seed=0, runs=[0]), 16)
    assert [b.shape[1] for b in steps[:8]] == [128] * 7 + [4]
    epoch = torch.cat([b[0] for b in steps[:8]])
    assert torch.equal(epoch.sort().values, TRAIN), "an epoch covers every training sample once"


def test_drop_last_leaves_the_smaller_batch_out() -> None:
    steps = batches(BatchSchedule(TRAIN, 128, seed=0, runs=[0], drop_last=True), 14)
    assert all(b.shape == (1, 128) for b in steps)
    epoch = torch.cat([b[0] for b in steps[:7]])
    assert epoch.unique().numel() == 7 * 128, "the seven batches of an epoch are disjoint"
    kept = BatchSchedule(TRAIN, 128, seed=0, runs=[0])
    assert torch.equal(steps[0], kept.indices(0)), "the same permutation, cut without its remainder"
    assert not torch.equal(steps[7], kept.indices(7)), "the next epoch starts at step 7, not 8"


def test_independent_batches_are_full_distinct_and_fresh() -> None:
    steps = batches(BatchSchedule(TRAIN, 128, seed=0, runs=[0, 1], batching="independent"), 30)
    for b in steps:
        assert b.shape == (2, 128)
        assert all(row.unique().numel() == 128 for row in b), "no sample twice within a step"
        assert bool(((b >= 1000) & (b < 1900)).all())
    for t in range(1, 30):
        assert not torch.equal(steps[t][0].sort().values, steps[t - 1][0].sort().values)
    assert not torch.equal(steps[0][0], steps[0][1]), "runs draw from their own streams"
    # across steps a sample can recur: 30 draws of 128 out of 900 cannot all be disjoint
    assert torch.cat([b[0] for b in steps]).unique().numel() < 30 * 128


@pytest.mark.parametrize("batching", ["epoch", "independent"])
def test_batches_are_a_function_of_seed_run_and_step(batching: str) -> None:
    together = batches(BatchSchedule(TRAIN, 100, seed=4, runs=[0, 5, 2], batching=batching), 25)
    alone = batches(BatchSchedule(TRAIN, 100, seed=4, runs=[5], batching=batching), 25)
    assert all(torch.equal(t[1], a[0]) for t, a in zip(together, alone, strict=True)), "chunking changes nothing"
    skipping = BatchSchedule(TRAIN, 100, seed=4, runs=[5], batching=batching)
    assert torch.equal(skipping.indices(19), alone[19][None, 0]), "a step asked for directly is the same"
    other = batches(BatchSchedule(TRAIN, 100, seed=5, runs=[5], batching=batching), 1)
    assert not torch.equal(other[0], alone[0]), "the seed matters"
    with pytest.raises(ValueError, match="increasing order"):
        skipping.indices(0)


def test_full_batch_ignores_the_stream() -> None:
    schedule = BatchSchedule(TRAIN, 0, seed=0, runs=[0, 1])
    assert schedule.full_batch and torch.equal(schedule.indices(3), TRAIN.expand(2, -1))


def test_config_chooses_the_schedule() -> None:
    config = TrainConfig(batch_size=64, batching="independent")
    schedule = BatchSchedule.from_config(TRAIN, config, seed=0, runs=[0])
    assert schedule.batches_per_draw == 1 and schedule.indices(0).shape == (1, 64)
    assert BatchSchedule.from_config(TRAIN, TrainConfig(batch_size=64, drop_last=True), 0, [0]).batches_per_draw == 14


def scenario(**training):
    doc = copy.deepcopy(BASE)
    doc["training"].update(training)
    return parse_scenario(doc)


@pytest.mark.parametrize(
    "training",
    [
        {"batch_size": 10, "batching": "independent"},
        {"batch_size": 10, "batching": "independent", "optimizer": "adam", "learning_rate": 0.05},
        {"batch_size": 10, "drop_last": True},
    ],
    ids=["independent-sgd", "independent-adam", "drop-last"],
)
def test_simulator_equals_reference_trainer(training: dict) -> None:
    sc = scenario(**training)
    data = sample_scenario(sc, runs=3, seed=5)
    result = simulate(data, sc.training, seed=5, first_run=0)
    for r in range(3):
        final = train_reference(
            data.g[r], data.s[r], data.train, torch.zeros(2, 6, dtype=torch.float64), sc.training, seed=5, run=r
        )[-1]
        assert final.abs().max() > 1e-3
        assert torch.allclose(result.rows[r], final, rtol=1e-9, atol=1e-12), r


def test_the_schedule_changes_training_and_round_trips() -> None:
    epoch = scenario(batch_size=10)
    independent = scenario(batch_size=10, batching="independent")
    assert parse_scenario(tomllib.loads(scenario_toml(independent))) == independent
    assert epoch.content_hash() != independent.content_hash()
    data = sample_scenario(epoch, runs=1, seed=5)
    a = simulate(data, epoch.training, seed=5).rows
    b = simulate(data, independent.training, seed=5).rows
    assert not torch.allclose(a, b)
