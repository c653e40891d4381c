"""A persistent cache of what ``prefdyn theorems`` and ``prefdyn derive`` print, so that a warm
run costs the import of the command line and the printing of a stored text: it imports neither
SymPy nor torch.

An entry holds a command's standard output and exit status. Its key is the SHA-256 of

* the command and its output-affecting inputs, as given on the command line (a ``--loss-expr``
  text is hashed, never parsed, so a hit never evaluates user text);
* the source of every module that can change the output (:func:`source_digest`: prefdyn's
  package folder and the theory layer), so any edit of a theorem, the printer or a command misses;
* the SymPy version (read from the installed metadata, not by importing SymPy) and prefdyn's.

Entries are sealed files (:func:`prefdyn.files.write_sealed`, the key as provenance) under
``<cache root>/output/``; a corrupt or foreign entry is ignored with one line on stderr and
rewritten. A command that raises (bad input) stores nothing. ``--no-cache`` recomputes and
rewrites the entry.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from prefdyn._version import __version__
from prefdyn.files import Corrupt, Foreign, cache_root, read_sealed, write_sealed


def add_no_cache_option(parser: argparse.ArgumentParser) -> None:
    """``--no-cache``: bypass (and rewrite) the output cache and the theorem-check cache."""
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="re-verify every step and re-print instead of reading the theorem and output caches",
    )


def _source_folders() -> list[Path]:
    """prefdyn's package folder and the theory layer's (a separate folder in an editable install,
    inside the package in a wheel), found without importing the theory layer."""
    folders = [Path(__file__).resolve().parents[1]]
    spec = importlib.util.find_spec("prefdyn.theory")
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(p).resolve() for p in spec.submodule_search_locations]
    return folders


@cache
def source_digest() -> str:
    """SHA-256 over the relative path and bytes of every ``*.py`` file under the folders of
    :func:`_source_folders`."""
    digest = hashlib.sha256()
    for folder in _source_folders():
        for path in sorted(folder.rglob("*.py")):
            digest.update(f"{folder.name}/{path.relative_to(folder).as_posix()}".encode("utf-8", "surrogateescape"))
            digest.update(path.read_bytes())
    return digest.hexdigest()


def output_key(command: str, inputs: Mapping[str, Any]) -> str:
    """The content key of ``command`` run with ``inputs`` (see the module docstring)."""
    parts = {
        "command": command,
        "inputs": inputs,
        "source": source_digest(),
        "sympy": importlib.metadata.version("sympy"),
        "prefdyn": __version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class _Tee(io.TextIOBase):
    """A text stream writing through to ``target`` while keeping a copy of everything written."""

    def __init__(self, target: Any) -> None:
        super().__init__()
        self.target = target
        self.copy = io.StringIO()

    @property
    def encoding(self) -> str | None:  # type: ignore[override]
        """The target's encoding: SymPy's pretty printer draws Unicode only where it can be encoded."""
        return getattr(self.target, "encoding", None)

    def write(self, text: str) -> int:
        self.target.write(text)
        return self.copy.write(text)

    def flush(self) -> None:
        self.target.flush()


def _read(path: Path, key: str) -> tuple[str, int]:
    entry = json.loads(read_sealed(path, {"key": key}))
    stdout, status = entry["stdout"], entry["status"]
    if not isinstance(stdout, str) or type(status) is not int:
        raise ValueError("malformed entry")
    return stdout, status


def replay_or_record(
    command: str,
    inputs: Mapping[str, Any],
    produce: Callable[[], int],
    refresh: bool = False,
    root: Path | None = None,
) -> int:
    """Print the stored output of ``command`` with ``inputs`` and return its exit status; on a
    miss (or ``refresh``) run ``produce``, which prints and returns the status, and store both.

    Parameters
    ----------
    command : str
        The sub-command's name.
    inputs : mapping
        Every argument that affects the output, JSON-serialisable, as given.
    produce : callable
        Runs the command uncached: prints on ``sys.stdout``, returns the exit status.
    refresh : bool
        Ignore a stored entry and rewrite it (``--no-cache``).
    root : Path, optional
        The cache root; default :func:`prefdyn.files.cache_root`.

    Returns
    -------
    int
        The exit status, the same on a hit as on the run that stored it.
    """
    key = output_key(command, inputs)
    path = (root or cache_root()) / "output" / f"{key}.json"
    if not refresh:
        try:
            stdout, status = _read(path, key)
        except FileNotFoundError:
            pass
        except (Corrupt, Foreign, ValueError, TypeError, KeyError) as err:
            print(f"prefdyn: output cache entry {path.name} ignored ({err}); recomputing", file=sys.stderr)
        else:
            sys.stdout.write(stdout)
            sys.stdout.flush()
            return status
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        status = produce()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_sealed(path, json.dumps({"stdout": tee.copy.getvalue(), "status": status}).encode(), {"key": key})
    except OSError:
        pass  # an unwritable cache only costs speed
    return status
