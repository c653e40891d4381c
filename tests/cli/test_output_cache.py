"""The output cache of ``prefdyn theorems`` and ``prefdyn derive``: a warm run prints the cold
run's bytes without importing SymPy or torch; a changed key misses; a corrupt entry is ignored,
reported and rewritten; ``--no-cache`` re-verifies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from prefdyn.cli import _output_cache, main
from prefdyn.files import read_sealed
from prefdyn.theory import catalogue, check_cache
from prefdyn.theory.framework import Claim

DERIVE = ["derive", "dpo-gradient", "--loss", "dpo", "--latex"]

#: runs the command line in a fresh interpreter, then names the SymPy and torch modules it loaded
_WARM = (
    "import sys\n"
    "from prefdyn.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sympy', 'torch')), file=sys.stderr)\n"
    "sys.exit(status)\n"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PREFDYN_CACHE", str(tmp_path))
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "output").iterdir())


def _count_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = Claim.check
    monkeypatch.setattr(Claim, "check", lambda self: calls.append(self.label) or original(self))
    catalogue._build.cache_clear()  # a fresh theorem, as in a new process
    return calls


def test_warm_run_prints_the_cold_bytes_without_sympy_or_torch(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, cold, _ = _run(capsys, *DERIVE)
    assert status == 0 and cold.startswith(r"\begin{theorem}")
    warm = subprocess.run([sys.executable, "-c", _WARM, *DERIVE], capture_output=True, timeout=120, check=False)
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout == cold.encode()
    assert warm.stderr.decode().strip() == "[]"


def test_theorems_replays_its_table(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cold = _run(capsys, "theorems", "dpo-gradient", "--json")
    (entry,) = _entries(cache)
    assert _run(capsys, "theorems", "dpo-gradient", "--json") == cold
    assert _entries(cache) == [entry]


def test_a_changed_input_or_source_misses(
    cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _output_cache.output_key("derive", {"id": "dpo-gradient", "loss": "dpo"})
    assert key != _output_cache.output_key("derive", {"id": "dpo-gradient", "loss": "ipo"})
    assert key != _output_cache.output_key("theorems", {"id": "dpo-gradient", "loss": "dpo"})
    expr = {"id": "dpo-gradient", "loss_expr": "(h - gamma)**2"}
    assert _output_cache.output_key("derive", {**expr, "param": ["gamma=0.5"]}) != _output_cache.output_key(
        "derive", {**expr, "param": ["gamma=0.25"]}
    )
    _run(capsys, *DERIVE)
    monkeypatch.setattr(_output_cache, "source_digest", lambda: "an edited theorem module")
    calls = _count_verifications(monkeypatch)
    monkeypatch.setattr(check_cache, "_source_digest", lambda: "an edited theorem module")
    _run(capsys, *DERIVE)
    assert calls, "a changed source must rebuild and re-verify"
    assert len(_entries(cache)) == 2


def test_a_corrupt_entry_is_ignored_reported_and_rewritten(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cold = _run(capsys, *DERIVE)
    (entry,) = _entries(cache)
    entry.write_bytes(entry.read_bytes()[:-5])
    status, out, err = _run(capsys, *DERIVE)
    assert (status, out) == cold[:2]
    assert len(err.splitlines()) == 1 and f"output cache entry {entry.name} ignored" in err
    assert read_sealed(entry, {"key": entry.stem})  # rewritten intact
    assert _run(capsys, *DERIVE) == cold


def test_no_cache_re_verifies_and_rewrites(
    cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = _run(capsys, *DERIVE)
    (entry,) = _entries(cache)
    entry.write_bytes(b"stale")
    calls = _count_verifications(monkeypatch)
    assert _run(capsys, *DERIVE, "--no-cache") == cold
    assert calls, "--no-cache must re-verify"
    assert read_sealed(entry, {"key": entry.stem})


def test_errors_are_not_stored(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "derive", "dpo-gradient", "--loss-expr", "h + zz")
    assert status == 2 and out == "" and "unknown symbol(s) zz" in err
    assert not (cache / "output").exists()
