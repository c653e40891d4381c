r"""Run a sweep: plan the units, run them where asked, keep every finished unit, build the table.

:func:`run_sweep` is what ``prefdyn sweep`` calls. Before any work it refuses a sweep whose
table or whose largest unit would not fit in memory (the estimate and the available memory
named). With ``out`` the folder is locked for the whole run (one writer), every unit is kept the
moment it finishes (:mod:`~prefdyn.numerics.sweep.store`) and ``resume=True`` computes only the
missing units; the final tables are written atomically at the end.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from prefdyn._version import __version__
from prefdyn.errors import PrefdynError, require
from prefdyn.files import FolderLock, atomic_write, check_writable
from prefdyn.progress import Progress

from ..memory import HEADROOM, available_bytes, estimate, human, recorded_points
from ..metrics import SPLITS
from ..simulator import DTYPES, resolve_device
from . import backends, store
from .cells import UnitTask, make_tasks
from .plan import SweepPlan

#: Bytes of one table row in memory (ten columns, pandas objects included), for the estimate.
ROW_BYTES = 160


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep.

    Attributes
    ----------
    table : pandas.DataFrame
        The tidy table (module docstring of :mod:`~prefdyn.numerics.sweep.cells`) with the cells'
        axis values as leading columns.
    cells : pandas.DataFrame
        One row per cell: ``cell``, the axis values, ``unit``.
    computed : int
        Units computed by this call (the others were resumed).
    units : int
        Units in the sweep.
    """

    table: pd.DataFrame
    cells: pd.DataFrame
    computed: int
    units: int


def table_rows(plan: SweepPlan) -> int:
    """An upper bound on the rows of ``plan``'s table.

    Parameters
    ----------
    plan : SweepPlan
        The sweep.

    Returns
    -------
    int
        Cells x (simulation + theory) x metrics x splits x (behaviours + 1) x recorded steps, plus
        the step-free rows.

    Examples
    --------
    >>> from pathlib import Path
    >>> from prefdyn.numerics.sweep.plan import parse_sweep
    >>> plan = parse_sweep({"sweep": {"scenario": "builtin:default", "runs": 2, "record_every": 50},
    ...                     "axes": [{"field": "training.beta", "values": [0.5, 1.0]}]}, Path("."))
    >>> table_rows(plan)  # 2 cells x (2 sources x 2 metrics x 2 splits x 5 behaviours x 4 points + 1)
    322
    """
    total = 0
    for cell in plan.cells:
        points = recorded_points(cell.training.steps, plan.record_every, len(cell.training.phases))
        sources = 2 if plan.theory else 1
        total += sources * len(plan.metrics) * len(SPLITS) * (len(cell.behaviors) + 1) * points
        total += 1 + len(plan.bounds)
    return total


def check_memory(
    plan: SweepPlan, tasks: list[UnitTask], dtype: str, workers: int = 1, available: int | None = None
) -> None:
    """Refuse ``plan`` up front when its table and the units at work at once do not fit in memory.

    Parameters
    ----------
    plan : SweepPlan
        The sweep.
    tasks : list of UnitTask
        Its units.
    dtype : str
        The storage dtype.
    workers : int
        Units at work at the same time (each holds its cells' curves for all their runs).
    available : int, optional
        Bytes available (default: measured).

    Raises
    ------
    PrefdynError
        Naming the estimate and the available memory.

    Examples
    --------
    >>> from pathlib import Path
    >>> from prefdyn.numerics.sweep.plan import parse_sweep
    >>> plan = parse_sweep({"sweep": {"scenario": "builtin:default", "runs": 2},
    ...                     "axes": [{"field": "training.beta", "values": [0.5, 1.0]}]}, Path("."))
    >>> tasks = make_tasks(plan.cells, 8, metrics=("accuracy",), record_every=1, theory=False, bounds=())
    >>> check_memory(plan, tasks, "float32", available=1000)
    Traceback (most recent call last):
    ...
    prefdyn.errors.PrefdynError: memory: this sweep needs about ... available; ...
    """
    element = DTYPES[dtype].itemsize
    table = table_rows(plan) * ROW_BYTES
    # a unit trains C cells on one run's data at a time and keeps the curves of all C x R runs
    unit = max(
        estimate(plan.cells[t.cells[0]], runs=len(t.cells) * t.runs, chunk_runs=len(t.cells), element_size=element)[
            "total"
        ]
        for t in tasks
    )
    at_once = min(workers, len(tasks))
    total = 2 * table + at_once * unit  # the units' rows and the assembled table, and the units at work
    available = available_bytes() if available is None else available
    if available is not None and total > HEADROOM * available:
        raise PrefdynError(
            f"memory: this sweep needs about {human(total)} (table: {human(2 * table)}, largest unit: {human(unit)}), "
            f"but {human(available)} are available; use fewer cells, metrics or runs, a larger record_every, "
            "or a smaller max_batch"
        )


def _manifest(plan: SweepPlan, units: int, device: str, dtype: str) -> dict[str, Any]:
    return {
        "format": store.FORMAT_VERSION,
        "prefdyn": __version__,
        "sweep_hash": plan.content_hash(),
        "name": plan.name,
        "cells": len(plan.cells),
        "units": units,
        "runs": plan.runs,
        "seed": plan.seed,
        "device": device,
        "dtype": dtype,
        "axes": [{"field": a.field, "values": [a.label(i) for i in range(len(a.values))]} for a in plan.axes],
    }


def cells_frame(plan: SweepPlan, tasks: list[UnitTask]) -> pd.DataFrame:
    """One row per cell: ``cell``, one column per axis (its value), ``unit``.

    Parameters
    ----------
    plan : SweepPlan
        The sweep.
    tasks : list of UnitTask
        Its units.

    Returns
    -------
    pandas.DataFrame
        Ordered by cell.

    Examples
    --------
    >>> from pathlib import Path
    >>> from prefdyn.numerics.sweep.plan import parse_sweep
    >>> plan = parse_sweep({"sweep": {"scenario": "builtin:default", "runs": 2},
    ...                     "axes": [{"field": "training.loss", "values": ["dpo", "ipo"]}]}, Path("."))
    >>> tasks = make_tasks(plan.cells, 8, metrics=("accuracy",), record_every=1, theory=False, bounds=())
    >>> cells_frame(plan, tasks).to_dict("records")
    [{'cell': 0, 'training.loss': 'dpo', 'unit': 0}, {'cell': 1, 'training.loss': 'ipo', 'unit': 1}]
    """
    unit_of = {cell: t.index for t in tasks for cell in t.cells}
    return pd.DataFrame(
        [{"cell": i, **plan.coordinates(i), "unit": unit_of[i]} for i in range(len(plan.cells))],
    )


def run_sweep(
    plan: SweepPlan,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    workers: int = 1,
    cluster: str | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    progress: str | None = "off",
) -> SweepOutcome:
    """Run every cell of ``plan`` (module docstring).

    Parameters
    ----------
    plan : SweepPlan
        The sweep (:func:`~prefdyn.numerics.sweep.plan.load_sweep`).
    out : str or Path, optional
        The output folder (:mod:`~prefdyn.numerics.sweep.store`); ``None`` keeps the results in
        memory only.
    resume : bool
        Reuse the finished units of ``out``.
    workers : int
        Local worker processes (1: this process).
    cluster : str, optional
        A Ray address (:func:`prefdyn.cluster.connect`); overrides ``workers``.
    device : str
        ``cpu``, ``cuda`` or ``cuda:N``.
    dtype : str
        Storage dtype of the embeddings: ``float32``, ``float64`` or ``bfloat16``.
    progress : str, optional
        ``"bar"``, ``"lines"``, ``"off"`` or ``None`` (a bar on a terminal, else lines).

    Returns
    -------
    SweepOutcome
        The table and the cells.

    Raises
    ------
    PrefdynError
        Bad settings, too little memory, an output folder of something else, a failing unit.

    Examples
    --------
    >>> from pathlib import Path
    >>> from prefdyn.numerics.sweep.plan import parse_sweep
    >>> plan = parse_sweep({"sweep": {"scenario": "builtin:default", "runs": 2, "theory": False},
    ...                     "axes": [{"field": "training.learning_rate", "values": [0.5, 2.0]}]}, Path("."))
    >>> outcome = run_sweep(plan)
    >>> final = outcome.table.query("metric == 'accuracy' and behavior == 'all' and split == 'train' and step == 100")
    >>> final[["training.learning_rate", "runs"]].to_dict("records")
    [{'training.learning_rate': 0.5, 'runs': 2}, {'training.learning_rate': 2.0, 'runs': 2}]
    """
    require(workers >= 1, "workers", "must be >= 1")
    require(dtype in DTYPES, "dtype", f"must be one of {', '.join(DTYPES)}")
    dev = resolve_device(device)
    tasks = make_tasks(
        plan.cells,
        plan.max_batch,
        metrics=plan.metrics,
        record_every=plan.record_every,
        theory=plan.theory,
        bounds=plan.bounds,
        device=str(dev),
        dtype=dtype,
    )
    check_memory(plan, tasks, dtype, 1 if cluster is not None else workers)
    manifest = _manifest(plan, len(tasks), dev.type, dtype)
    cells = cells_frame(plan, tasks)
    if out is None:
        results = _execute(tasks, {}, None, manifest, workers, cluster, progress, plan.name)
        return SweepOutcome(_assemble(results, cells), cells, len(tasks), len(tasks))
    folder = Path(out)
    require(not folder.exists() or folder.is_dir(), "out", f"{folder} exists and is not a directory")
    check_writable(folder, "out")
    with FolderLock(folder, "out"):
        store.prepare(folder, manifest, resume)
        finished = {}
        for task in tasks:
            rows = store.load_unit(folder, manifest, task) if resume else None
            if rows is not None:
                finished[task.index] = rows
        computed = len(tasks) - len(finished)
        results = _execute(tasks, finished, folder, manifest, workers, cluster, progress, plan.name)
        table = _assemble(results, cells)
        _write_tables(folder, table, cells, manifest)
        from .phase import write_phase_diagrams

        write_phase_diagrams(table, cells, plan.axes, plan.name, folder / "figures")
    return SweepOutcome(table, cells, computed, len(tasks))


def _execute(
    tasks: list[UnitTask],
    finished: dict[int, pd.DataFrame],
    folder: Path | None,
    manifest: dict[str, Any],
    workers: int,
    cluster: str | None,
    progress: str | None,
    name: str,
) -> dict[int, pd.DataFrame]:
    todo = [t for t in tasks if t.index not in finished]
    total = sum(len(t.cells) for t in tasks)
    bar = Progress("sweep", name, total, "cells", mode=progress)
    bar.update(sum(len(t.cells) for t in tasks if t.index in finished))
    results = dict(finished)

    def done(task: UnitTask, rows: pd.DataFrame) -> None:
        if folder is not None:
            store.save_unit(folder, manifest, task, rows)
        results[task.index] = rows
        bar.update(len(task.cells))

    if cluster is not None:
        backends.run_ray(todo, done, cluster)
    elif workers > 1 and len(todo) > 1:
        backends.run_pool(todo, done, min(workers, len(todo)))
    else:
        backends.run_serial(todo, done)
    bar.close(f"{total} cells in {len(tasks)} units")
    return results


def _assemble(results: dict[int, pd.DataFrame], cells: pd.DataFrame) -> pd.DataFrame:
    rows = pd.concat([results[i] for i in sorted(results)], ignore_index=True)
    rows = rows.sort_values("cell", kind="stable", ignore_index=True)
    rows["step"] = rows["step"].astype("Int64")
    rows["runs"] = rows["runs"].astype("int64")
    for column in ("ci_low", "ci_high", "mean"):
        rows[column] = rows[column].astype("float64")
    coordinates = cells.drop(columns="unit")
    return coordinates.merge(rows, on="cell", how="right", validate="one_to_many")


def _write_tables(folder: Path, table: pd.DataFrame, cells: pd.DataFrame, manifest: dict[str, Any]) -> None:
    """The tables, then the manifest with the table's SHA-256: the mark of a finished sweep."""
    buffer = io.BytesIO()
    table.to_parquet(buffer, engine="pyarrow", index=False)
    atomic_write(folder / "sweep.parquet", buffer.getvalue())
    atomic_write(folder / "sweep.csv", table.to_csv(index=False))
    atomic_write(folder / "cells.csv", cells.to_csv(index=False))
    finished = {**manifest, "table_sha256": hashlib.sha256(buffer.getvalue()).hexdigest()}
    atomic_write(folder / store.MANIFEST, json.dumps(finished, indent=2))
