"""MkDocs hooks of the prefdyn site (``mkdocs.yml``: ``hooks:``).

* The API tree. prefdyn's layers live in top-level folders (``theory/``, ``numerics/``,
  ``verification/``) that ``pyproject.toml`` maps to ``prefdyn.theory`` etc. with setuptools'
  ``package-dir``; griffe, which reads source files for mkdocstrings, knows nothing of that
  mapping. ``build/docs-api/prefdyn`` lays the package out as the wheel does: links to
  ``prefdyn/``'s entries and to the layer folders (copies where links are unavailable), like
  ``.ci/mypy``'s tree. It is made when this module is loaded, before any plugin reads its
  configuration: mkdocstrings drops search paths that do not exist yet.
* The environment of the executed tutorials (``on_startup``): one torch thread (the pages run
  small problems; more threads only spin-wait on a busy machine), matplotlib's file backend, no
  progress bars, and a private temporary folder, removed at the end (``on_shutdown``): the
  pages' ``tempfile`` folders and a fresh ``$PREFDYN_CACHE`` live in it, so that every build
  verifies and embeds from scratch and leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API_TREE = ROOT / "build" / "docs-api"
LAYERS = ("theory", "numerics", "verification")
_SCRATCH: str | None = None


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        target.symlink_to(source, target_is_directory=source.is_dir())
    except OSError:
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


def build_api_tree() -> Path:
    """``build/docs-api/prefdyn``: ``prefdyn/``'s entries plus the layer folders."""
    tree = API_TREE / "prefdyn"
    shutil.rmtree(API_TREE, ignore_errors=True)
    tree.mkdir(parents=True)
    for entry in sorted((ROOT / "prefdyn").iterdir()):
        if entry.name != "__pycache__":
            _link_or_copy(entry, tree / entry.name)
    for layer in LAYERS:
        _link_or_copy(ROOT / layer, tree / layer)
    return API_TREE


def on_startup(command: str, dirty: bool) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("COLUMNS", "100")  # argparse's help width in the CLI reference
    global _SCRATCH
    _SCRATCH = tempfile.mkdtemp(prefix="prefdyn-docs-")
    tempfile.tempdir = _SCRATCH
    os.environ["PREFDYN_CACHE"] = str(Path(_SCRATCH) / "cache")


def on_shutdown() -> None:
    global _SCRATCH
    if _SCRATCH is not None:
        tempfile.tempdir = None
        shutil.rmtree(_SCRATCH, ignore_errors=True)
        _SCRATCH = None


build_api_tree()
