"""``prefdyn sweep``: malformed sweep files and options exit 2 with one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefdyn.cli import main

SMALL = (Path(__file__).resolve().parents[1] / "data" / "small.toml").as_posix()
HEAD = f'[sweep]\nscenario = "{SMALL}"\nruns = 2\n'

BAD = {
    "unknown field": ('[[axes]]\nfield = "training.colour"\nvalues = [1]\n', "axes[0].field: unknown training field"),
    "empty axis": ('[[axes]]\nfield = "training.beta"\nvalues = []\n', "axes[0].values: must be a non-empty list"),
    "failing loss": (
        '[[axes]]\nfield = "training.loss"\nvalues = ["dpo", { expr = "log(1 + exp(-h)) + open(1)" }]\n',
        "axes[0].values[1]: makes an invalid scenario",
    ),
    "no axes": ("", "axes: at least one [[axes]] table is required"),
    "not toml": ("[[axes]\n", "sweep: "),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_sweep_files_exit_2_with_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    text, message = BAD[case]
    path = tmp_path / "s.toml"
    path.write_text(HEAD + text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prefdyn sweep: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_bad_cluster_address_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "s.toml"
    path.write_text(HEAD + '[[axes]]\nfield = "training.beta"\nvalues = [1.0]\n')
    with pytest.raises(SystemExit) as exit_status:
        main(["sweep", str(path), "--out", str(tmp_path / "out"), "--cluster", "http://x"])
    assert exit_status.value.code == 2
    err = capsys.readouterr().err
    assert "argument --cluster: must be ray://HOST:PORT, auto, local or local:N" in err and err.count("\n") == 1


def test_a_small_sweep_prints_where_its_outputs_are(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "s.toml"
    path.write_text(HEAD + '[[axes]]\nfield = "training.beta"\nvalues = [0.5, 1.0, 2.0]\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--progress", "off"]) == 0
    out = capsys.readouterr().out
    assert "3 cells in 1 unit (1 computed, 0 resumed)" in out
    assert sorted(p.name for p in (tmp_path / "out" / "figures").glob("*.png")) == [
        "phase-diverged_fraction.png",
        "phase-final_accuracy.png",
        "phase-harmed_behaviors.png",
        "phase-theory_gap.png",
    ]
