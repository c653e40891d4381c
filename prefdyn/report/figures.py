"""The report's figures (matplotlib, Agg backend), readable without the text.

Every figure has labelled axes with units and a legend, and follows the shared conventions of
:mod:`prefdyn.numerics.plotting`: the Okabe--Ito colour-blind-safe palette (behaviours also
differ by marker, so a greyscale print still separates them), its :func:`style`, and
:func:`~prefdyn.numerics.plotting.save` (vector PDF plus a 200-dpi PNG with fixed metadata: the
same data give byte-identical files).

Inputs are plain data in the JSON shape of ``prefdyn simulate --json`` (a *summary*:
``{"steps": [...], "behaviors": [{"name", "<metric>": {"mean": [...], "std": [...]}}]}``),
so theory curves from ``prefdyn predict --json`` plot with the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from prefdyn.formatting import p_value_phrase
from prefdyn.numerics.plotting import colour, marker, style

#: Axis labels (every accuracy counts a tie, h = 0, as 1/2: :func:`_ylabel` says so).
LABELS = {
    "accuracy": "policy accuracy", "reward_accuracy": "reward accuracy",
    "margin": r"margin $h = \beta\rho$", "loss": r"loss $\phi(h)$",
}
Summary = Mapping[str, Any]


def _band(ax: Axes, steps: Sequence[int], curve: Mapping[str, Sequence[float]] | None, i: int,
          line: str = "-", band: bool = True) -> None:
    """Mean curve of behaviour ``i`` (and its +-1 std band); nothing when ``curve`` is absent."""
    if curve is None:
        return
    mean, std = curve["mean"], curve["std"]
    every = max(1, len(steps) // 8)
    ax.plot(steps, mean, line, color=colour(i), marker=marker(i), markevery=every, markersize=4)
    if band:
        low = [m - s for m, s in zip(mean, std)]
        high = [m + s for m, s in zip(mean, std)]
        ax.fill_between(steps, low, high, color=colour(i), alpha=0.2, linewidth=0)


def _steps_axis(ax: Axes) -> None:
    ax.set_xlabel("training step $t$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))


def _legend(fig: Figure, ax: Axes, names: Sequence[str], styles: Sequence[tuple[Any, str]],
            loc: Any = "best") -> None:
    """Behaviours (colour + marker) in a row below the panels; line styles inside ``ax``."""
    handles = [Line2D([], [], color=colour(i), marker=marker(i), label=n) for i, n in enumerate(names)]
    columns = min(len(handles), 4)
    fig.legend(handles=handles, loc="lower center", ncol=columns, frameon=False)
    ax.legend(handles=[Line2D([], [], color="0.3", linestyle=ls, label=lab) for ls, lab in styles],
              loc=loc, fontsize=7, framealpha=0.85)
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


def _curve(summary: Summary, b: int, panel: Panel) -> Mapping[str, Sequence[float]] | None:
    entry = summary["behaviors"][b]
    source = entry.get("test", {}) if panel.split == "test" else entry
    return source.get(panel.metric)


def theory_vs_simulation(simulation: Summary, theory: Summary | None, panels: Sequence[Panel],
                         runs: int) -> Figure:
    """Per-behaviour curves: simulation mean with a +-1 std band across ``runs`` runs (solid),
    theory (dashed) where ``theory`` has the same metric. Each panel names its split; the
    legend names the simulation's split (that of the first panel) and the theory as the
    population limit, which held-out (``test``) samples estimate without bias."""
    with style():
        fig, axes = plt.subplots(1, len(panels), figsize=(7.0, 3.0), squeeze=False)
        names = [b["name"] for b in simulation["behaviors"]]
        for ax, panel in zip(axes[0], panels):
            for b in range(len(names)):
                _band(ax, simulation["steps"], _curve(simulation, b, panel), b)
                # the theory has no split: its curves sit at the top level of its summary
                predicted = None if theory is None else _curve(theory, b, Panel(panel.metric))
                if theory is not None and predicted is not None:
                    ax.plot(theory["steps"], predicted["mean"], "--", color=colour(b), linewidth=1.2)
            _steps_axis(ax)
            ax.set_ylabel(_ylabel(panel))
        split = panels[0].split if panels else "train"
        styles = [("-", f"simulation, {split} split, mean $\\pm$ 1 std ({runs} runs)")]
        if theory is not None:
            styles.append(("--", "theory, population limit (prefdyn predict)"))
        _legend(fig, axes[0][-1], names, styles)
    return fig


def prioritisation(joint: Summary, alone: Sequence[Summary], runs: int) -> Figure:
    """Test accuracy of every behaviour trained jointly by one head (solid, band) against the
    same behaviour trained alone on its own samples (dotted): the cost of sharing the head."""
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 3.4))
        names = [b["name"] for b in joint["behaviors"]]
        split = "test" if "test" in joint["behaviors"][0] else "train"
        panel = Panel("accuracy", split)
        for b, single in enumerate(alone):
            _band(ax, joint["steps"], _curve(joint, b, panel), b)
            _band(ax, single["steps"], _curve(single, 0, panel), b, line=":", band=False)
        _steps_axis(ax)
        ax.set_ylabel(f"policy accuracy ({split} split; tie = 1/2)")
        ax.axhline(0.5, color="0.5", linewidth=0.8)
        _legend(fig, ax, names, [("-", f"jointly (one head), $\\pm$ 1 std, {runs} runs"),
                                 (":", "alone (own head)")])
    return fig


def misalignment(summary: Summary, flip_step: int, runs: int) -> Figure:
    """Accuracy on the *original* labels while training aligns, then trains on flipped labels
    from ``flip_step`` on (shaded)."""
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 3.4))
        names = [b["name"] for b in summary["behaviors"]]
        for b in range(len(names)):
            _band(ax, summary["steps"], _curve(summary, b, Panel("accuracy")), b)
        ax.axvspan(flip_step, summary["steps"][-1], color="0.85", alpha=0.5, linewidth=0)
        ax.axvline(flip_step, color="0.3", linestyle="--", linewidth=1)
        ax.text(flip_step, 1.01, " labels flipped", va="bottom", ha="left", fontsize=8,
                color="0.2", transform=ax.get_xaxis_transform())
        ax.set_ylim(-0.02, 1.02)
        _steps_axis(ax)
        ax.set_ylabel("policy accuracy, original labels\n(train split; tie = 1/2)")
        _legend(fig, ax, names, [("-", f"mean $\\pm$ 1 std over {runs} runs")])
    return fig


@dataclass(frozen=True)
class Scatter:
    """Points of the distinguishability/speed scatter and their rank correlation."""

    names: Sequence[str]
    x: Sequence[float]
    y: Sequence[float]
    yerr: Sequence[float] | None
    rho: float
    p_value: float
    xlabel: str
    ylabel: str
    p_method: str = "permutation"
    p_resolution: float = 0.0

    def p_text(self) -> str:
        """``exact p = 0.012`` / ``exact p < 5.0e-05``: the test and a p-value never below its
        resolution (:func:`prefdyn.formatting.p_value_phrase`)."""
        return p_value_phrase(self.p_value, self.p_resolution, self.p_method)


def speed_scatter(data: Scatter) -> Figure:
    """Distinguishability against learning speed, one point per behaviour, with Spearman's rho."""
    with style():
        fig, ax = plt.subplots(figsize=(4.6, 3.4))
        ax.errorbar(data.x, data.y, yerr=data.yerr, fmt="none", ecolor="0.6", elinewidth=1)
        ax.scatter(data.x, data.y, s=28, color=colour(0), zorder=3, label="behaviour")
        if len(data.names) <= 12:
            for name, x, y in zip(data.names, data.x, data.y):
                ax.annotate(name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
        ax.set_xlabel(data.xlabel)
        ax.set_ylabel(data.ylabel)
        ax.ticklabel_format(axis="y", useOffset=False)
        text = rf"Spearman $\rho = {data.rho:.2f}$ ({data.p_text()}, $n = {len(data.x)}$)"
        ax.set_title(text)
        fig.tight_layout()
    return fig
