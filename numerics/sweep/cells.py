r"""One unit of a sweep: cells that share their data, trained as one batch, reduced to rows.

Cells whose scenarios differ only in :data:`~prefdyn.numerics.sweep.plan.BATCHED_FIELDS`
(:math:`\beta`, :math:`\eta`) see the same data: run :math:`r` of each is sampled from the same
stream :math:`(\text{seed}, r)`. A unit trains all its :math:`C` cells on run :math:`r`'s sample
as one shared-data batch (the GEMMs of :func:`~prefdyn.numerics.sweep.gemm.sweep_settings`: two
products of ``[C, d]`` and ``[n, d]`` shapes a step) with run :math:`r`'s minibatch shuffle, for
:math:`r = 0 \ldots R-1`. Cell :math:`c`'s run :math:`r` therefore sees exactly the data and the
batches that ``prefdyn simulate`` gives run :math:`r` of the cell's scenario; only the summation
order of the products differs (agreement to float rounding, tested).

A unit depends on nothing but its :class:`UnitTask`, so wherever it runs (this process, a pool
worker, a Ray task, a retry after a crash) it gives the same bits on the same device and dtype.

Rows (:func:`unit_rows`), one per cell x source x metric x split x behaviour x step:

* ``source = "simulation"``: ``mean`` across the runs that stayed finite and the two-sided 95 %
  Student-t interval ``ci_low, ci_high`` = mean :math:`\mp t_{0.975, n-1}\,s/\sqrt n` (``None`` when
  only one run is finite); behaviour ``all`` is the count-weighted mean over behaviours (the
  split's overall mean) for the per-sample metrics; ``diverged_fraction`` (step-free) is the
  share of runs whose curves became non-finite, which are left out of every mean;
* ``source = "theory"``: :func:`~prefdyn.numerics.predict.predict`'s curves at the recorded steps,
  split ``population`` (compare with ``test``), behaviour ``all`` weighted by :math:`p_b`;
* ``source = "simulation"``, ``misalignment_ratio`` (step-free, per behaviour and ``all``) when
  the last phase trains on flipped labels: per run the share of the accuracy gained before the
  flip that the flipped phase takes away, :math:`(A_{t_f} - A_T)/(A_{t_f} - A_0)` (policy
  accuracy on the original labels, the test split when held out; a run with
  :math:`A_{t_f} = A_0` is left out of it);
* ``source = "bound"``: the bounds of the sweep file (``accuracy_lower_bound`` per behaviour and
  recorded step, the others step-free).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from prefdyn.errors import PrefdynError

from ..metrics import REPORTED_METRICS, SAMPLE_METRICS, SPLITS
from ..predict import POPULATION_SPLIT, accuracy_bound, predict
from ..sampling import sample_scenario
from ..scenario import Scenario, parse_scenario, scenario_document
from ..simulator import DTYPES, compute_dtype, resolve_device, simulate

#: Columns of a unit's rows, in order.
COLUMNS = ("cell", "source", "metric", "split", "behavior", "step", "mean", "ci_low", "ci_high", "runs")
#: Metrics that are per-sample means, so that an overall (``all``) mean exists.
_MEAN_METRICS = set(REPORTED_METRICS) - {"margin_std"}
#: The confidence level of the simulation intervals.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class UnitTask:
    """Everything one unit needs: plain data, so it pickles to any worker unchanged.

    ``documents[i]`` is the scenario document of cell ``cells[i]`` (re-parsed where the unit runs).
    """

    index: int
    cells: tuple[int, ...]
    documents: tuple[dict[str, Any], ...]
    runs: int
    seed: int
    metrics: tuple[str, ...]
    record_every: int
    theory: bool
    bounds: tuple[str, ...]
    device: str = "cpu"
    dtype: str = "float32"


def batch_key(scenario: Scenario) -> str:
    """Cells with equal keys share their data and are trained as one batch.

    Parameters
    ----------
    scenario : Scenario
        A cell's scenario.

    Returns
    -------
    str
        The scenario's content hash with :math:`\\beta` and :math:`\\eta` set aside.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from prefdyn.numerics import default_scenario
    >>> sc = default_scenario()
    >>> batch_key(sc) == batch_key(replace(sc, training=replace(sc.training, beta=0.3)))
    True
    """
    return replace(scenario, training=replace(scenario.training, beta=1.0, learning_rate=1.0)).content_hash()


def make_tasks(cells: tuple[Scenario, ...], max_batch: int, **settings: Any) -> list[UnitTask]:
    """Group ``cells`` by :func:`batch_key` (groups in order of their first cell), split each group
    into units of at most ``max_batch`` cells.

    Parameters
    ----------
    cells : tuple of Scenario
        The sweep's cells.
    max_batch : int
        The most cells one unit trains at once.
    **settings
        The remaining :class:`UnitTask` fields (``metrics``, ``record_every``, ...); ``runs`` and
        ``seed`` are the cells' own.

    Returns
    -------
    list of UnitTask
        Numbered ``0, 1, ...``; every cell in exactly one.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from prefdyn.numerics import default_scenario
    >>> sc = default_scenario()
    >>> cells = tuple(replace(sc, training=replace(sc.training, beta=b)) for b in (0.5, 1.0, 2.0))
    >>> tasks = make_tasks(cells, 2, metrics=("accuracy",), record_every=10, theory=False, bounds=())
    >>> [t.cells for t in tasks]
    [(0, 1), (2,)]
    """
    groups: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        groups.setdefault(batch_key(cell), []).append(i)
    tasks: list[UnitTask] = []
    for members in groups.values():
        for start in range(0, len(members), max_batch):
            chunk = tuple(members[start : start + max_batch])
            documents = tuple(scenario_document(cells[i]) for i in chunk)
            first = cells[chunk[0]]  # runs and seed are part of the batch key: shared by the unit
            tasks.append(UnitTask(len(tasks), chunk, documents, first.runs, first.seed, **settings))
    return tasks


def unit_rows(task: UnitTask) -> pd.DataFrame:
    """Train the unit's cells and reduce them to rows (module docstring).

    Parameters
    ----------
    task : UnitTask
        The unit.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, rows ordered by cell.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from prefdyn.numerics import parse_scenario
    >>> sc = parse_scenario({"training": {"steps": 4, "samples": 64, "dim": 4},
    ...                      "behaviors": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}]})
    >>> cells = tuple(replace(sc, training=replace(sc.training, learning_rate=lr)) for lr in (0.1, 1.0))
    >>> (task,) = make_tasks(cells, 8, metrics=("accuracy",), record_every=2, theory=True,
    ...                      bounds=("max_learning_rate",))
    >>> rows = unit_rows(task)
    >>> sorted(set(rows.source)), sorted(set(rows.behavior.dropna()))
    (['bound', 'simulation', 'theory'], ['a', 'all', 'b'])
    >>> rows.query("source == 'simulation' and step == 0 and behavior == 'all'")["mean"].tolist()
    [0.5, 0.5]
    """
    cells = [parse_scenario(doc) for doc in task.documents]
    first = cells[0]
    dev = resolve_device(task.device)
    storage = DTYPES[task.dtype]
    betas = torch.tensor([c.training.beta for c in cells], dtype=torch.float64)
    rates = torch.tensor([c.training.learning_rate for c in cells], dtype=torch.float64)
    per_run = []
    for r in range(task.runs):
        data = sample_scenario(first, 1, task.seed, first_run=r, dtype=compute_dtype(storage), device=dev)
        out = simulate(
            data.shared(0),
            first.training,
            beta=betas,
            learning_rate=rates,
            seed=task.seed,
            run_ids=[r] * len(cells),
            record_every=task.record_every,
            device=dev,
            dtype=storage,
            check_finite=False,
        )
        per_run.append(out)
    curves = torch.stack([p.curves for p in per_run], dim=1)  # [C, R, T, K, 2, M]
    result = per_run[0]
    frames = []
    for c, (cell_id, cell) in enumerate(zip(task.cells, cells, strict=True)):
        frames.append(_simulation_rows(cell_id, curves[c], result.counts, result.steps, cell, task.metrics))
        if task.theory:
            frames.append(_theory_rows(cell_id, cell, result.steps, task.metrics))
        if task.bounds:
            frames.append(_bound_rows(cell_id, cell, task.bounds, result.steps))
    return pd.DataFrame(pd.concat(frames, ignore_index=True), columns=list(COLUMNS))


def _frame(cell: int, source: str, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS[2:]))
    frame.insert(0, "source", source)
    frame.insert(0, "cell", cell)
    return frame


def _band(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Mean over axis 0 of ``x`` (runs first), the half-width of its 95 % Student-t interval
    (``None`` for one run) and the number of runs."""
    from scipy import stats

    n = x.shape[0]
    if n < 2:
        return x.mean(0), None, n
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) / math.sqrt(n) * x.std(0, ddof=1)
    return x.mean(0), half, n


def _rows(metric: str, split: str | None, behavior: str, x: np.ndarray, steps: list[int] | None) -> list[tuple]:
    """Rows of ``x`` (``[n, T]`` at ``steps``, or ``[n]`` step-free with ``steps=None``)."""
    mean, half, n = _band(x)
    points = (
        [(None, mean, half)]
        if steps is None
        else [(s, mean[t], None if half is None else half[t]) for t, s in enumerate(steps)]
    )
    return [
        (
            metric,
            split,
            behavior,
            step,
            float(m),
            None if h is None else float(m - h),
            None if h is None else float(m + h),
            n,
        )
        for step, m, h in points
    ]


def _simulation_rows(
    cell_id: int, curves: torch.Tensor, counts: torch.Tensor, steps: list[int], cell: Scenario, metrics: tuple[str, ...]
) -> pd.DataFrame:
    finite = torch.isfinite(curves.flatten(1)).all(1)
    kept = curves[finite].numpy()  # [n, T, K, 2, M]
    n = kept.shape[0]
    rows: list[tuple[Any, ...]] = [
        ("diverged_fraction", None, None, None, 1 - n / len(finite), None, None, len(finite))
    ]
    if n == 0:
        return _frame(cell_id, "simulation", rows)
    names = [b.name for b in cell.behaviors]
    weights = counts.numpy()  # [K, 2]
    splits = [split for s, split in enumerate(SPLITS) if weights[:, s].sum() > 0]

    def per_behavior(metric: str, split: str) -> list[tuple[str, np.ndarray]]:
        s = SPLITS.index(split)
        values = kept[..., s, SAMPLE_METRICS.index({"policy_accuracy": "accuracy"}.get(metric, metric))]
        columns = [(name, values[..., k]) for k, name in enumerate(names) if weights[k, s] > 0]
        if metric in _MEAN_METRICS:
            columns.append(("all", values @ (weights[:, s] / weights[:, s].sum())))
        return columns

    for metric in metrics:
        for split in splits:
            for behavior, x in per_behavior(metric, split):
                rows += _rows(metric, split, behavior, x, steps)
    rows += _misalignment_rows(cell, steps, splits[-1], per_behavior("accuracy", splits[-1]))
    return _frame(cell_id, "simulation", rows)


def _misalignment_rows(
    cell: Scenario, steps: list[int], split: str, accuracy: list[tuple[str, np.ndarray]]
) -> list[tuple[Any, ...]]:
    r"""``misalignment_ratio`` per behaviour when the last phase trains on flipped labels: the
    share of the accuracy gained before the flip that the flipped phase takes away,
    :math:`(A_{t_f} - A_T)/(A_{t_f} - A_0)` per run (runs with :math:`A_{t_f} = A_0` left out)."""
    phases = cell.training.phase_bounds()
    if len(phases) < 2 or phases[-1][0].labels != "flipped":
        return []
    flip = steps.index(phases[-1][1])
    rows: list[tuple[Any, ...]] = []
    for behavior, a in accuracy:
        gained = a[:, flip] - a[:, 0]
        valid = gained != 0
        if valid.any():
            rows += _rows("misalignment_ratio", split, behavior, (a[valid, flip] - a[valid, -1]) / gained[valid], None)
    return rows


def _theory_rows(cell_id: int, cell: Scenario, steps: list[int], metrics: tuple[str, ...]) -> pd.DataFrame:
    try:
        prediction = predict(cell, threads=1)
    except PrefdynError:
        return _frame(cell_id, "theory", [])
    names = [b.name for b in cell.behaviors]
    weights = cell.weights
    rows: list[tuple[Any, ...]] = []
    for metric in metrics:
        curve = prediction.curves.get(metric)
        if curve is None:
            continue
        values = curve.numpy()[steps]  # [T, K]
        columns = [(name, values[:, k]) for k, name in enumerate(names)]
        if metric in _MEAN_METRICS:
            columns.append(("all", values @ weights))
        for behavior, x in columns:
            rows += [
                (metric, POPULATION_SPLIT, behavior, step, float(x[t]), None, None, 0) for t, step in enumerate(steps)
            ]
    return _frame(cell_id, "theory", rows)


def _bound_rows(cell_id: int, cell: Scenario, bounds: tuple[str, ...], steps: list[int]) -> pd.DataFrame:
    from ..population import max_learning_rate, scenario_mixture

    mix = scenario_mixture(cell)
    eta_max = max_learning_rate(mix, cell.training.loss, cell.training.beta)
    rows: list[tuple[Any, ...]] = []
    sgd = cell.training.optimizer == "sgd"  # stable-step-size's guarantee is for SGD
    if sgd and eta_max is not None and math.isfinite(eta_max) and eta_max > 0:
        values = {"max_learning_rate": eta_max, "learning_rate_ratio": cell.training.learning_rate / eta_max}
        rows += [(b, None, None, None, float(values[b]), None, None, 0) for b in bounds if b in values]
    if "accuracy_lower_bound" in bounds and cell.reference.scale == 0:
        curve, _ = accuracy_bound(cell, mix)
        if curve is not None:
            for k, behavior in enumerate(b.name for b in cell.behaviors):
                rows += [("accuracy_lower_bound", None, behavior, t, float(curve[t, k]), None, None, 0) for t in steps]
    return _frame(cell_id, "bound", rows)
