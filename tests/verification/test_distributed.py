"""``prefdyn verify --cluster``: a run split over the workers of a Ray cluster (``local:2``, one per
module; skipped without Ray) passes with the summed example count and reports the first worker's
shrunk counterexample exactly as that worker's seed reports it on one machine; bad flags, and
``--cluster`` without Ray, exit 2 with one line."""

from __future__ import annotations

import contextlib
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from prefdyn.cli import main
from prefdyn.verification import check_conjecture, load_conjecture
from prefdyn.verification.distributed import ClusterReport, ShareResult, combine, plan, split_examples, worker_seed
from prefdyn.verification.outcome import Outcome
from prefdyn.verification.runner import Report, SearchResult

#: Known false: its counterexample takes several shrinking steps. With seed 6 and 3 examples each,
#: worker 0 passes and worker 1 (a derived seed) finds the counterexample.
FALSE = "subexponential-exponent-doubled"
CONJECTURE = Path(str(resources.files("prefdyn.verification").joinpath("conjectures", f"{FALSE}.toml")))
SEED, EXAMPLES, WORKERS = 6, 6, 2


def test_shares_sum_to_the_examples_and_seeds_are_fixed() -> None:
    assert [sum(split_examples(n, w)) for n, w in [(1, 3), (7, 2), (100, 8)]] == [1, 7, 100]
    assert split_examples(7, 2) == [4, 3] and split_examples(1, 3) == [1]
    shares = plan(7, 3, seed=5)
    assert [s.seed for s in shares] == [5, worker_seed(5, 1), worker_seed(5, 2)]  # worker 0: the run's seed
    assert len({s.seed for s in shares}) == 3
    assert worker_seed(5, 1) == plan(9, 4, seed=5)[1].seed  # independent of the number of workers


def test_first_counterexample_by_worker_index() -> None:
    merged, first = combine(
        [SearchResult([Outcome()]), SearchResult([], ("a", Outcome())), SearchResult([Outcome()], ("b", Outcome()))]
    )
    assert first == 1 and merged.failure is not None and merged.failure[0] == "a" and len(merged.outcomes) == 2


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    """``prefdyn verify dpo-gradient --conjecture FALSE --cluster local:2 --workers 2 --json`` in this
    process (one cluster for every test): exit status, JSON document and counterexample folder."""
    pytest.importorskip("ray")  # the cluster extra: only the tests on a cluster need it
    out = tmp_path_factory.mktemp("cluster-counterexamples")
    argv = ["verify", "dpo-gradient", "--conjecture", str(CONJECTURE), "--examples", str(EXAMPLES)]
    argv += ["--seed", str(SEED), "--cluster", "local:2", "--workers", str(WORKERS), "--json", "--out", str(out)]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(argv)
    return code, json.loads(stdout.getvalue()), out


def test_passing_property_sums_the_examples(cluster_run: tuple[int, dict[str, Any], Path]) -> None:
    code, document, _ = cluster_run
    assert code == 1 and document["device"] == "cpu" and document["cluster"]["address"] == "local:2"
    result, workers = document["results"][0], document["cluster"]["results"][0]
    assert result["name"] == workers["name"] == "dpo-gradient" and result["passed"] and workers["found_by"] is None
    assert [(w["worker"], w["seed"], w["examples"]) for w in workers["workers"]] == [
        (0, SEED, 3),
        (1, worker_seed(SEED, 1), 3),
    ]
    assert result["examples"] == EXAMPLES == sum(w["evaluated"] for w in workers["workers"])


def test_the_json_document_matches_its_schema(cluster_run: tuple[int, dict[str, Any], Path]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "schemas" / "verify.schema.json").read_text())
    jsonschema.validate(cluster_run[1], schema)


def test_counterexample_is_the_workers_own(cluster_run: tuple[int, dict[str, Any], Path], tmp_path: Path) -> None:
    """The reported counterexample is shrunk in the worker and is exactly what the same search
    reports in this process with that worker's seed and examples (the modules a search can load are
    loaded here, by the run, so this process draws what the worker drew)."""
    _, document, out = cluster_run
    result, workers = document["results"][1], document["cluster"]["results"][1]
    assert result["name"] == workers["name"] == FALSE and not result["passed"] and result["max_violation"] > 0
    failing = [w for w in workers["workers"] if not w["passed"]]
    assert workers["found_by"] == failing[0]["worker"]  # the first by worker index
    share = workers["workers"][workers["found_by"]]
    local = check_conjecture(load_conjecture(CONJECTURE), examples=share["examples"], seed=share["seed"], out=tmp_path)
    assert not local.passed
    assert result["detail"] == local.detail and result["max_violation"] == local.max_violation
    assert Path(result["counterexample"]).parent == out
    assert Path(result["counterexample"]).read_text() == Path(local.counterexample).read_text()
    # the merged report: every worker's passing examples (shrinking's included) and one counterexample
    assert result["examples"] == sum(w["evaluated"] for w in workers["workers"]) - (len(failing) - 1)


def test_found_line_names_the_worker_and_its_flags() -> None:
    from prefdyn.cli.verify import _found_line

    report = Report(FALSE, "conjecture", 9, False, 0.1, None, None, "x")
    shares = [ShareResult(share, 4, share.index == 0) for share in plan(12, 3, seed=1)]
    line = _found_line(ClusterReport(report, shares, 1))
    assert line == f"\n  found by worker 1 of 3: --seed {worker_seed(1, 1)} --examples 4; worker 2 found one too"
    assert _found_line(ClusterReport(report, shares, None)) == ""


@pytest.mark.parametrize(
    "argv, problem",
    [
        (["--cluster", "http://head:10001"], "argument --cluster: must be ray://HOST:PORT, auto, local or local:N"),
        (["--cluster", "local:0"], "argument --cluster: must be"),
        (["--workers", "0", "--cluster", "local"], "argument --workers: must be > 0"),
    ],
)
def test_bad_cluster_flags_exit_2(argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "dpo-gradient", *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and problem in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv, problem",
    [
        (["--workers", "2"], "prefdyn verify: error: --workers: needs --cluster"),
        (["--cluster", "local:2", "--device", "cuda"], "prefdyn verify: error: --device: must be cpu with --cluster"),
    ],
)
def test_inconsistent_flags_exit_2(argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "dpo-gradient", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(problem) and len(err.strip().splitlines()) == 1


def test_without_ray_the_cluster_exits_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("prefdyn.cluster.available", lambda: False)
    assert main(["verify", "dpo-gradient", "--cluster", "local:2"]) == 2
    err = capsys.readouterr().err
    assert err == "prefdyn verify: error: cluster: Ray is not installed; pip install 'prefdyn[cluster]'\n"
