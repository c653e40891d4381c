"""Shared figure conventions (matplotlib, Agg backend) for every prefdyn figure.

* Colours: the Okabe--Ito colour-blind-safe palette (Okabe & Ito, 2008), ordered so that the
  first colours are the most distinct on white; behaviours also differ by marker, so a greyscale
  print still separates them.
* Type and axes: :func:`style` (a ``with`` block of matplotlib settings): one base font size,
  labels and titles at it, legends and ticks a point smaller, no top or right spine, a light
  grid, TrueType fonts in PDFs and a fixed SVG hash salt.
* Curves: :func:`plot_curves` draws a simulation against the theory's prediction (mean and a
  +-1 std band per behaviour, theory dashed); :func:`theory_vs_simulation` is the same on the
  JSON summaries of ``prefdyn simulate --json`` and ``prefdyn predict --json``.
* Files: :func:`save` writes a vector PDF and a 200-dpi PNG with fixed metadata (no timestamps),
  so the same data give byte-identical files.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from prefdyn.files import atomic_write

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def colour(i: int) -> str:
    """The ``i``-th palette colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def marker(i: int) -> str:
    """The ``i``-th marker (cycling)."""
    return MARKERS[i % len(MARKERS)]


def style(size: float = 9) -> AbstractContextManager[Any]:
    """The figure conventions (module docstring) for the figures drawn inside the block.

    Parameters
    ----------
    size : float
        Base font size in points (9 for the report's figures, 8 for denser grids).

    Returns
    -------
    contextlib.AbstractContextManager
        A :func:`matplotlib.pyplot.rc_context` with the settings.
    """
    return plt.rc_context(
        {
            "font.size": size,
            "axes.labelsize": size,
            "axes.titlesize": size,
            "legend.fontsize": size - 1,
            "xtick.labelsize": size - 1,
            "ytick.labelsize": size - 1,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "lines.linewidth": 1.5,
            "pdf.fonttype": 42,
            "svg.hashsalt": "prefdyn",
            "figure.dpi": 100,
        }
    )


def save(fig: Figure, outdir: Path, name: str) -> list[Path]:
    """Write ``name.pdf`` and ``name.png`` under ``outdir`` without timestamps, each atomically
    (a reader sees the old file or the new one, never half of one); close ``fig``."""
    outdir.mkdir(parents=True, exist_ok=True)
    pdf, png = outdir / f"{name}.pdf", outdir / f"{name}.png"
    for path, options in (
        (pdf, {"metadata": {"CreationDate": None, "Producer": None, "Creator": None}}),
        (png, {"dpi": 200, "metadata": {"Software": None}}),
    ):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=path.suffix[1:], **options)
        atomic_write(path, buffer.getvalue())
    plt.close(fig)
    return [pdf, png]


#: Axis labels (every accuracy counts a tie, h = 0, as 1/2: the label says so).
LABELS = {
    "accuracy": "policy accuracy",
    "reward_accuracy": "reward accuracy",
    "margin": r"margin $h = \beta\rho$",
    "loss": r"loss $\phi(h)$",
}
Summary = Mapping[str, Any]


def band(
    ax: Axes,
    steps: Sequence[int],
    curve: Mapping[str, Sequence[float]] | None,
    i: int,
    line: str = "-",
    shade: bool = True,
) -> None:
    """Mean curve of behaviour ``i`` in its colour and marker (and, with ``shade``, its +-1 std
    band); nothing when ``curve`` is absent."""
    if curve is None:
        return
    mean, std = curve["mean"], curve["std"]
    every = max(1, len(steps) // 8)
    ax.plot(steps, mean, line, color=colour(i), marker=marker(i), markevery=every, markersize=4)
    if shade:
        low = [m - s for m, s in zip(mean, std)]
        high = [m + s for m, s in zip(mean, std)]
        ax.fill_between(steps, low, high, color=colour(i), alpha=0.2, linewidth=0)


def steps_axis(ax: Axes) -> None:
    """Integer training steps on the x axis."""
    ax.set_xlabel("training step $t$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))


def legend_below(
    fig: Figure, ax: Axes, names: Sequence[str], styles: Sequence[tuple[Any, str]], loc: Any = "best"
) -> None:
    """Behaviours (colour + marker) in a row below the panels; line styles inside ``ax``."""
    handles = [Line2D([], [], color=colour(i), marker=marker(i), label=n) for i, n in enumerate(names)]
    columns = min(len(handles), 4)
    fig.legend(handles=handles, loc="lower center", ncol=columns, frameon=False)
    ax.legend(
        handles=[Line2D([], [], color="0.3", linestyle=ls, label=lab) for ls, lab in styles],
        loc=loc,
        fontsize=7,
        framealpha=0.85,
    )
    rows = -(-len(handles) // columns)
    fig.tight_layout(rect=(0, 0.02 + 0.06 * rows, 1, 1))


@dataclass(frozen=True)
class Panel:
    """One axes: ``metric`` of the summaries; ``split`` ``train`` or ``test``."""

    metric: str
    split: str = "train"


def _ylabel(panel: Panel) -> str:
    tie = "; tie = 1/2" if panel.metric.endswith("accuracy") else ""
    return f"{LABELS.get(panel.metric, panel.metric)} ({panel.split} split{tie})"


def curve_of(summary: Summary, b: int, panel: Panel) -> Mapping[str, Sequence[float]] | None:
    """Behaviour ``b``'s ``{"mean", "std"}`` curve of ``panel`` in a summary (``None``: absent)."""
    entry = summary["behaviors"][b]
    source = entry.get("test", {}) if panel.split == "test" else entry
    return source.get(panel.metric)


def theory_vs_simulation(simulation: Summary, theory: Summary | None, panels: Sequence[Panel], runs: int) -> Figure:
    """Per-behaviour curves: simulation mean with a +-1 std band across ``runs`` runs (solid),
    theory (dashed) where ``theory`` has the same metric. Each panel names its split; the
    legend names the simulation's split (that of the first panel) and the theory as the
    population limit, which held-out (``test``) samples estimate without bias."""
    with style():
        fig, axes = plt.subplots(1, len(panels), figsize=(7.0, 3.0), squeeze=False)
        names = [b["name"] for b in simulation["behaviors"]]
        for ax, panel in zip(axes[0], panels):
            for b in range(len(names)):
                band(ax, simulation["steps"], curve_of(simulation, b, panel), b)
                # the theory has no split: its curves sit at the top level of its summary
                predicted = None if theory is None else curve_of(theory, b, Panel(panel.metric))
                if theory is not None and predicted is not None:
                    ax.plot(theory["steps"], predicted["mean"], "--", color=colour(b), linewidth=1.2)
            steps_axis(ax)
            ax.set_ylabel(_ylabel(panel))
        split = panels[0].split if panels else "train"
        styles = [("-", f"simulation, {split} split, mean $\\pm$ 1 std ({runs} runs)")]
        if theory is not None:
            styles.append(("--", "theory, population limit (prefdyn predict)"))
        legend_below(fig, axes[0][-1], names, styles)
    return fig


def plot_curves(
    simulated: Any, predicted: Any = None, metrics: Sequence[str] = ("accuracy", "margin"), split: str = "test"
) -> Figure:
    """Simulated curves against the theory's prediction, one panel per metric.

    Parameters
    ----------
    simulated
        A :class:`~prefdyn.numerics.simulator.SimulationResult` (or its ``summary()``).
    predicted
        A :class:`~prefdyn.numerics.predict.Prediction` (or its ``summary()``); ``None`` draws
        the simulation alone.
    metrics
        Per-behaviour metrics of the summaries: ``accuracy``, ``reward_accuracy``, ``margin``,
        ``loss``, ...
    split
        The simulation's split: ``test`` (held out, the like-for-like comparison with the
        population limit) or ``train``.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`save` (PDF and PNG) or ``fig.savefig``.

    Examples
    --------
    >>> import prefdyn as pd
    >>> scenario = pd.load_scenario()
    >>> fig = plot_curves(pd.simulate(scenario, runs=4), pd.predict(scenario), metrics=["accuracy"])
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['policy accuracy (test split; tie = 1/2)']
    """

    def summary(result: Any) -> Summary:
        return result if isinstance(result, Mapping) else result.summary()

    simulation = summary(simulated)
    runs = int(simulation.get("runs", 1))
    theory = None if predicted is None else summary(predicted)
    return theory_vs_simulation(simulation, theory, [Panel(m, split) for m in metrics], runs)
