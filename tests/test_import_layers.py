"""The import-layer contracts of pyproject.toml's [tool.importlinter] hold.

import-linter finds a package's modules by walking the folder of its root package, which in the
repository holds the CLI and helpers but not the layers (package-dir maps them from theory/,
numerics/ and verification/). So it analyses the built wheel, where every layer sits inside
prefdyn/: it runs in the unpacked wheel, since it puts its working directory first on sys.path.
"""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter is not installed ([dev] extra)")

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def test_import_layer_contracts_are_kept(installed_wheel: Path):
    command = [sys.executable, "-c", LINT_IMPORTS, "--no-logo", "--no-cache", str(PYPROJECT)]
    run = subprocess.run(command, cwd=installed_wheel, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
