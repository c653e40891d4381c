"""Files and flags from strangers: every hostile input exits 2 with one line, runs no code,
creates no file and deletes nothing; interrupted and concurrent writers lose nothing.

The corpus: formulas that try to escape (attribute chains, dunder names built by slicing,
lambdas, comprehensions, huge literals and powers, deep nesting) given as ``--loss-expr``, as a
scenario file's ``[training] loss.expr`` and as a conjecture statement; user loss tables with bad
expressions or parameters, in every command that reads a scenario or conjecture file; report
folders whose ``manifest.json`` points outside or is malformed; simulation chunks planted by
someone else. Each case runs the real command line
(in-process, or in a subprocess with a time limit where a regression could hang) with a
sentinel path that any executed payload would create.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sympy as sp

from prefdyn.cli import main
from prefdyn.errors import PrefdynError
from prefdyn.theory.expressions import parse_expression

#: a scenario that simulates in well under a second
SMALL = (Path(__file__).resolve().parents[1] / "data" / "small.toml").read_text()

#: formulas that would run ``touch SENTINEL`` (or exhaust the machine) if evaluated
PAYLOADS = {
    "dunder by slicing": "Phi.__globals__['.__builtins__'[1:]]['.__import__'[1:]]('.os'[1:])"
    ".system('.touch SENTINEL'[1:])",
    "sigmoid globals": "sigmoid.eval.__globals__['__builtins__']['__import__']('os').system('touch SENTINEL')",
    "lambda": "(lambda: __import__('os').system('touch SENTINEL'))()",
    "comprehension": "[__import__('os').system('touch SENTINEL') for _ in (1,)][0]",
    "generator": "sum(__import__('os').system('touch SENTINEL') for _ in (1,))",
    "subclasses": "().__class__.__bases__[0].__subclasses__()",
    "import call": "__import__('os').system('touch SENTINEL')",
    "getattr": "getattr(exp, 'eval')",
    "string bomb": "'a'*10**10",
    "power tower": "9**9**9**9",
    "power of ten": "10**10**10",
    "huge literal": "1" * 5000,
    "big float": "1e400",
    "deep parentheses": "(" * 300 + "h" + ")" * 300,
    "deep unary": "-" * 200 + "h",
    "long": "h" + "+h" * 1500,
    "many nodes": "+".join(["exp(h)"] * 120),
    "keyword": "exp(h, evaluate=False)",
    "walrus": "(x := h)",
    "conditional": "h if h else 1",
    "f-string": "f'{h}'",
    "dict": "{h: 1}",
    "starred": "Max(*[h, 1])",
    "call of a call": "exp(h)(1)",
    "attribute on name": "h.func",
    "nul": "h\x00",
}
#: payloads whose refusal must be fast even if the parser regressed (run with a time limit)
BOMBS = ("string bomb", "power tower", "power of ten", "huge literal")


def _snapshot(*folders: Path) -> dict[str, bytes]:
    """Every file under ``folders`` (path -> content): nothing may appear or vanish."""
    out: dict[str, bytes] = {}
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                path = Path(root) / name
                out[str(path)] = path.read_bytes() if not path.is_symlink() else os.readlink(path).encode()
    return out


@pytest.fixture
def arena(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder (also the cwd) with a victim file outside any output folder."""
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "victim.txt").write_text("precious")
    monkeypatch.chdir(work)
    return work


def _payload(name: str, sentinel: Path) -> str:
    return PAYLOADS[name].replace("SENTINEL", str(sentinel))


def _assert_clean_refusal(code: int, err: str, out: str = "") -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert out == ""


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _subprocess(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "prefdyn", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


# ----------------------------------------------------------------------------- formulas


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_hostile_loss_expression_is_refused(name: str, arena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sentinel = arena.parent / "PWNED"
    before = _snapshot(arena.parent)
    args = ["derive", "dpo-gradient", f"--loss-expr={_payload(name, sentinel)}"]
    if name in BOMBS:
        start = time.perf_counter()
        proc = _subprocess(args, arena)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
        assert time.perf_counter() - start < 60
    else:
        code, out, err = _cli(args, capsys)
    _assert_clean_refusal(code, err, out)
    assert "loss-expr: cannot parse" in err
    assert not sentinel.exists()
    assert _snapshot(arena.parent) == before


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_hostile_conjecture_statement_is_refused(name: str, arena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sentinel = arena.parent / "PWNED"
    statement = f"accuracy[0, 1] >= {_payload(name, sentinel)}"
    conjecture = arena.parent / "c.toml"
    conjecture.write_text(f'name = "hostile"\nstatement = {json.dumps(statement)}\n')
    before = _snapshot(arena.parent)
    args = ["verify", "--conjecture", str(conjecture), "--out", str(arena / "counterexamples")]
    if name in BOMBS:
        proc = _subprocess(args, arena)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        code, out, err = _cli(args, capsys)
    _assert_clean_refusal(code, err, out)
    assert "statement:" in err
    assert "PASS" not in err and not sentinel.exists()
    assert _snapshot(arena.parent) == before


def test_power_tower_is_refused_in_milliseconds() -> None:
    start = time.perf_counter()
    for text in ("9**9**9**9", "10**10**10", "(10**40)**100**100", "2**-10**9"):
        with pytest.raises(PrefdynError, match="cannot parse"):
            parse_expression(text, field="f", names={})
    assert time.perf_counter() - start < 1.0


def test_decimals_are_exact_rationals_and_arithmetic_is_kept() -> None:
    h = sp.Symbol("h")
    expr = parse_expression("0.1*h**2 - 1e-3 + 2.5E+1/h", field="f", names={"h": h})
    assert expr == sp.Rational(1, 10) * h**2 - sp.Rational(1, 1000) + 25 / h
    piecewise = parse_expression(
        "Piecewise((1 - h, h < 1), (0, True))", field="f", names={"h": h}, functions={"Piecewise": sp.Piecewise}
    )
    assert piecewise == sp.Piecewise((1 - h, h < 1), (0, True))


def test_shipped_conjectures_still_parse() -> None:
    from importlib import resources

    from prefdyn.verification import load_conjecture

    folder = resources.files("prefdyn.verification").joinpath("conjectures")
    for name in ("flipped-step-equals-alignment-step", "one-step-accuracy", "subexponential-exponent-doubled"):
        load_conjecture(folder.joinpath(f"{name}.toml"))


# ----------------------------------------------------------------------------- user losses in files

#: ``loss = VALUE`` cases -> the message after the field (``training.loss`` or ``restrict.loss``)
LOSS_CASES = {
    "bad expr": ('{ expr = "h.__class__" }', ".expr: cannot parse 'h.__class__' (attribute access"),
    "undefined name": ('{ expr = "(h - gamma)**2" }', ".expr: '(h - gamma)**2' uses unknown symbol(s) gamma"),
    "unknown param": (
        '{ expr = "(h - gamma)**2", params = { gamma = 0.5, delta = 1 } }',
        ".params.delta: unknown parameter",
    ),
    "param not a number": (
        '{ expr = "(h - gamma)**2", params = { gamma = "half" } }',
        ".params.gamma: must be a number",
    ),
    "param a boolean": ('{ expr = "(h - gamma)**2", params = { gamma = true } }', ".params.gamma: must be a number"),
    "param not finite": ('{ expr = "(h - gamma)**2", params = { gamma = nan } }', ".params.gamma: must be finite"),
    "params without expr": ("{ params = { gamma = 0.5 } }", ".expr: is required"),
    "params not a table": ('{ expr = "h**2", params = [1] }', ".params: must be a table"),
    "margin as a param": ('{ expr = "h**2", params = { h = 1 } }', ".params: 'h' must be an identifier other than h"),
    "registered name": ('{ expr = "h**2", name = "dpo" }', ".name: must be a non-empty string other than a registered"),
    "unknown key": ('{ expr = "h**2", colour = "red" }', ".colour: unknown field"),
    "not real at 0": ('{ expr = "log(h)" }', ".expr: 'log(h)' must be finite and real at the reference margin"),
    "not a loss": ("3", ": must be a registered loss name or a table"),
    "unknown name": ('"nope"', ": unknown loss 'nope'; known losses: dpo"),
}


def _loss_file(folder: Path, command: str, loss: str) -> tuple[list[str], str]:
    """``(argv, field)``: ``command`` run on a file whose loss is ``loss``."""
    if command == "verify":
        path = folder / "c.toml"
        path.write_text(f'name = "c"\nstatement = "accuracy[0, 1] >= 0"\n[restrict]\nloss = {loss}\n')
        return ["verify", "--conjecture", str(path), "--out", str(folder / "cx")], "restrict.loss"
    path = folder / "s.toml"
    path.write_text(SMALL.replace("steps = 5", f"steps = 5\nloss = {loss}"))
    argv = ["scenario", "--validate", str(path)] if command == "scenario" else [command, str(path)]
    return argv, "training.loss"


@pytest.mark.parametrize("command", ["simulate", "predict", "verify", "scenario"])
@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_bad_user_loss_in_a_file_is_one_line(
    case: str, command: str, arena: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loss, message = LOSS_CASES[case]
    argv, field = _loss_file(arena.parent, command, loss)
    code, out, err = _cli(argv, capsys)
    _assert_clean_refusal(code, err, out)
    assert f"prefdyn {command}: error: {field}{message}" in err, err
    assert not (arena.parent / "cx").exists()


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_hostile_loss_expression_in_a_scenario_is_refused(
    name: str, arena: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sentinel = arena.parent / "PWNED"
    argv, _ = _loss_file(arena.parent, "scenario", f"{{ expr = {json.dumps(_payload(name, sentinel))} }}")
    before = _snapshot(arena.parent)
    if name in BOMBS:
        proc = _subprocess(argv, arena)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        code, out, err = _cli(argv, capsys)
    _assert_clean_refusal(code, err, out)
    assert "training.loss.expr: cannot parse" in err
    assert not sentinel.exists() and _snapshot(arena.parent) == before


# ----------------------------------------------------------------------------- report folders


def _fake_report(folder: Path, files: dict[str, object] | None = None) -> None:
    """A folder that passes for an earlier prefdyn report (its listed files exist, hashes match)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.tex").write_text("old main\n")
    listed = {"main.tex": hashlib.sha256(b"old main\n").hexdigest()}
    manifest = {"generator": "prefdyn report", "files": listed if files is None else files}
    (folder / "manifest.json").write_text(json.dumps(manifest))


MANIFESTS = {
    "parent traversal": lambda victim: {
        "generator": "prefdyn report",
        "files": {"../victim.txt": "0" * 64, "main.tex": "0" * 64},
    },
    "absolute path": lambda victim: {"generator": "prefdyn report", "files": {str(victim): "0" * 64}},
    "list": lambda victim: [str(victim)],
    "files is a number": lambda victim: {"generator": "prefdyn report", "files": 5},
    "files is a list": lambda victim: {"generator": "prefdyn report", "files": [str(victim)]},
    "not UTF-8": lambda victim: b"\xff\xfe{\x00",
    "deeply nested": lambda victim: "[" * 100000,
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_report_refuses_hostile_manifest_and_deletes_nothing(
    case: str, arena: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = arena.parent / "victim.txt"
    outdir = arena / "report"
    outdir.mkdir()
    (outdir / "main.tex").write_text("someone's main\n")
    doc = MANIFESTS[case](victim)
    data = doc if isinstance(doc, bytes) else (doc if isinstance(doc, str) else json.dumps(doc)).encode()
    (outdir / "manifest.json").write_bytes(data)
    before = _snapshot(arena.parent)
    code, out, err = _cli(["report", str(outdir), "--examples", "1"], capsys)
    _assert_clean_refusal(code, err, out)
    assert "OUTDIR" in err
    assert victim.read_text() == "precious"
    assert _snapshot(arena.parent) == before


def test_report_refuses_a_listed_link_out_of_the_folder(arena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = arena.parent / "victim.txt"
    outdir = arena / "report"
    _fake_report(
        outdir,
        {
            "main.tex": hashlib.sha256(b"old main\n").hexdigest(),
            "figures/leak.pdf": hashlib.sha256(b"precious").hexdigest(),
        },
    )
    (outdir / "figures").mkdir()
    (outdir / "figures" / "leak.pdf").symlink_to(victim)
    before = _snapshot(arena.parent)
    code, _, err = _cli(["report", str(outdir)], capsys)
    _assert_clean_refusal(code, err)
    assert "not inside" in err and victim.read_text() == "precious"
    assert _snapshot(arena.parent) == before


# ----------------------------------------------------------------------------- planted chunks


class _Payload:
    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.sentinel}",)


def _simulate_args(scenario: Path, out: Path, *extra: str) -> list[str]:
    return [
        "simulate",
        str(scenario),
        "--runs",
        "4",
        "--chunk-runs",
        "2",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--json",
        *extra,
    ]


@pytest.fixture
def finished_run(arena: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, str]:
    """(scenario, out folder, JSON output) of a finished 2-chunk run."""
    scenario = arena.parent / "s.toml"
    scenario.write_text(SMALL)
    out = arena / "run"
    assert main(_simulate_args(scenario, out)) == 0
    return scenario, out, capsys.readouterr().out


def _seal(payload: bytes, provenance: dict[str, object]) -> bytes:
    header = {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload), "provenance": provenance}
    return b"PREFDYN-SEALED 1\n" + json.dumps(header, sort_keys=True).encode() + b"\n" + payload


@pytest.mark.parametrize("kind", ["raw pickle", "torch.save pickle", "sealed pickle", "link"])
def test_planted_chunk_is_refused_and_never_unpickled(
    kind: str, finished_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    scenario, out, _ = finished_run
    sentinel = out.parent.parent / "PWNED"
    chunk = out / "chunk-00000.pt"
    if kind == "raw pickle":
        chunk.write_bytes(pickle.dumps({"curves": _Payload(sentinel)}))
    elif kind == "torch.save pickle":
        torch.save({"curves": _Payload(sentinel)}, chunk)
    elif kind == "sealed pickle":  # a forger who copies the header format and the provenance
        header = json.loads(chunk.read_bytes().split(b"\n")[1])
        buffer = io.BytesIO()
        torch.save({"curves": _Payload(sentinel)}, buffer)
        chunk.write_bytes(_seal(buffer.getvalue(), header["provenance"]))
    else:
        chunk.unlink()
        chunk.symlink_to(out.parent.parent / "victim.txt")
    before = _snapshot(out.parent.parent)
    code, stdout, err = _cli(_simulate_args(scenario, out, "--resume"), capsys)
    _assert_clean_refusal(code, err, stdout)
    assert "chunk-00000.pt" in err and not sentinel.exists()
    assert _snapshot(out.parent.parent) == before


def test_chunk_of_another_run_is_refused(
    finished_run: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A seed-6 chunk in a seed-2 folder (what two racing runs used to leave) is never mixed in."""
    scenario, out, _ = finished_run
    other = tmp_path / "other"
    assert main(_simulate_args(scenario, other, "--seed", "6")) == 0
    capsys.readouterr()
    (out / "chunk-00001.pt").write_bytes((other / "chunk-00001.pt").read_bytes())
    code, stdout, err = _cli(_simulate_args(scenario, out, "--resume"), capsys)
    _assert_clean_refusal(code, err, stdout)
    assert "chunk-00001.pt does not belong to this run (written with seed = 6, not 2)" in err


@pytest.mark.parametrize("damage", ["empty", "truncated", "flipped byte"])
def test_damaged_chunk_is_named_and_recomputed(
    damage: str, finished_run: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, out, first = finished_run
    chunk = out / "chunk-00001.pt"
    blob = chunk.read_bytes()
    if damage == "empty":
        chunk.write_bytes(b"")
    elif damage == "truncated":
        chunk.write_bytes(blob[: len(blob) // 2])
    else:
        chunk.write_bytes(blob[:-10] + bytes([blob[-10] ^ 0xFF]) + blob[-9:])
    code, stdout, err = _cli(_simulate_args(scenario, out, "--resume"), capsys)
    assert code == 0, err
    assert "chunk-00001.pt is damaged" in err and "recomputing it" in err
    assert stdout == first
    assert chunk.read_bytes() == blob  # recomputed exactly


def test_damaged_or_planted_cache_entry_is_recomputed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from prefdyn.numerics.persona.cache import EmbeddingCache, cache_key

    cache = EmbeddingCache(tmp_path / "cache")
    key = cache_key(kind="test")
    cache.put(key, {"g": torch.arange(6.0).reshape(3, 2)})
    assert torch.equal(cache.get(key)["g"], torch.arange(6.0).reshape(3, 2))
    path = cache.root / f"{key}.pt"
    path.write_bytes(path.read_bytes()[:40])
    assert cache.get(key) is None
    sentinel = tmp_path / "PWNED"
    torch.save({"g": _Payload(sentinel)}, path)
    assert cache.get(key) is None and not sentinel.exists()
    other = cache_key(kind="other")
    cache.put(other, {"g": torch.zeros(1)})
    os.replace(cache.root / f"{other}.pt", path)  # an entry stored under another key
    assert cache.get(key) is None
    assert capsys.readouterr().err.count("recomputing it") == 3


# ----------------------------------------------------------------------------- kills and races

TINY_REPORT = SMALL.replace("steps = 5", "steps = 12").replace("samples = 48", "samples = 192")


def _wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "prefdyn", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_report_leaves_the_previous_one_intact(sig: signal.Signals, arena: Path) -> None:
    from prefdyn.files import FolderLock, remove_stale_builds
    from prefdyn.reporting.build import _previous

    scenario = arena.parent / "tiny.toml"
    scenario.write_text(TINY_REPORT)
    outdir = arena / "report"
    _fake_report(outdir)
    (outdir / "main.pdf").write_bytes(b"%PDF user's compiled copy")  # not the report's: kept
    before = _snapshot(outdir)
    proc = _start(
        ["report", str(outdir), "--scenario", str(scenario), "--examples", "1", "--theorem", "dpo-gradient"], arena
    )
    try:
        _wait_for(lambda: any(arena.glob(".report.build-*")) or proc.poll() is not None)
        time.sleep(0.5)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _snapshot(outdir) == before
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in err
        assert not list(arena.glob(".report.build-*"))  # the partial build is gone
    # a later run is not refused: the folder still reads as the earlier report, the lock is free
    _previous(outdir)
    with FolderLock(outdir, "OUTDIR"):
        remove_stale_builds(outdir)
    assert not list(arena.glob(".report.build-*"))


def test_report_replaces_only_its_own_files(arena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A finished report swaps in whole: the old report's files are replaced, the user's kept."""
    from prefdyn.files import staged_folder
    from prefdyn.reporting.build import _carry, _previous

    outdir = arena / "report"
    _fake_report(outdir)
    (outdir / "main.pdf").write_bytes(b"%PDF user")
    (outdir / "notes").mkdir()
    (outdir / "notes" / "todo.txt").write_text("mine")
    owned = _previous(outdir)
    with staged_folder(outdir) as build:
        (build / "main.tex").write_text("new main\n")
        _carry(outdir, owned, build)
    assert (outdir / "main.tex").read_text() == "new main\n"
    assert (outdir / "main.pdf").read_bytes() == b"%PDF user"
    assert (outdir / "notes" / "todo.txt").read_text() == "mine"
    assert not (outdir / "manifest.json").exists()  # the old report's, replaced (here: by none)
    assert sorted(p.name for p in arena.iterdir()) == ["report"]  # no build or old folder left


def test_second_simulate_writer_gets_the_lock_error(arena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = arena.parent / "long.toml"
    scenario.write_text(SMALL.replace("steps = 5", "steps = 200000"))
    out = arena / "run"
    proc = _start(["simulate", str(scenario), "--runs", "2", "--device", "cpu", "--out", str(out)], arena)
    try:
        _wait_for(lambda: (out / "manifest.json").exists() or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()[1]
        code, stdout, err = _cli(
            ["simulate", str(scenario), "--runs", "2", "--device", "cpu", "--out", str(out), "--seed", "5"], capsys
        )
        _assert_clean_refusal(code, err, stdout)
        assert f"{out} is in use by PID {proc.pid}" in err
    finally:
        proc.kill()
        proc.wait()
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2


def test_second_report_writer_gets_the_lock_error(arena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = arena.parent / "tiny.toml"
    scenario.write_text(TINY_REPORT)
    outdir = arena / "report"
    proc = _start(
        ["report", str(outdir), "--scenario", str(scenario), "--examples", "1", "--theorem", "dpo-gradient"], arena
    )
    try:
        _wait_for(lambda: any(arena.glob(".report.build-*")) or proc.poll() is not None)
        _wait_for(lambda: (arena / ".report.prefdyn-lock.pid").exists() or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()[1]
        code, stdout, err = _cli(["report", str(outdir)], capsys)
        _assert_clean_refusal(code, err, stdout)
        assert f"{outdir} is in use by PID {proc.pid}" in err
    finally:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------- clean refusals

#: scenario edits that cannot fit in memory: refused before any work, with the estimate
TOO_BIG = {
    "samples": (SMALL.replace("samples = 48", "samples = 1000000000000"), []),
    "dim": (SMALL.replace("dim = 4", "dim = 10000000"), []),
    "steps": (SMALL.replace("steps = 5", "steps = 1000000000000"), []),
    "vocab": (
        SMALL.replace("samples = 48", "samples = 4096\nruns = 256") + "[reference]\nvocab = 1000000\nscale = 1.0\n",
        [],
    ),
    "runs": (SMALL, ["--runs", "100000000"]),
}


@pytest.mark.parametrize("case", sorted(TOO_BIG))
def test_what_cannot_fit_in_memory_is_refused_before_any_work(
    case: str, arena: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, flags = TOO_BIG[case]
    scenario = arena.parent / "big.toml"
    scenario.write_text(text)
    before = _snapshot(arena.parent)
    start = time.perf_counter()
    code, out, err = _cli(["simulate", str(scenario), "--device", "cpu", "--out", str(arena / "run"), *flags], capsys)
    _assert_clean_refusal(code, err, out)
    assert "memory: this simulation needs about" in err and "available" in err
    assert time.perf_counter() - start < 30
    assert _snapshot(arena.parent) == before and not (arena / "run").exists()
    if not flags:
        assert main(["scenario", "--validate", str(scenario), "--json"]) == 0
        memory = json.loads(capsys.readouterr().out)["memory"]
        assert memory["fits"] is False and memory["estimate_bytes"] > 2**40


def test_scenario_validate_reports_the_memory_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SMALL)
    assert main(["scenario", "--validate", str(path)]) == 0
    assert "memory: about" in capsys.readouterr().out
    assert main(["scenario", "--validate", str(path), "--json"]) == 0
    memory = json.loads(capsys.readouterr().out)["memory"]
    assert memory["fits"] is True and 0 < memory["estimate_bytes"] < 2**30


def _persona_file(folder: Path, lines: list[bytes] | None = None) -> Path:
    row = lambda q: json.dumps(
        {"question": q, "answer_matching_behavior": " Yes", "answer_not_matching_behavior": " No"}
    ).encode()
    path = folder / "b.jsonl"
    path.write_bytes(b"\n".join(lines if lines is not None else [row("q1"), row("q2"), row("q3")]) + b"\n")
    return path


def _model_folder(folder: Path, config: bytes | None = None, modules: bytes | None = None) -> Path:
    model = folder / "model"
    model.mkdir()
    if config is not None:
        (model / "config.json").write_bytes(config)
    if modules is not None:
        (model / "modules.json").write_bytes(modules)
    (model / "model.safetensors").write_bytes(b"")
    return model


def _odd(case: str, work: Path) -> tuple[list[str], str]:
    """argv and the expected message fragment of each odd-artefact case."""
    scenario = work / "s.toml"
    if case == "beta 1e200 in predict":
        scenario.write_text(SMALL.replace("steps = 5", "steps = 5\nbeta = 1e200"))
        return ["predict", str(scenario)], "training.beta: must be at most 1e+12 in magnitude"
    if case == "deeply nested TOML":
        scenario.write_text("x = " + "[" * 5000 + "1" + "]" * 5000 + "\n")
        return ["simulate", str(scenario)], "nested too deeply"
    if case == "binary TOML":
        scenario.write_bytes(b"\xff\xfe\x00garbage")
        return ["scenario", "--validate", str(scenario)], "is not valid TOML"
    if case.startswith("benchmarks"):
        bench = work / "bench.json"
        bench.write_bytes(
            {
                "benchmarks not UTF-8": b"\xff\xfe{}",
                "benchmarks list": b"[1, 2]",
                "benchmarks nested list": b'{"sweep": {"x": [1, 2]}}',
            }[case]
        )
        return ["report", str(work / "report"), "--benchmarks", str(bench)], "--benchmarks:"
    if case.startswith("template"):
        spec = {
            "template width": "{question:>3000000000}",
            "template attribute": "{question.__class__}",
            "template unknown field": "{answer}",
        }[case]
        return ["persona", "stats", "--data", str(_persona_file(work)), f"--template={spec}"], "template:"
    data = str(_persona_file(work))
    if case == "model config binary":
        return ["persona", "stats", "--data", data, "--model", str(_model_folder(work, b"\xff\x00"))], "config.json"
    if case == "model config list":
        return ["persona", "stats", "--data", data, "--model", str(_model_folder(work, b"[1]"))], "config.json"
    if case == "model modules import":
        modules = json.dumps([{"type": "os.system", "path": ""}]).encode()
        return ["persona", "stats", "--data", data, "--model", str(_model_folder(work, None, modules))], "os.system"
    raise AssertionError(case)


ODD = [
    "beta 1e200 in predict",
    "deeply nested TOML",
    "binary TOML",
    "benchmarks not UTF-8",
    "benchmarks list",
    "benchmarks nested list",
    "template width",
    "template attribute",
    "template unknown field",
    "model config binary",
    "model config list",
    "model modules import",
]


@pytest.mark.parametrize("case", ODD)
def test_odd_artefacts_are_refused_in_one_line(case: str, arena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv, fragment = _odd(case, arena.parent)
    before = _snapshot(arena.parent)
    code, out, err = _cli(argv, capsys)
    _assert_clean_refusal(code, err, out)
    assert fragment in err
    assert _snapshot(arena.parent) == before


def test_unwritable_output_is_refused_before_any_work(
    arena: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import prefdyn.files

    scenario = arena.parent / "s.toml"
    scenario.write_text(SMALL)
    monkeypatch.setattr(prefdyn.files.os, "access", lambda *a, **k: False)  # as if read-only (we may be root)
    for argv in (
        ["simulate", str(scenario), "--device", "cpu", "--out", str(arena / "run")],
        ["report", str(arena / "report"), "--scenario", str(scenario)],
        ["verify", "dpo-gradient", "--out", str(arena / "cex")],
        ["persona", "stats", "--data", str(_persona_file(arena.parent)), "--out", str(arena / "p")],
    ):
        code, out, err = _cli(argv, capsys)
        _assert_clean_refusal(code, err, out)
        assert "permission denied" in err
    assert list(arena.iterdir()) == []


def test_persona_invalid_utf8_and_duplicates_are_reported(tmp_path: Path) -> None:
    from prefdyn.numerics.persona.loader import load_persona

    row = lambda q, m=" Yes", o=" No": json.dumps(
        {"question": q, "answer_matching_behavior": m, "answer_not_matching_behavior": o}
    ).encode()
    path = _persona_file(
        tmp_path,
        [
            row("q1"),
            row("caf\xe9").replace(b"\\u00e9", b"\xe9"),
            row("q2"),
            row("q1"),
            row("q2", " No", " Yes"),
            row("q3"),
        ],
    )
    problems: list[str] = []
    corpus = load_persona(path, report=problems.append)
    assert [r.question for r in corpus.behaviors[0].records] == ["q1", "q2", "q3"]
    assert any(f"{path}:2: not valid UTF-8" in p for p in problems)
    assert any(
        "2 duplicated statement(s) dropped before splitting" in p and "1 with the opposite label" in p for p in problems
    )


def test_argument_errors_are_one_line_off_a_terminal(tmp_path: Path) -> None:
    for argv in (["simulate", "--runs", "0"], ["frobnicate"], ["persona", "stats"]):
        proc = _subprocess(argv, tmp_path)
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "error:" in lines[0] and "usage" not in proc.stderr, proc.stderr


def test_a_file_added_during_the_run_keeps_the_earlier_folder(arena: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from functools import partial

    from prefdyn.files import staged_folder
    from prefdyn.reporting.build import _carry, _previous, _superseded

    outdir = arena / "report"
    _fake_report(outdir)
    owned = _previous(outdir)
    with staged_folder(outdir, discard=partial(_superseded, owned, outdir)) as build:
        (build / "main.tex").write_text("new main\n")
        _carry(outdir, owned, build)
        (outdir / "late.txt").write_text("written by an editor mid-run")
    (kept,) = [p for p in arena.iterdir() if p.name != "report"]
    assert (kept / "late.txt").read_text() == "written by an editor mid-run"
    assert "late.txt appeared" in capsys.readouterr().err
