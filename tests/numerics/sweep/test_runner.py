"""Running a sweep: batched cells equal their own simulations; resumed, pooled, killed and Ray runs
all give the same table, bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from prefdyn.errors import PrefdynError
from prefdyn.numerics import load_scenario, sample_scenario, simulate
from prefdyn.numerics.sweep.plan import parse_sweep
from prefdyn.numerics.sweep.runner import run_sweep
from prefdyn.numerics.sweep.store import unit_path

DATA = Path(__file__).resolve().parents[2] / "data"
#: Six units: the noise axis changes the data (one unit per value), beta and eta batch within one.
SWEEP = """
[sweep]
name = "t"
scenario = "{scenario}"
runs = 3
record_every = 1
[[axes]]
field = "behaviors.*.noise"
values = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
[[axes]]
field = "training.learning_rate"
values = [0.1, 1.0]
[[axes]]
field = "training.beta"
values = [0.5, 2.0]
"""


def sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP.format(scenario=(DATA / "small.toml").as_posix()))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The uninterrupted, in-memory, single-process table."""
    from prefdyn.numerics.sweep.plan import load_sweep

    return run_sweep(load_sweep(sweep_file(tmp_path_factory.mktemp("ref")))).table


def test_a_batched_cell_equals_its_own_simulation() -> None:
    plan = parse_sweep(
        {
            "sweep": {"scenario": "small.toml", "runs": 3, "theory": False, "record_every": 1},
            "axes": [
                {"field": "training.learning_rate", "values": [0.1, 0.7]},
                {"field": "training.beta", "values": [0.5, 2.0]},
            ],
        },
        DATA,
    )
    table = run_sweep(plan, dtype="float64").table
    cell = plan.cells[3]  # eta = 0.7, beta = 2: trained in a batch of four
    data = sample_scenario(cell, runs=3, seed=plan.seed, dtype=torch.float64)
    alone = simulate(data, cell.training, seed=plan.seed, dtype=torch.float64).curve("accuracy", "train")
    rows = table.query("cell == 3 and metric == 'accuracy' and split == 'train' and behavior == 'a'")
    assert rows["mean"].to_numpy() == pytest.approx(alone[..., 0].mean(0).numpy(), abs=1e-12)
    spread = alone[..., 0].std(0).numpy() * 4.302652729911275 / 3**0.5  # t(0.975, 2) / sqrt(3)
    assert (rows["ci_high"] - rows["mean"]).to_numpy() == pytest.approx(spread, rel=1e-9, abs=1e-12)


def test_out_folder_resume_and_pool_give_the_reference_table(tmp_path: Path, reference: pd.DataFrame) -> None:
    from prefdyn.numerics.sweep.plan import load_sweep

    plan = load_sweep(sweep_file(tmp_path))
    out = tmp_path / "out"
    first = run_sweep(plan, out=out, workers=2)
    pd.testing.assert_frame_equal(first.table, reference, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), reference, check_exact=True)
    with pytest.raises(PrefdynError, match="already holds sweep results; pass --resume"):
        run_sweep(plan, out=out)
    unit_path(out, 2).unlink()
    unit_path(out, 4).write_bytes(unit_path(out, 4).read_bytes()[:-10])  # damaged: recomputed
    again = run_sweep(plan, out=out, resume=True)
    assert again.computed == 2
    pd.testing.assert_frame_equal(again.table, reference, check_exact=True)
    other = parse_sweep({**plan.document, "sweep": {**plan.document["sweep"], "runs": 4}}, tmp_path)
    with pytest.raises(PrefdynError, match="resume: .* was written with sweep_hash"):
        run_sweep(other, out=out, resume=True)


def _cli(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PREFDYN_PROGRESS_INTERVAL": "0"}
    command = [sys.executable, "-m", "prefdyn", "sweep", str(sweep_file(tmp_path)), "--out", str(tmp_path / "out")]
    return subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_unit(out: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not any((out / "units").glob("unit-*.parquet")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no unit finished in 120 s"
        time.sleep(0.05)


def _pool_workers(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = []
    for child in children:
        command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in command:
            workers.append(int(child))
    return workers


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the worker processes")
def test_a_killed_worker_is_replaced_and_the_table_is_unchanged(tmp_path: Path, reference: pd.DataFrame) -> None:
    proc = _cli(tmp_path, "--workers", "2")
    _wait_for_unit(tmp_path / "out", proc)
    workers = _pool_workers(proc.pid)
    assert workers, "no pool worker found"
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "a worker process died; resubmitting" in err
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "sweep.parquet"), reference, check_exact=True)


def test_an_interrupted_sweep_resumes_to_the_same_table(tmp_path: Path, reference: pd.DataFrame) -> None:
    proc = _cli(tmp_path)
    _wait_for_unit(tmp_path / "out", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (tmp_path / "out" / "sweep.parquet").exists()
    finished = len(list((tmp_path / "out" / "units").glob("unit-*.parquet")))
    resumed = _cli(tmp_path, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"({6 - finished} computed, {finished} resumed)" in out
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "sweep.parquet"), reference, check_exact=True)
    csv = pd.read_csv(tmp_path / "out" / "sweep.csv")
    assert len(csv) == len(reference) and list(csv.columns) == list(reference.columns)
    assert "cells" in err and "ETA" in err


def test_ray_cluster_gives_the_local_table_bit_for_bit(tmp_path: Path, reference: pd.DataFrame) -> None:
    pytest.importorskip("ray")
    from prefdyn.numerics.sweep.plan import load_sweep

    table = run_sweep(load_sweep(sweep_file(tmp_path)), cluster="local:2").table
    pd.testing.assert_frame_equal(table, reference, check_exact=True)


def test_batched_settings_share_one_shuffle_per_run() -> None:
    sc = load_scenario(DATA / "small.toml")
    data = sample_scenario(sc, runs=1, seed=0, dtype=torch.float64).shared(0)
    config = replace(sc.training, learning_rate=0.3)
    pair = simulate(
        data, config, learning_rate=torch.tensor([0.3, 0.3], dtype=torch.float64), run_ids=[5, 5], dtype=torch.float64
    )
    alone = simulate(data, config, first_run=5, dtype=torch.float64)
    assert torch.equal(pair.rows[0], pair.rows[1])
    assert torch.allclose(pair.rows[0], alone.rows[0], rtol=0, atol=1e-14)


def test_misalignment_ratio_and_the_accuracy_bound_are_recorded(tmp_path: Path) -> None:
    base = load_scenario(DATA / "small.toml")
    doc = {
        "sweep": {"scenario": "small.toml", "runs": 4, "bounds": ["accuracy_lower_bound"], "theory": False},
        "axes": [{"field": "training.learning_rate", "values": [0.1, 1.0]}],
    }
    bounds = run_sweep(parse_sweep(doc, DATA)).table.query("metric == 'accuracy_lower_bound'")
    assert set(bounds.behavior) == {b.name for b in base.behaviors}
    assert set(bounds.step) == set(range(base.training.steps + 1))
    assert bounds["mean"].between(0, 1).all() and (bounds.query("step == 0")["mean"] == 0).all()

    text = (DATA / "small.toml").read_text().replace("steps = 5\n", "")
    phases = '[[phases]]\nname = "align"\nsteps = 6\n[[phases]]\nname = "flip"\nsteps = 6\nlabels = "flipped"\n'
    (tmp_path / "flip.toml").write_text(text + phases)
    doc["sweep"] = {"scenario": "flip.toml", "runs": 4, "theory": False}
    plan = parse_sweep(doc, tmp_path)
    table = run_sweep(plan, dtype="float64").table
    ratio = table.query("metric == 'misalignment_ratio' and behavior == 'a'")
    assert len(ratio) == 2 and ratio.step.isna().all()
    for cell, row in ratio.set_index("cell").iterrows():
        scenario = plan.cells[cell]
        data = sample_scenario(scenario, runs=4, seed=plan.seed, dtype=torch.float64)
        a = simulate(data, scenario.training, seed=plan.seed, dtype=torch.float64).curve("accuracy", "test")[..., 0]
        gained = a[:, 6] - a[:, 0]
        runs = (a[gained != 0, 6] - a[gained != 0, -1]) / gained[gained != 0]
        assert row["runs"] == len(runs) > 0
        assert row["mean"] == pytest.approx(float(runs.mean()), abs=1e-12)


def test_a_finished_folder_is_checked_before_it_is_trusted(tmp_path: Path) -> None:
    from prefdyn.numerics.sweep.store import read_finished

    doc = {
        "sweep": {"scenario": "small.toml", "runs": 2, "theory": False},
        "axes": [{"field": "training.beta", "values": [0.5, 1.0]}],
    }
    out = tmp_path / "out"
    run_sweep(parse_sweep(doc, DATA), out=out)
    assert read_finished(out).cells["training.beta"].tolist() == [0.5, 1.0]
    table = pd.read_parquet(out / "sweep.parquet")
    table.loc[0, "training.beta"] = 0.123
    table.to_parquet(out / "sweep.parquet", index=False)
    with pytest.raises(PrefdynError, match="is not the table this sweep finished with"):
        read_finished(out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".unit-00000.parquet.tmp-keep").write_text("not ours")
    for unit in (out / "units").iterdir():
        unit.unlink()
    (out / "units").rmdir()
    (out / "units").symlink_to(elsewhere)
    with pytest.raises(PrefdynError, match="units is not this sweep's folder of units"):
        run_sweep(parse_sweep(doc, DATA), out=out, resume=True)
    assert (elsewhere / ".unit-00000.parquet.tmp-keep").exists()


def test_a_behavior_without_test_samples_has_no_test_rows(tmp_path: Path) -> None:
    text = (DATA / "small.toml").read_text().replace("test_fraction = 0.25", "test_fraction = 0.02")
    (tmp_path / "base.toml").write_text(text)
    doc = {
        "sweep": {"scenario": "base.toml", "runs": 2, "theory": False},
        "axes": [{"field": "training.beta", "values": [1.0]}],
    }
    table = run_sweep(parse_sweep(doc, tmp_path)).table
    counts = load_scenario(tmp_path / "base.toml")
    from prefdyn.numerics.scenario import stratified_counts

    empty = [b.name for b, (_, test) in zip(counts.behaviors, stratified_counts(counts), strict=True) if test == 0]
    assert empty, "the scenario should leave a behaviour without test samples"
    assert table.query("split == 'test' and behavior in @empty").empty
