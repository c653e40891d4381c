"""``prefdyn simulate`` / ``prefdyn scenario``: validation messages, JSON, resumable output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prefdyn.cli import build_parser, main
from prefdyn.numerics.runner import run_scenario
from prefdyn.numerics.scenario import builtin_text, load_scenario

SMALL = (Path(__file__).resolve().parents[1] / "data" / "small.toml").read_text()


def write(tmp_path: Path, text: str, name: str = "s.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD = {
    "negative noise": (SMALL.replace('name = "b"', 'name = "b"\nnoise = -1'), "behaviors[1].noise: must be >= 0"),
    "weights": (
        SMALL.replace("weight = 0.5\ndistinguishability = 0.5", "weight = 0.7\ndistinguishability = 0.5"),
        "behaviors.weight: weights must sum to 1",
    ),
    "distribution": (
        SMALL.replace('name = "a"', 'name = "a"\ndistribution = "cauchy"'),
        "behaviors[0].distribution: must be one of",
    ),
    "loss": (SMALL.replace("steps = 5", 'steps = 5\nloss = "nope"'), "loss: unknown loss 'nope'"),
    "positive_fraction": (
        SMALL.replace('name = "a"', 'name = "a"\npositive_fraction = 1.5'),
        "behaviors[0].positive_fraction: must lie in [0, 1]",
    ),
    "non-finite": (
        SMALL.replace("distinguishability = 2.0", "distinguishability = nan"),
        "behaviors[0].distinguishability: must be finite",
    ),
    "inf beta": (SMALL.replace("steps = 5", "steps = 5\nbeta = inf"), "training.beta: must be finite"),
    "dim < K": (SMALL.replace("dim = 4", "dim = 1"), "training.dim: must be >= 2"),
    "offset needs a dim": (
        SMALL.replace("dim = 4", "dim = 2").replace('name = "a"', 'name = "a"\noffset = 1.0'),
        "training.dim: must be >= 3",
    ),
    "steps <= 0": (SMALL.replace("steps = 5", "steps = 0"), "training.steps: must be an integer > 0"),
    "unknown field": (SMALL.replace("dim = 4", "dim = 4\nlearning_rte = 1"), "training.learning_rte: unknown field"),
    "optimizer": (
        SMALL.replace("steps = 5", 'steps = 5\noptimizer = "lion"'),
        "training.optimizer: must be one of sgd, adam, adamw",
    ),
    "cosines": (SMALL + "[geometry]\ncosines = [[1, 2], [2, 1]]\n", "geometry.cosines: must be positive semi-definite"),
    "not toml": ("[training\n", "is not valid TOML"),
    "huge vocabulary": (
        SMALL + "[reference]\nvocab = 100000000\nscale = 1.0\n",
        "reference.vocab: must lie in [2, 1,000,000]",
    ),
    "negative seed": (SMALL.replace("seed = 2", "seed = -1"), "training.seed: must be >= 0"),
    "gennorm shape": (
        SMALL.replace('name = "a"', 'name = "a"\ndistribution = "gennorm"\nshape = 0.001'),
        "behaviors[0].shape: must be >= 0.1",
    ),
    "batching": (
        SMALL.replace("seed = 2", 'seed = 2\nbatching = "random"'),
        "training.batching: must be one of epoch, independent",
    ),
    "independent full batch": (
        SMALL.replace("batch_size = 8", 'batch_size = 0\nbatching = "independent"'),
        "training.batching: 'independent' draws batch_size samples a step; needs batch_size > 0",
    ),
    "drop_last type": (
        SMALL.replace("seed = 2", 'seed = 2\ndrop_last = "yes"'),
        "training.drop_last: must be true or false",
    ),
    "drop_last independent": (
        SMALL.replace("seed = 2", 'seed = 2\nbatching = "independent"\ndrop_last = true'),
        "training.drop_last: is only used by batching = 'epoch' with batch_size > 0",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_naming_field_and_rule(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, message = BAD[case]
    assert main(["simulate", write(tmp_path, text), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert message in lines[0], lines[0]


def test_simulate_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", write(tmp_path, SMALL), "--runs", "3", "--device", "cpu", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["steps"] == [0, 1, 2, 3, 4, 5]
    assert (doc["runs"], doc["device"], doc["dtype"], doc["seed"]) == (3, "cpu", "float32", 2)
    assert [b["name"] for b in doc["behaviors"]] == ["a", "b"]
    for behavior in doc["behaviors"]:
        for metric in (
            "accuracy",
            "reward_accuracy",
            "loss",
            "margin",
            "margin_std",
            "chosen_logp_change",
            "rejected_logp_change",
        ):
            assert len(behavior[metric]["mean"]) == len(behavior[metric]["std"]) == 6
            assert metric in behavior["test"]
        assert behavior["loss"]["mean"][0] == pytest.approx(0.6931471805599453, rel=1e-6)
    assert doc["weight_change_opnorm"]["mean"][0] == 0.0 and doc["weight_change_opnorm"]["mean"][-1] > 0


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, SMALL))
    whole = run_scenario(scenario, runs=5, chunk_runs=2)

    def interrupt(index: int) -> None:
        if index == 1:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_scenario(scenario, runs=5, chunk_runs=2, out=out, on_chunk=interrupt)
    assert sorted(p.name for p in out.glob("chunk-*.pt")) == ["chunk-00000.pt", "chunk-00001.pt"]
    finished: list[int] = []
    resumed = run_scenario(scenario, runs=5, chunk_runs=2, out=out, resume=True, on_chunk=finished.append)
    assert finished == [2], "only the missing chunk is computed"
    assert torch.equal(resumed.curves, whole.curves) and torch.equal(resumed.rows, whole.rows)


def test_out_dir_protects_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SMALL)
    out = str(tmp_path / "out")
    assert main(["simulate", path, "--runs", "2", "--out", out, "--json"]) == 0
    first = capsys.readouterr().out
    assert main(["simulate", path, "--runs", "2", "--out", out]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["simulate", path, "--runs", "3", "--out", out, "--resume"]) == 2
    assert "runs = 2, not 3" in capsys.readouterr().err
    assert main(["simulate", path, "--runs", "2", "--out", out, "--resume", "--json"]) == 0
    assert capsys.readouterr().out == first


def test_scenario_example_is_valid_and_commented(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "--example"]) == 0
    text = capsys.readouterr().out
    assert text == builtin_text("example") and text.count("#") > 20
    assert main(["scenario", "--validate", write(tmp_path, text), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [b["name"] for b in doc["behaviors"]] == ["power-seeking", "agreeableness"]
    assert sum(b["train_samples"] + b["test_samples"] for b in doc["behaviors"]) == 1024


def test_a_user_loss_scenario_is_taken_by_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loss = 'loss = { expr = "log(1 + exp(-(h - gamma)))", params = { gamma = 0.5 } }'
    path = write(tmp_path, SMALL.replace("steps = 5", f"steps = 5\n{loss}"))
    assert main(["scenario", "--validate", path]) == 0
    assert "loss: phi(h) = log(exp(gamma - h) + 1) with gamma = 0.5" in capsys.readouterr().out
    assert main(["scenario", "--validate", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == {"expr": "log(exp(gamma - h) + 1)", "params": {"gamma": 0.5}}
    assert main(["simulate", path, "--runs", "2", "--json"]) == 0
    simulated = json.loads(capsys.readouterr().out)
    assert main(["predict", path, "--json"]) == 0
    predicted = json.loads(capsys.readouterr().out)
    assert [b["name"] for b in simulated["behaviors"]] == [b["name"] for b in predicted["behaviors"]] == ["a", "b"]
    # phi'(0) = -sigmoid(gamma) < 0: one step raises the margin of the distinguishable behaviour
    assert simulated["behaviors"][0]["margin"]["mean"][1] > 0


def test_default_scenario_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--runs", "2", "--record-every", "0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    final = [b["accuracy"]["mean"][-1] for b in doc["behaviors"]]
    assert doc["steps"] == [0, 100] and len(final) == 4
    assert final[0] > final[-1], "the most distinguishable behaviour is learned best"


ARGUMENTS = {
    "simulate --seed": (["simulate", "--seed", "-1"], "argument --seed: must be >= 0"),
    "simulate --runs": (["simulate", "--runs", "0"], "argument --runs: must be > 0"),
    "verify --examples": (["verify", "--examples", "x"], "argument --examples: must be an integer"),
    "predict --steps": (["predict", "--steps", "0"], "argument --steps: must be > 0"),
    "persona --threshold": (
        ["persona", "train", "--data", "d", "--threshold", "nan"],
        "argument --threshold: must be finite",
    ),
    "persona --test-fraction": (
        ["persona", "train", "--data", "d", "--test-fraction", "1"],
        "argument --test-fraction: must be < 1",
    ),
    "persona --resamples": (
        ["persona", "stats", "--data", "d", "--resamples", "5"],
        "argument --resamples: must be >= 10",
    ),
}


@pytest.mark.parametrize("case", sorted(ARGUMENTS))
def test_bad_arguments_exit_2_naming_the_flag(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv, message = ARGUMENTS[case]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_out_paths_that_are_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file")
    for argv in (
        ["simulate", "--runs", "1", "--out", str(taken)],
        ["report", str(taken)],
        ["verify", "dpo-gradient", "--out", str(taken)],
    ):
        assert main(argv) == 2
        assert f"{taken} exists and is not a directory" in capsys.readouterr().err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["simulate", "--runs", "1", "--out", str(foreign)]) == 2
    assert "holds other files" in capsys.readouterr().err


def test_corrupt_manifest_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{not json")
    assert main(["simulate", "--runs", "1", "--out", str(out), "--resume"]) == 2
    assert "is not a prefdyn simulate manifest" in capsys.readouterr().err


def test_missing_report_inputs_fail_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "r"), "--benchmarks", str(tmp_path / "none.json")]) == 2
    assert "--benchmarks: file not found" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "r"), "--persona", str(tmp_path / "none")]) == 2
    assert "--persona: nothing found" in capsys.readouterr().err


@pytest.mark.parametrize("device, message", [("tpu", "must be cpu, cuda or auto"), ("cpu:x", "is not a device")])
def test_bad_devices(device: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--runs", "1", "--device", device]) == 2
    assert message in capsys.readouterr().err


def test_cpu_with_an_index_is_a_device(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--runs", "1", "--device", "cpu:0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["device"] == "cpu:0"


@pytest.mark.parametrize("action", ["train", "pair", "misalign", "finetune", "predict"])
def test_persona_learning_rate_spellings_agree(action: str) -> None:
    parser = build_parser()
    base = ["persona", action, "--data", "x.jsonl"]
    assert parser.parse_args([*base, "--learning-rate", "3.5"]).lr == 3.5
    assert parser.parse_args([*base, "--lr", "3.5"]).lr == 3.5
    assert parser.parse_args(base).lr == 0.1  # the paper's default


@pytest.mark.parametrize("action", ["train", "pair", "misalign", "finetune", "predict"])
def test_persona_batching_and_dtype_reach_the_training(action: str) -> None:
    from prefdyn.cli._persona_options import train_settings

    parser = build_parser()
    base = ["persona", action, "--data", "x.jsonl", "--device", "cpu"]
    default = train_settings(parser.parse_args(base))
    assert (default.batching, default.dtype, default.config().drop_last) == ("epoch", None, False)
    chosen = train_settings(parser.parse_args([*base, "--batching", "independent", "--dtype", "float64"]))
    assert (chosen.config().batching, chosen.dtype) == ("independent", "float64")
