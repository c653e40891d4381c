r"""Phase diagrams: one quantity per cell, over two axes of a sweep.

Quantities (:data:`QUANTITIES`), each a number per cell from the sweep table at the cell's last
recorded step (split ``test`` when the scenario holds one, else ``train``; behaviour ``all``):

* ``final_accuracy``: the simulated policy accuracy (mean across runs);
* ``theory_gap``: simulated minus predicted (population) final accuracy;
* ``harmed_behaviors``: how many behaviours end with an accuracy whose 95 % interval lies wholly
  below their accuracy before training (a significant loss, not noise);
* ``misalignment_ratio``: for scenarios whose last phase trains on flipped labels, the share of
  the accuracy gained before the flip that the flipped phase takes away (mean over runs);
* ``diverged_fraction``: the share of runs whose curves became non-finite.

Layout: heatmap of the first axis (x) against the second (y); each value of the remaining axes
gets its own panel (the first :data:`MAX_PANELS`); a one-axis sweep is drawn as a curve with its
95 % band, the theory dashed. Numeric axes spread over a logarithmic scale are drawn on one.

Theory overlay: where the sweep recorded ``learning_rate_ratio`` (:math:`\eta/\eta_{\max}` of
``stable-step-size``) and it crosses 1 inside a panel, the contour :math:`\eta = \eta_{\max}`
is drawn (white, dashed): to its right descent of the population loss is no longer guaranteed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..plotting import PALETTE, save, style
from .plan import Axis

#: The quantities :func:`phase_values` computes.
QUANTITIES = ("final_accuracy", "theory_gap", "harmed_behaviors", "misalignment_ratio", "diverged_fraction")
#: The most panels one figure draws.
MAX_PANELS = 12
_TITLES = {
    "final_accuracy": "final policy accuracy",
    "theory_gap": "simulation - theory (final accuracy)",
    "harmed_behaviors": "behaviours significantly harmed",
    "misalignment_ratio": "share of the alignment undone by flipped labels",
    "diverged_fraction": "share of runs diverged",
}


def _final_accuracy(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per cell, the simulated accuracy rows of its compared split (``test`` when the cell holds
    one, else ``train``): all of them, those at the cell's last step, and the theory's rows at
    that step."""
    accuracy = table[(table.metric == "accuracy") & table.step.notna()]
    simulated = accuracy[accuracy.source == "simulation"]
    has_test = simulated.groupby("cell")["split"].agg(lambda s: (s == "test").any())
    simulated = simulated[simulated.split == simulated.cell.map(has_test).map({True: "test", False: "train"})]
    final = simulated[simulated.step == simulated.groupby("cell")["step"].transform("max")]
    theory = accuracy[(accuracy.source == "theory") & (accuracy.behavior == "all")]
    theory = theory[theory.step == theory.cell.map(final.groupby("cell")["step"].max())]
    return simulated, final, theory


def phase_values(table: pd.DataFrame, quantity: str) -> pd.Series:
    """``quantity`` (module docstring) per cell.

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep table (:func:`~prefdyn.numerics.sweep.runner.run_sweep`).
    quantity : str
        One of :data:`QUANTITIES`.

    Returns
    -------
    pandas.Series
        Indexed by cell; cells without the data (no theory, no accuracy) are absent.

    Examples
    --------
    >>> from pathlib import Path
    >>> from prefdyn.numerics.sweep.plan import parse_sweep
    >>> from prefdyn.numerics.sweep.runner import run_sweep
    >>> plan = parse_sweep({"sweep": {"scenario": "builtin:default", "runs": 2, "record_every": 50},
    ...                     "axes": [{"field": "training.learning_rate", "values": [0.5, 2.0]}]}, Path("."))
    >>> table = run_sweep(plan).table
    >>> phase_values(table, "diverged_fraction").tolist()
    [0.0, 0.0]
    >>> bool((phase_values(table, "theory_gap").abs() < 0.05).all())
    True
    """
    if quantity in ("diverged_fraction", "misalignment_ratio"):
        rows = table[(table.metric == quantity) & (table.behavior.isna() | (table.behavior == "all"))]
        return rows.set_index("cell")["mean"]
    simulated, final, theory = _final_accuracy(table)
    if simulated.empty:
        return pd.Series(dtype=float)
    if quantity == "final_accuracy":
        return final[final.behavior == "all"].set_index("cell")["mean"]
    if quantity == "theory_gap":
        sim = final[final.behavior == "all"].set_index("cell")["mean"]
        return (sim - theory.set_index("cell")["mean"]).dropna()
    if quantity == "harmed_behaviors":
        start = simulated[simulated.step == 0].set_index(["cell", "behavior"])["mean"]
        end = final.set_index(["cell", "behavior"])
        harmed = (end["ci_high"] < start.reindex(end.index)) & (end.index.get_level_values("behavior") != "all")
        return harmed.groupby(level="cell").sum().astype(float)
    raise ValueError(f"quantity: must be one of {', '.join(QUANTITIES)}")


def _is_log(values: list[Any]) -> bool:
    """Positive numbers spaced more evenly in logarithm than linearly (a geometric grid)."""
    numbers = sorted(float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool))
    if len(numbers) < 3 or len(numbers) != len(values) or numbers[0] <= 0:
        return False

    def unevenness(x: np.ndarray) -> float:
        steps = np.diff(x)
        return float(steps.std() / steps.mean()) if steps.mean() > 0 else math.inf

    return unevenness(np.log(numbers)) < unevenness(np.asarray(numbers))


def _positions(values: list[Any]) -> tuple[np.ndarray, bool, bool]:
    """Coordinates of an axis's values, whether they are categories and whether log-scaled."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if not numeric:
        return np.arange(len(values), dtype=float), True, False
    return np.asarray(values, dtype=float), False, _is_log(values)


def _edges(x: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges around sorted centres ``x`` (midpoints; geometric on a log axis)."""
    if len(x) == 1:
        return np.array([x[0] / 2, x[0] * 2]) if log and x[0] > 0 else np.array([x[0] - 0.5, x[0] + 0.5])
    t = np.log(x) if log else x
    mids = (t[1:] + t[:-1]) / 2
    edges = np.concatenate([[t[0] - (mids[0] - t[0])], mids, [t[-1] + (t[-1] - mids[-1])]])
    return np.exp(edges) if log else edges


def draw_phase(table: pd.DataFrame, cells: pd.DataFrame, axes: Sequence[Axis], name: str, quantity: str) -> Any | None:
    """The figure of ``quantity`` over the first two of ``axes`` (module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        The sweep table.
    cells : pandas.DataFrame
        One row per cell with its axis values (:func:`~prefdyn.numerics.sweep.runner.cells_frame`).
    axes : sequence of Axis
        The sweep's axes (``SweepPlan.axes``).
    name : str
        The sweep's name, for the title.
    quantity : str
        One of :data:`QUANTITIES`.

    Returns
    -------
    matplotlib.figure.Figure or None
        ``None`` when the table holds no data for ``quantity``.

    Examples
    --------
    >>> from pathlib import Path
    >>> from prefdyn.numerics.sweep.plan import parse_sweep
    >>> from prefdyn.numerics.sweep.runner import run_sweep
    >>> plan = parse_sweep({"sweep": {"scenario": "builtin:default", "runs": 2, "record_every": 50},
    ...                     "axes": [{"field": "training.learning_rate", "values": [0.5, 2.0]},
    ...                              {"field": "training.beta", "values": [0.5, 1.0]}]}, Path("."))
    >>> outcome = run_sweep(plan)
    >>> figure = draw_phase(outcome.table, outcome.cells, plan.axes, plan.name, "final_accuracy")
    >>> figure.axes[0].get_xlabel()
    'training.learning_rate'
    """
    import matplotlib.pyplot as plt

    values = phase_values(table, quantity)
    if values.empty:
        return None
    ratio = table[table.metric == "learning_rate_ratio"].set_index("cell")["mean"]
    x_axis = axes[0]
    x_values = [x_axis.label(i) for i in range(len(x_axis.values))]
    if len(axes) == 1:
        return _line_figure(table, cells, x_axis, name, quantity, values)
    y_axis = axes[1]
    y_values = [y_axis.label(i) for i in range(len(y_axis.values))]
    rest = axes[2:]
    combos = list(itertools.product(*(range(len(a.values)) for a in rest)))[:MAX_PANELS]
    columns = min(len(combos), 3)
    rows = math.ceil(len(combos) / columns)
    with style(8):
        fig, grid = plt.subplots(
            rows, columns, figsize=(3.2 * columns + 1.2, 2.8 * rows + 0.6), squeeze=False, layout="constrained"
        )
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        cmap = "RdBu_r" if quantity == "theory_gap" else "viridis"
        if quantity == "theory_gap":
            high = max(abs(low), abs(high), 1e-12)
            low = -high
        mesh = None
        for ax, combo in zip(grid.flat, combos, strict=False):
            chosen = cells
            for axis, j in zip(rest, combo, strict=True):
                chosen = chosen[chosen[axis.field] == axis.label(j)]
            xs, x_cat, x_log = _positions(x_values)
            ys, y_cat, y_log = _positions(y_values)
            order_x, order_y = np.argsort(xs), np.argsort(ys)
            z = np.full((len(ys), len(xs)), np.nan)
            r = np.full_like(z, np.nan)
            for _, cell in chosen.iterrows():
                i = y_values.index(cell[y_axis.field])
                j = x_values.index(cell[x_axis.field])
                z[i, j] = values.get(cell["cell"], np.nan)
                r[i, j] = ratio.get(cell["cell"], np.nan)
            z, r = z[order_y][:, order_x], r[order_y][:, order_x]
            sx, sy = xs[order_x], ys[order_y]
            mesh = ax.pcolormesh(
                _edges(sx, x_log), _edges(sy, y_log), z, cmap=cmap, vmin=low, vmax=high, shading="flat"
            )
            if np.isfinite(r).sum() >= 4 and np.nanmin(r) < 1 < np.nanmax(r) and len(sx) > 1 and len(sy) > 1:
                lines = ax.contour(sx, sy, r, levels=[1.0], colors="white", linestyles="--", linewidths=1.2)
                ax.clabel(lines, fmt={1.0: r"$\eta=\eta_{\max}$"}, fontsize=7)
            for axis_values, cat, log, setter, ticks in (
                (x_values, x_cat, x_log, ax.set_xscale, ax.set_xticks),
                (y_values, y_cat, y_log, ax.set_yscale, ax.set_yticks),
            ):
                if log:
                    setter("log")
                if cat:
                    ticks(range(len(axis_values)), [str(v) for v in axis_values])
            ax.set_xlabel(x_axis.field)
            ax.set_ylabel(y_axis.field)
            ax.grid(False)
            if rest:
                ax.set_title(", ".join(f"{a.field} = {a.label(j)}" for a, j in zip(rest, combo, strict=True)))
        for ax in list(grid.flat)[len(combos) :]:
            ax.set_visible(False)
        assert mesh is not None  # at least one panel was drawn
        fig.colorbar(mesh, ax=grid.ravel().tolist(), shrink=0.9, label=_TITLES[quantity])
        why = "no theory for the cell, or " if quantity == "theory_gap" else ""
        blank = f" (blank: {why}every run diverged)" if values.isna().any() or len(values) < len(cells) else ""
        fig.suptitle(f"{name}: {_TITLES[quantity]}{blank}")
    return fig


def _line_figure(
    table: pd.DataFrame, cells: pd.DataFrame, axis: Axis, name: str, quantity: str, values: pd.Series
) -> Any:
    import matplotlib.pyplot as plt

    labels = [axis.label(i) for i in range(len(axis.values))]
    xs, categorical, log = _positions(labels)
    by_cell = dict(zip(cells["cell"], cells[axis.field], strict=True))
    cell_x = {c: xs[labels.index(v)] for c, v in by_cell.items()}
    with style(8):
        fig, ax = plt.subplots(figsize=(4.2, 3.0), layout="constrained")
        order = sorted(values.index, key=lambda c: cell_x[c])
        ax.plot([cell_x[c] for c in order], [values[c] for c in order], "-o", color=PALETTE[0], label="simulation")
        if quantity == "final_accuracy":
            _, final, theory = _final_accuracy(table)
            final = final[final.behavior == "all"].set_index("cell")
            theory = theory.set_index("cell")
            ax.fill_between(
                [cell_x[c] for c in order],
                [final.loc[c, "ci_low"] for c in order],
                [final.loc[c, "ci_high"] for c in order],
                color=PALETTE[0],
                alpha=0.2,
                linewidth=0,
                label="95 % interval",
            )
            if not theory.empty:
                kept = [c for c in order if c in theory.index]
                ax.plot(
                    [cell_x[c] for c in kept],
                    [theory.loc[c, "mean"] for c in kept],
                    "--",
                    color=PALETTE[1],
                    label="theory",
                )
            ax.legend()
        if log:
            ax.set_xscale("log")
        if categorical:
            ax.set_xticks(range(len(labels)), [str(v) for v in labels])
        ax.set_xlabel(axis.field)
        ax.set_ylabel(_TITLES[quantity])
        ax.set_title(name)
    return fig


def write_phase_diagrams(
    table: pd.DataFrame, cells: pd.DataFrame, axes: Sequence[Axis], name: str, folder: Path
) -> list[Path]:
    """Draw every quantity of :data:`QUANTITIES` the table supports into ``folder``.

    Parameters
    ----------
    table : pandas.DataFrame
        The sweep table.
    cells : pandas.DataFrame
        One row per cell with its axis values.
    axes : sequence of Axis
        The sweep's axes.
    name : str
        The sweep's name.
    folder : Path
        Where ``phase-QUANTITY.pdf`` and ``.png`` go (each written atomically).

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from prefdyn.numerics.sweep.plan import parse_sweep
    >>> from prefdyn.numerics.sweep.runner import run_sweep
    >>> plan = parse_sweep({"sweep": {"scenario": "builtin:default", "runs": 2, "record_every": 50},
    ...                     "axes": [{"field": "training.learning_rate", "values": [0.5, 2.0]}]}, Path("."))
    >>> outcome = run_sweep(plan)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = write_phase_diagrams(outcome.table, outcome.cells, plan.axes, plan.name, Path(folder))
    ...     sorted(p.name for p in written)[:2]
    ['phase-diverged_fraction.pdf', 'phase-diverged_fraction.png']
    """
    written: list[Path] = []
    for quantity in QUANTITIES:
        figure = draw_phase(table, cells, axes, name, quantity)
        if figure is not None:
            written += save(figure, folder, f"phase-{quantity}")
    return written
