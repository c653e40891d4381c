r"""A persistent cache of theorem checks, so that a warm ``prefdyn theorems`` or ``derive`` only
builds and prints.

An entry holds the :class:`~prefdyn.theory.framework.CheckReport` verdicts (per claim, per step:
verified, method, detail) of one theorem for one loss. Its key is the SHA-256 of

* the source of every module of the theory layer (``theory/**/*.py``): any edit to a theorem, the
  framework, the printer or the loss machinery misses the cache;
* the theorem id and the loss's fingerprint (name, ``srepr`` of :math:`\phi`, its parameters);
* the SymPy and prefdyn versions.

Entries are sealed files (:func:`prefdyn.files.write_sealed`: checksum, length, key as
provenance) under ``<cache root>/theorems/``; a corrupt or foreign entry is ignored and
rewritten. Library calls (:meth:`Theorem.check`) never read the cache: only the commands do,
and ``--no-cache`` makes them re-verify.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import sympy as sp

from prefdyn.files import Corrupt, Foreign, cache_root, read_sealed, write_sealed

from .framework import CheckReport, StepResult, Theorem
from .losses import Loss

_THEORY = Path(__file__).resolve().parent


@cache
def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(_THEORY.rglob("*.py")):
        digest.update(path.relative_to(_THEORY).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(theorem_id: str, loss: Loss) -> str:
    """The content key of ``theorem_id`` checked for ``loss`` (see the module docstring)."""
    from prefdyn._version import __version__

    parts = {
        "theorem": theorem_id,
        "loss": [loss.name, sp.srepr(loss.phi), sorted((sp.srepr(k), sp.srepr(v)) for k, v in loss.params.items())],
        "source": _source_digest(),
        "sympy": sp.__version__,
        "prefdyn": __version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _path(key: str, root: Path | None) -> Path:
    return (root or cache_root()) / "theorems" / f"{key}.json"


def cached_check(theorem: Theorem, loss: Loss, root: Path | None = None) -> CheckReport:
    """``theorem.check()``, read from the cache when an intact entry exists, else computed and
    stored. The report's results are attached to ``theorem`` so that printing reuses them."""
    key = cache_key(theorem.id, loss)
    path = _path(key, root)
    try:
        stored = json.loads(read_sealed(path, {"key": key}))
        results = [(claim, [StepResult(*r) for r in rows]) for claim, rows in zip(theorem.claims, stored, strict=True)]
        if any(len(rows) != len(claim.steps) for claim, rows in results):
            raise Corrupt("step count differs")
        report = CheckReport(theorem.id, results)
    except FileNotFoundError:
        report = _store(theorem, path, key)
    except (Corrupt, Foreign, ValueError, TypeError) as err:
        import sys

        print(f"prefdyn: theorem cache entry {path.name} ignored ({err}); re-verifying", file=sys.stderr)
        report = _store(theorem, path, key)
    theorem._report = report
    return report


def _store(theorem: Theorem, path: Path, key: str) -> CheckReport:
    report = theorem.check()
    rows = [[[r.verified, r.method, r.detail] for r in results] for _, results in report.results]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_sealed(path, json.dumps(rows).encode(), {"key": key})
    except OSError:
        pass  # an unwritable cache only costs speed
    return report
