"""Commands that talk and stay fast on a shared machine: one thread policy (``--threads``,
``OMP_NUM_THREADS``, problem size, idle cores) on every heavy command; progress as a bar on a
terminal and plain periodic lines elsewhere; ``prefdyn report`` takes the persona settings,
prints its folder without a double slash and its stages with their times; user loss
expressions become rational before derivation."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from prefdyn.cli import build_parser, main
from prefdyn.progress import Progress
from prefdyn.threads import PARALLEL_MIN_FLOPS, choose_threads, configure_threads, idle_cores


@pytest.fixture()
def no_omp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_thread_policy(no_omp: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_threads(3, work=1.0) == (3, "--threads")  # the flag wins
    assert choose_threads(work=PARALLEL_MIN_FLOPS / 10)[0] == 1  # small work: one thread
    large, _ = choose_threads(work=1e15)
    assert 1 <= large <= idle_cores()  # never more than the idle cores
    monkeypatch.setattr("os.getloadavg", lambda: (64.0, 64.0, 64.0))  # a saturated machine
    assert choose_threads(work=1e15)[0] == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert choose_threads(work=1.0) == (2, "OMP_NUM_THREADS")  # respected when set
    assert choose_threads(5, work=1.0)[0] == 5


def test_configure_threads_sets_torch(no_omp: None) -> None:
    previous = torch.get_num_threads()
    try:
        assert configure_threads(2) == 2 == torch.get_num_threads()
        assert configure_threads(work=1.0) == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate"],
        ["predict"],
        ["verify"],
        ["report"],
        ["sweep", "s.toml", "--out", "o"],
        *[
            ["persona", action, "--data", "x"]
            for action in ("embed", "stats", "train", "pair", "misalign", "finetune", "predict")
        ],
    ],
)
def test_heavy_commands_take_threads(argv: list[str]) -> None:
    args = build_parser().parse_args([*argv, "--threads", "3"])
    assert args.threads == 3


def test_threads_flag_reaches_torch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    previous = torch.get_num_threads()
    try:
        assert main(["simulate", "--runs", "1", "--threads", "2", "--json", "--device", "cpu"]) == 0
        assert json.loads(capsys.readouterr().out)["threads"] == 2
    finally:
        torch.set_num_threads(previous)


def test_plain_progress_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFDYN_PROGRESS_INTERVAL", "0")
    stream = io.StringIO()
    progress = Progress("verify", "update-rate", 3, "examples", mode="lines", stream=stream)
    for _ in range(4):
        progress.update()
    progress.close("PASS")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("prefdyn verify: update-rate: 1/3 examples (")
    assert lines[3].startswith("prefdyn verify: update-rate: 3/3 examples + 1 more (shrinking)")
    assert lines[-1].startswith("prefdyn verify: update-rate: PASS (") and lines[-1].endswith(" s)")
    quiet = io.StringIO()
    Progress("verify", "x", 3, mode="off", stream=quiet).update()
    assert quiet.getvalue() == ""


def test_verify_shows_progress_on_a_pipe(tmp_path: Path) -> None:
    conjecture = tmp_path / "c.toml"
    conjecture.write_text('name = "c"\nstatement = "accuracy[0, 1] >= 0"\n[restrict]\nsteps = 1\nbehaviors = 1\n')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "prefdyn",
            "verify",
            "--conjecture",
            str(conjecture),
            "--examples",
            "3",
            "--out",
            str(tmp_path / "cx"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**_env(), "PREFDYN_PROGRESS_INTERVAL": "0"},
    )
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)  # stdout stays one JSON document
    assert "prefdyn verify: c: 1/3 examples (" in proc.stderr
    assert "prefdyn verify: c: PASS (" in proc.stderr


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "OMP_NUM_THREADS": "1"}


def test_report_stage_lines_with_times(capsys: pytest.CaptureFixture[str]) -> None:
    from prefdyn.reporting import sources
    from prefdyn.reporting.build import Stages

    skipped: dict[str, str] = {}
    stages = Stages(2, skipped, "lines")
    stages.run("simulation", "simulation", lambda: None)

    def skip() -> None:
        raise sources.Skip("no persona data given")

    stages.run("persona data", "persona", skip)
    stages.close()
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "prefdyn report: [1/2] simulation ..."
    assert err[1].startswith("prefdyn report: [1/2] simulation: done in ") and err[1].endswith(" s")
    assert err[3].startswith("prefdyn report: [2/2] persona data: skipped (no persona data given) in ")
    assert err[4].startswith("prefdyn report: all 2 stages in ")
    assert skipped == {"persona": "no persona data given"}


def test_report_takes_persona_settings_and_prints_one_slash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefdyn import reporting as report

    data = tmp_path / "persona.jsonl"
    data.write_text("{}\n")
    seen: dict[str, Any] = {}

    def fake_build(options: Any) -> dict[str, Any]:
        seen["options"] = options
        return {"files": {"main.tex": "x"}, "skipped": {}, "timings_s": {"total": 1.0}}

    monkeypatch.setattr(report, "build_report", fake_build)
    out = tmp_path / "out"
    code = main(
        [
            "report",
            f"{out}/",
            "--persona",
            str(data),
            "--persona-beta",
            "0.5",
            "--persona-lr",
            "2",
            "--persona-steps",
            "20",
            "--persona-batch-size",
            "0",
            "--persona-behaviors",
            "a",
            "b",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    options = seen["options"]
    assert options.persona_settings == {"beta": 0.5, "learning_rate": 2.0, "steps": 20, "batch_size": 0}
    assert options.persona_behaviors == ("a", "b") and options.threads == 1
    printed = capsys.readouterr().out
    assert f"to {out}/ in" in printed and "//" not in printed
    assert main(["report", str(out), "--persona-beta", "0.5"]) == 2
    assert "--persona-beta: needs --persona PATH" in capsys.readouterr().err


def test_report_persona_source_uses_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """sources.persona trains with the given settings and behaviours (not the paper defaults,
    under which DPO losses move by about 1e-5)."""
    from prefdyn.numerics.persona import corpus as embedded
    from prefdyn.numerics.persona import embedders as embed
    from prefdyn.numerics.persona import loader
    from prefdyn.reporting import sources
    from prefdyn.studies import experiments, stats

    seen: dict[str, Any] = {}
    corpus = type("C", (), {"behaviors": (), "model": "m", "responses": ("Yes", "No")})()
    monkeypatch.setattr(loader, "load_persona", lambda path, behaviors=None: seen.setdefault("behaviors", behaviors))
    monkeypatch.setattr(embed, "resolve_embedder", lambda model, device: None)
    monkeypatch.setattr(embedded, "embed_corpus", lambda data, embedder: corpus)
    monkeypatch.setattr(stats, "behavior_stats", lambda *a, **k: None)
    monkeypatch.setattr(experiments, "speed_correlation", lambda c, settings, t: seen.setdefault("speed", settings))
    monkeypatch.setattr(experiments, "misalignment", lambda c, settings: None)
    result = sources.persona("x", "cpu", {"beta": 0.5, "learning_rate": 2.0, "steps": 20}, ["a"])
    assert seen["behaviors"] == ["a"]
    assert (seen["speed"].beta, seen["speed"].learning_rate, seen["speed"].steps) == (0.5, 2.0, 20)
    assert result.settings.device == "cpu" and result.settings.batch_size == 128  # the rest: defaults


def test_float_coefficients_become_rational_before_derivation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "dpo-gradient", "--loss-expr", "0.1*h**2 + log(1+exp(-h))", "--json"]) == 0
    text = capsys.readouterr().out
    doc = json.loads(text)
    assert r"\frac{h^{2}}{10}" in doc["loss_latex"]  # the coefficient 1/10, exactly
    assert "0.1" not in text and "Float" not in text  # no float anywhere in the derivation
