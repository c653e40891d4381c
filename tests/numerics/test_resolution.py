"""A loss change too small for the training dtype is warned about: by the library with
``warnings.warn``, by the command line on one stderr line."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from prefdyn.cli import main
from prefdyn.errors import PrefdynWarning
from prefdyn.numerics.resolution import loss_resolution, unresolved_behaviors, warn_unresolved_loss
from prefdyn.numerics.runner import run_scenario
from prefdyn.numerics.scenario import load_scenario

SMALL = Path(__file__).resolve().parents[1] / "data" / "small.toml"
#: learning rate at which the small scenario's loss moves by ~1e-9 relative in 5 steps
TINY = 1e-8


def tiny_steps(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SMALL.read_text().replace("steps = 5", f"steps = 5\nlearning_rate = {TINY}"))
    return path


def test_resolution_is_sixteen_ulps() -> None:
    assert loss_resolution(torch.float32) == 16 * 2.0**-23
    assert loss_resolution(torch.float64) == 16 * 2.0**-52


def test_library_warns_for_float32_only(tmp_path: Path) -> None:
    scenario = load_scenario(tiny_steps(tmp_path))
    with pytest.warns(PrefdynWarning, match=r"not resolved in float32; train in float64") as caught:
        result = run_scenario(scenario, runs=2, dtype=torch.float32, progress=False)
    assert len(caught) == 1 and "2 of 2 behaviour(s) (a, b)" in str(caught[0].message)
    assert unresolved_behaviors(result, torch.float32) == ["a", "b"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrefdynWarning)
        exact = run_scenario(scenario, runs=2, dtype=torch.float64, progress=False)
        run_scenario(load_scenario(SMALL), runs=2, dtype=torch.float32, progress=False)
    assert unresolved_behaviors(exact, torch.float64) == [], "float64 resolves a 1e-9 change"
    assert unresolved_behaviors(exact, torch.float32) == ["a", "b"], "a change float32 could not see"
    assert warn_unresolved_loss(result, torch.float64) is None, "no remedy to suggest in float64"


def test_cli_prints_one_warning_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tiny_steps(tmp_path))
    assert main(["simulate", path, "--runs", "2", "--json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("prefdyn simulate: warning: the training loss of 2 of 2"), err
    assert main(["simulate", path, "--runs", "2", "--json", "--dtype", "float64"]) == 0
    assert capsys.readouterr().err == ""
