"""The report gathers every part by calling the library in this process: no ``prefdyn``
subprocess, no JSON parsed back, and only documented errors become a skipped part."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest

from prefdyn.cli import main
from prefdyn.errors import PrefdynError
from prefdyn.numerics import load_scenario
from prefdyn.reporting import Options, build_report, sources

#: The shared tiny scenario (two behaviours, 12 steps, 2 runs).
TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"


def _no_process(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError(f"the report spawned a process: {args[:1]}")


@pytest.fixture()
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any process the report would start fails the test."""
    monkeypatch.setattr(subprocess, "run", _no_process)
    monkeypatch.setattr(subprocess, "Popen", _no_process)


def test_the_prediction_is_what_predict_json_prints(no_subprocess: None, capsys: pytest.CaptureFixture[str]) -> None:
    gathered = sources.prediction(load_scenario(TINY))
    assert main(["predict", str(TINY), "--json"]) == 0
    assert gathered == json.loads(capsys.readouterr().out)


def test_verification_reports_each_theorem(
    no_subprocess: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a counterexample would land here: none may be written
    [report] = sources.verification(1, 0, "cpu", ["dpo-gradient"], threads=1)
    assert (report.name, report.kind, report.examples) == ("dpo-gradient", "identity", 1)
    assert not any(tmp_path.iterdir())


def test_a_theorem_without_a_property_skips_the_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(theorem_id: str, **kwargs: Any) -> NoReturn:
        raise PrefdynError(f"theorem: no property for {theorem_id!r}")

    monkeypatch.setattr(sources, "check_theorem", missing)
    with pytest.raises(sources.Skip, match="no property for 'dpo-gradient'"):
        sources.verification(1, 0, "cpu", ["dpo-gradient"])


def test_a_small_report_is_built_without_a_process(no_subprocess: None, tmp_path: Path) -> None:
    manifest = build_report(
        Options(tmp_path / "out", str(TINY), examples=1, theorems=("dpo-gradient",), progress=False, threads=1)
    )
    assert {"prediction", "verification", "simulation"}.isdisjoint(manifest["skipped"])
    assert manifest["sections"]["verification"] == "included"
    theorems = (tmp_path / "out" / "theorems.tex").read_text(encoding="utf-8")
    assert "Against simulation (identity): 1 examples, passed" in theorems
    table = (tmp_path / "out" / "tables" / "simulation.tex").read_text(encoding="utf-8")
    assert "theory accuracy" in table and r"\PDbox{\begin{tabular}" in table
