"""The code style is enforced, not just configured: ruff's lint rules (including the 120-character
line length of ``pyproject.toml``) and its formatter pass on every source folder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
FOLDERS = ["theory", "numerics", "verification", "prefdyn", "tests", "benchmarks"]

pytestmark = pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed ([dev] extra)")


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_passes(command: list[str]) -> None:
    run = subprocess.run(["ruff", *command, *FOLDERS], cwd=REPOSITORY, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
