"""Conjectures: ``tolerance = "statistical"`` for statements about expectations (CLT/Hoeffding +
Bonferroni, a minimum number of runs that shrinking respects), ``phases = false`` with
``steps``, free-text names, and every error of a file (or a scenario) reported at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings

from prefdyn.cli import main
from prefdyn.verification import check_conjecture, load_conjecture
from prefdyn.verification.conjectures import STATISTICAL_MIN_RUNS, counterexample_stem
from prefdyn.verification.tolerance import hoeffding_radius, mean_radius, student_radius

#: true in expectation (DPO, small SGD steps on Gaussian data: accuracy does not fall), but the
#: literal accuracy of a few samples and runs goes down by one sample now and then
MONOTONE = """
name = "accuracy does not drop: step 10 against step 1"
statement = "accuracy[0, 10] >= accuracy[0, 1]"
tolerance = "{tolerance}"
[restrict]
phases = false
steps = 10
loss = "dpo"
optimizer = "sgd"
behaviors = 1
distribution = "gaussian"
label_noise = 0.0
learning_rate = {{min = 0.01, max = 0.5}}
"""


def _write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_noise_is_not_a_counterexample_under_the_statistical_tolerance(tmp_path: Path) -> None:
    literal = check_conjecture(
        load_conjecture(_write(tmp_path, MONOTONE.format(tolerance="literal"))),
        examples=20,
        seed=0,
        out=tmp_path / "literal",
    )
    assert not literal.passed  # a noise-level "counterexample" (e.g. 0.8125 against 0.875)
    statistical = check_conjecture(
        load_conjecture(_write(tmp_path, MONOTONE.format(tolerance="statistical"))),
        examples=20,
        seed=0,
        out=tmp_path / "statistical",
    )
    assert statistical.passed, statistical.detail
    assert statistical.kind == "statistical conjecture"


def test_a_false_expectation_is_still_refuted(tmp_path: Path) -> None:
    text = (
        'name = "one step to 99%"\nstatement = "accuracy[0, 1] >= 0.99"\ntolerance = "statistical"\n'
        '[restrict]\nloss = "dpo"\noptimizer = "sgd"\nbatch_size = 0\nsteps = 1\n'
    )
    report = check_conjecture(load_conjecture(_write(tmp_path, text)), examples=20, seed=0, out=tmp_path)
    assert not report.passed and report.max_violation > 0
    assert "tolerance" in report.detail and report.counterexample is not None


def test_statistical_examples_never_shrink_below_the_minimum_runs(tmp_path: Path) -> None:
    conjecture = load_conjecture(_write(tmp_path, MONOTONE.format(tolerance="statistical")))

    @settings(max_examples=10, database=None, deadline=None)
    @given(conjecture.scenarios)
    def check(scenario):
        assert scenario.runs >= STATISTICAL_MIN_RUNS

    check()
    too_few = MONOTONE.format(tolerance="statistical") + "runs = 2\n"
    with pytest.raises(ValueError, match=f"restrict.runs: must be >= {STATISTICAL_MIN_RUNS}"):
        load_conjecture(_write(tmp_path, too_few, "few.toml"))


def test_mean_radius_is_the_smaller_of_student_and_hoeffding() -> None:
    values = torch.tensor([0.5, 0.6, 0.55, 0.5, 0.65, 0.6, 0.5, 0.55] * 2, dtype=torch.float64)
    bounded = mean_radius(values, 2, (0.0, 1.0))
    assert bounded == torch.minimum(student_radius(values, 4), hoeffding_radius(16, 4))
    assert mean_radius(values, 2) == student_radius(values, 2)
    with pytest.raises(ValueError, match="at least two"):
        mean_radius(values[:1], 1)


def test_phases_false_with_steps(tmp_path: Path) -> None:
    """`phases = false` (documented: absent) used to fail any conjecture that sets `steps` with
    "an index needs 1 steps but the phases have 0"."""
    text = 'name = "x"\nstatement = "accuracy[0, 3] >= 0"\n[restrict]\nphases = false\nsteps = 3\n'
    conjecture = load_conjecture(_write(tmp_path, text))

    @settings(max_examples=5, database=None, deadline=None)
    @given(conjecture.scenarios)
    def check(scenario):
        assert scenario.training.steps == 3 and len(scenario.training.phases) == 1

    check()


def test_free_text_names_give_safe_counterexample_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("reward accuracy is a probability", "../../escape", "/etc/passwd", "ünïcödé ✓"):
        stem = counterexample_stem(name)
        assert "/" not in stem and not stem.startswith(".") and stem.endswith(".counterexample")
    assert counterexample_stem("a b") != counterexample_stem("a_b")  # the hash tells them apart
    text = 'name = "../../one step: 99%?"\nstatement = "accuracy[0, 1] >= 0.99"\n[restrict]\nsteps = 1\n'
    out = tmp_path / "out"
    code = main(
        ["verify", "--conjecture", str(_write(tmp_path, text)), "--examples", "10", "--json", "--out", str(out)]
    )
    assert code == 1
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["name"] == "../../one step: 99%?"
    written = Path(result["counterexample"])
    assert written.parent == out and written.name.startswith("one-step-99-") and written.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "out"]


def test_every_conjecture_error_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        'name = ""\nstatement = "accracy[0, 1] >= 0.5"\ntolerance = "loose"\ncolour = 1\n'
        '[restrict]\nshape = {min = "a", max = 1}\nwidth = 3\n'
    )
    assert main(["verify", "--conjecture", str(_write(tmp_path, text))]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    for problem in (
        "conjecture: unknown key(s) colour",
        "name: must be a non-empty string",
        "tolerance: must be one of literal, statistical",
        "unknown observable or parameter 'accracy'",
        "restrict.shape: min and max must be numbers",
        "restrict.width: unknown field",
    ):
        assert sum(problem in line for line in lines) == 1, (problem, lines)
    assert len(lines) == 6 and all(line.startswith("prefdyn verify: error: ") for line in lines)


def test_every_scenario_error_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = """
colour = "red"
[training]
beta = -1
steps = 10
optimizer = "sgdx"
dim = 4
[[behaviors]]
name = "a"
weight = 0.5
noise = -1
[[behaviors]]
name = "b"
weight = 0.25
"""
    path = _write(tmp_path, text, "bad.toml")
    assert main(["scenario", "--validate", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    expected = (
        "colour: unknown field",
        "training.beta: must be > 0",
        "training.optimizer: must be one of",
        "behaviors[0].noise: must be >= 0",
        "behaviors.weight: weights must sum to 1 (they sum to 0.75)",
    )
    for problem in expected:
        assert sum(problem in line for line in lines) == 1, (problem, lines)
    assert len(lines) == len(expected) and all(line.startswith("prefdyn scenario: error: ") for line in lines)
    assert main(["simulate", str(path)]) == 2  # the same list wherever the scenario is read
    assert len(capsys.readouterr().err.strip().splitlines()) == len(expected)
