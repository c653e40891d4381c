r"""A sweep's output folder: one sealed file per finished unit, the tables, the manifest.

Layout of ``--out DIR``::

    manifest.json         the sweep's hash, settings, axes, cell and unit counts; once the sweep
                          has finished, the SHA-256 of sweep.parquet
    units/unit-00000.parquet
                          one per finished unit: its rows (sealed: SHA-256, length, provenance)
    sweep.parquet         the tidy table: one row per cell x source x metric x split x behaviour
    sweep.csv             x step, with the cell's axis values as columns (the same rows)
    cells.csv             one row per cell: its axis values and unit
    figures/              phase diagrams (written by the runner)

A unit file is written atomically (``fsync`` then rename) the moment its unit finishes, by the
driver only. ``--resume`` reads the finished units back and computes the rest; a unit file that
is damaged (truncated, altered) is named on stderr and recomputed, one of another sweep is
refused. Because a unit's rows depend only on the unit, the resumed tables equal those of an
uninterrupted run. Parquet is read with pyarrow, which runs no code from the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from prefdyn.errors import PrefdynError, require
from prefdyn.files import Corrupt, Foreign, open_resumable, read_sealed, write_sealed

from .cells import COLUMNS, UnitTask
from .plan import Axis

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
UNITS = "units"


def unit_path(out: Path, index: int) -> Path:
    """Where unit ``index``'s rows are kept.

    Parameters
    ----------
    out : Path
        The sweep's folder.
    index : int
        The unit.

    Returns
    -------
    Path
        ``out/units/unit-XXXXX.parquet``.

    Examples
    --------
    >>> unit_path(Path("out"), 3).as_posix()
    'out/units/unit-00003.parquet'
    """
    return out / UNITS / f"unit-{index:05d}.parquet"


def prepare(out: Path, manifest: dict[str, Any], resume: bool) -> None:
    """Make ``out`` ready for a sweep with ``manifest`` (hold its lock).

    Parameters
    ----------
    out : Path
        The folder: new or empty, or (with ``resume``) one this same sweep wrote.
    manifest : dict
        The sweep's manifest; a resumed folder's must agree on every key.
    resume : bool
        Whether finished units may be reused.

    Raises
    ------
    PrefdynError
        A folder with other content, or one of another sweep.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     prepare(Path(folder), {"hash": "x"}, resume=False)
    ...     prepare(Path(folder), {"hash": "x"}, resume=True)
    ...     prepare(Path(folder), {"hash": "y"}, resume=True)
    Traceback (most recent call last):
    ...
    prefdyn.errors.PrefdynError: resume: ... was written with hash = 'x', not 'y'
    """
    if not open_resumable(out, manifest, resume, "sweep"):
        (out / UNITS).mkdir()
        return
    units = out / UNITS
    if not units.exists() and not units.is_symlink():
        units.mkdir()
    require(units.is_dir() and not units.is_symlink(), "resume", f"{units} is not this sweep's folder of units")
    for stale in units.glob(".unit-*.tmp-*"):  # left by a killed run (we hold the lock)
        stale.unlink(missing_ok=True)


def provenance(manifest: dict[str, Any], task: UnitTask) -> dict[str, Any]:
    """What a unit file must say of itself: the sweep's hash and the unit's cells.

    Parameters
    ----------
    manifest : dict
        The sweep's manifest (``sweep_hash``).
    task : UnitTask
        The unit.

    Returns
    -------
    dict
        ``sweep_hash``, ``unit``, ``cells``.

    Examples
    --------
    >>> from prefdyn.numerics.sweep.cells import UnitTask
    >>> task = UnitTask(0, (0, 1), ({}, {}), 2, 0, ("accuracy",), 1, False, ())
    >>> provenance({"sweep_hash": "h"}, task)
    {'sweep_hash': 'h', 'unit': 0, 'cells': [0, 1]}
    """
    return {"sweep_hash": manifest["sweep_hash"], "unit": task.index, "cells": list(task.cells)}


def save_unit(out: Path, manifest: dict[str, Any], task: UnitTask, rows: pd.DataFrame) -> None:
    """Seal ``rows`` of ``task`` into :func:`unit_path` (atomic, durable).

    Parameters
    ----------
    out : Path
        The sweep's folder.
    manifest : dict
        The sweep's manifest.
    task : UnitTask
        The unit.
    rows : pandas.DataFrame
        Its rows (:data:`~prefdyn.numerics.sweep.cells.COLUMNS`).

    Examples
    --------
    >>> import tempfile
    >>> from prefdyn.numerics.sweep.cells import UnitTask
    >>> task = UnitTask(0, (0,), ({},), 2, 0, ("accuracy",), 1, False, ())
    >>> rows = pd.DataFrame({c: [] for c in COLUMNS})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     prepare(Path(folder), {"sweep_hash": "h"}, resume=False)
    ...     save_unit(Path(folder), {"sweep_hash": "h"}, task, rows)
    ...     len(load_unit(Path(folder), {"sweep_hash": "h"}, task))
    0
    """
    buffer = io.BytesIO()
    rows.to_parquet(buffer, engine="pyarrow", index=False)
    write_sealed(unit_path(out, task.index), buffer.getvalue(), provenance(manifest, task))


def load_unit(out: Path, manifest: dict[str, Any], task: UnitTask) -> pd.DataFrame | None:
    """The finished rows of ``task``, or ``None`` when it must be computed (absent, or damaged:
    said on stderr).

    Parameters
    ----------
    out : Path
        The sweep's folder.
    manifest : dict
        The sweep's manifest.
    task : UnitTask
        The unit.

    Returns
    -------
    pandas.DataFrame or None
        The rows as they were saved.

    Raises
    ------
    PrefdynError
        The file belongs to another sweep or is not a prefdyn unit.

    Examples
    --------
    >>> import tempfile
    >>> from prefdyn.numerics.sweep.cells import UnitTask
    >>> task = UnitTask(0, (0,), ({},), 2, 0, ("accuracy",), 1, False, ())
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     load_unit(Path(folder), {"sweep_hash": "h"}, task) is None
    True
    """
    path = unit_path(out, task.index)
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        payload = read_sealed(path, provenance(manifest, task))
    except Corrupt as err:
        print(f"prefdyn sweep: {path} is damaged ({err}); recomputing it", file=sys.stderr)
        return None
    except Foreign as err:
        raise PrefdynError(f"resume: {path} does not belong to this sweep ({err}); remove it to recompute it") from None
    try:
        rows = pd.read_parquet(io.BytesIO(payload), engine="pyarrow")
        require(list(rows.columns) == list(COLUMNS), "resume", "unexpected columns")
    except Exception:  # noqa: BLE001 - sealed but unreadable: written by something else
        raise PrefdynError(f"resume: {path} holds no prefdyn sweep rows; remove it to recompute it") from None
    return rows


@dataclass(frozen=True)
class FinishedSweep:
    """A finished sweep read back from its folder (:func:`read_finished`).

    Attributes
    ----------
    name : str
        The sweep's name.
    axes : tuple of Axis
        Its axes, values as the table labels them.
    table : pandas.DataFrame
        ``sweep.parquet``.
    cells : pandas.DataFrame
        One row per cell: ``cell`` and the axis values.
    manifest : dict
        ``manifest.json``.
    """

    name: str
    axes: tuple[Axis, ...]
    table: pd.DataFrame
    cells: pd.DataFrame
    manifest: dict[str, Any]


def read_finished(folder: str | Path, field: str = "sweep") -> FinishedSweep:
    """The finished sweep in ``folder``, checked before it is trusted.

    Parameters
    ----------
    folder : str or Path
        A ``prefdyn sweep --out`` folder whose sweep has finished.
    field : str
        The field an error names (``--sweep`` on the command line).

    Returns
    -------
    FinishedSweep
        Its table, cells and axes.

    Raises
    ------
    PrefdynError
        Not a folder, no manifest or table, a manifest of another format, or a table whose
        columns do not match the manifest's axes.

    Examples
    --------
    >>> read_finished("/nonexistent")
    Traceback (most recent call last):
    ...
    prefdyn.errors.PrefdynError: sweep: /nonexistent is not a folder
    """
    path = Path(folder)
    require(path.is_dir(), field, f"{path} is not a folder")
    try:
        manifest = json.loads((path / MANIFEST).read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        raise PrefdynError(f"{field}: {path} holds no readable prefdyn sweep manifest") from None
    ok = (
        isinstance(manifest, dict)
        and manifest.get("format") == FORMAT_VERSION
        and isinstance(manifest.get("name"), str)
        and isinstance(manifest.get("axes"), list)
        and all(
            isinstance(a, dict) and isinstance(a.get("field"), str) and isinstance(a.get("values"), list)
            for a in manifest["axes"]
        )
    )
    require(ok, field, f"{path / MANIFEST} is not a prefdyn sweep manifest (format {FORMAT_VERSION})")
    axes = tuple(Axis(a["field"], tuple(a["values"])) for a in manifest["axes"])
    try:
        payload = (path / "sweep.parquet").read_bytes()
    except OSError:
        raise PrefdynError(f"{field}: {path} holds no finished sweep table (sweep.parquet)") from None
    require(
        hashlib.sha256(payload).hexdigest() == manifest.get("table_sha256"),
        field,
        f"{path / 'sweep.parquet'} is not the table this sweep finished with (unfinished, or changed since)",
    )
    try:
        table = pd.read_parquet(io.BytesIO(payload), engine="pyarrow")
    except Exception:  # noqa: BLE001 - sealed by its checksum, but not Parquet
        raise PrefdynError(f"{field}: {path / 'sweep.parquet'} is not a Parquet table") from None
    expected = ["cell", *(a.field for a in axes), *COLUMNS[1:]]
    require(list(table.columns) == expected, field, f"{path / 'sweep.parquet'} does not have the manifest's columns")
    for axis in axes:
        require(
            set(table[axis.field]) <= set(axis.values),
            field,
            f"{path / 'sweep.parquet'} holds {axis.field} values the manifest does not list",
        )
    cells = table.drop_duplicates("cell")[["cell", *(a.field for a in axes)]].reset_index(drop=True)
    return FinishedSweep(manifest["name"], axes, table, cells, manifest)
