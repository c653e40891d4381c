"""The report's figures (matplotlib, Agg backend), readable without the text.

Every figure has labelled axes with units and a legend, and follows the shared conventions of
:mod:`prefdyn.numerics.plotting`: the Okabe--Ito colour-blind-safe palette (behaviours also
differ by marker, so a greyscale print still separates them), its :func:`style`, and
:func:`~prefdyn.numerics.plotting.save` (vector PDF plus a 200-dpi PNG with fixed metadata: the
same data give byte-identical files).

Inputs are plain data in the JSON shape of ``prefdyn simulate --json`` (a *summary*), so theory
curves from ``prefdyn predict --json`` plot with the same code; the curve panels themselves are
the public :func:`prefdyn.numerics.plotting.theory_vs_simulation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from prefdyn.formatting import p_value_phrase
from prefdyn.numerics.plotting import (
    Panel,
    Summary,
    band,
    colour,
    curve_of,
    legend_below,
    steps_axis,
    style,
)


def prioritisation(joint: Summary, alone: Sequence[Summary], runs: int) -> Figure:
    """Test accuracy of every behaviour trained jointly by one head (solid, band) against the
    same behaviour trained alone on its own samples (dotted): the cost of sharing the head."""
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 3.4))
        names = [b["name"] for b in joint["behaviors"]]
        split = "test" if "test" in joint["behaviors"][0] else "train"
        panel = Panel("accuracy", split)
        for b, single in enumerate(alone):
            band(ax, joint["steps"], curve_of(joint, b, panel), b)
            band(ax, single["steps"], curve_of(single, 0, panel), b, line=":", shade=False)
        steps_axis(ax)
        ax.set_ylabel(f"policy accuracy ({split} split; tie = 1/2)")
        ax.axhline(0.5, color="0.5", linewidth=0.8)
        legend_below(
            fig, ax, names, [("-", f"jointly (one head), $\\pm$ 1 std, {runs} runs"), (":", "alone (own head)")]
        )
    return fig


def misalignment(summary: Summary, flip_step: int, runs: int) -> Figure:
    """Accuracy on the *original* labels while training aligns, then trains on flipped labels
    from ``flip_step`` on (shaded)."""
    with style():
        fig, ax = plt.subplots(figsize=(5.0, 3.4))
        names = [b["name"] for b in summary["behaviors"]]
        for b in range(len(names)):
            band(ax, summary["steps"], curve_of(summary, b, Panel("accuracy")), b)
        ax.axvspan(flip_step, summary["steps"][-1], color="0.85", alpha=0.5, linewidth=0)
        ax.axvline(flip_step, color="0.3", linestyle="--", linewidth=1)
        ax.text(
            flip_step,
            1.01,
            " labels flipped",
            va="bottom",
            ha="left",
            fontsize=8,
            color="0.2",
            transform=ax.get_xaxis_transform(),
        )
        ax.set_ylim(-0.02, 1.02)
        steps_axis(ax)
        ax.set_ylabel("policy accuracy, original labels\n(train split; tie = 1/2)")
        legend_below(fig, ax, names, [("-", f"mean $\\pm$ 1 std over {runs} runs")])
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
