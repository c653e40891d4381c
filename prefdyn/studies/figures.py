"""Figures of ``persona predict`` (matplotlib, Agg): theory curves against real training.

Each function takes the JSON document of :meth:`.predict.PredictionReport.to_json` (so a saved
``persona-predict.json`` plots without rerunning anything), writes ``<name>.pdf`` (vector) and
``<name>.png`` (200 dpi) under ``outdir`` without timestamps (:func:`prefdyn.numerics.plotting.save`),
and returns the two paths. The conventions are :mod:`prefdyn.numerics.plotting`'s (Okabe--Ito
palette, :func:`~prefdyn.numerics.plotting.style` at 8 points for the dense grids); observed and
predicted differ by line style and marker as well, so a greyscale print still separates them.

* :func:`curve_grid`: predicted (dashed) vs observed (solid) training loss and reward accuracy
  for behaviours spread over the observed speed range;
* :func:`speed_scatter`: predicted vs observed speed, and distinguishability vs observed speed,
  each with Spearman's rho and its bootstrap CI;
* :func:`harm_panel` (joint mode): observed vs predicted final-minus-initial loss, harmed
  behaviours highlighted and listed (missed ones and false alarms marked).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from prefdyn.formatting import p_value_phrase
from prefdyn.numerics.plotting import PALETTE, save, style

BLUE, VERMILLION, GREEN = PALETTE[:3]
#: Base font size of these figures (dense grids of small panels).
FONT_SIZE = 8
Doc = Mapping[str, Any]


def _title(doc: Doc) -> str:
    s = doc["settings"]
    batch = "full batch" if s["batch_size"] == 0 else f"batch {s['batch_size']}"
    return (
        f"{doc['mode']} heads, {s['loss']}, beta {s['beta']:g}, lr {s['learning_rate']:g}, "
        f"{batch}; training split (moment model fitted to it)"
    )


def _spread(rows: list[Mapping[str, Any]], count: int) -> list[Mapping[str, Any]]:
    """``count`` behaviours at evenly spaced quantiles of the observed speed."""
    ordered = sorted(rows, key=lambda r: r["observed_speed"]["mean_loss_decrease"])
    if len(ordered) <= count:
        return ordered
    return [ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)]


def curve_grid(doc: Doc, outdir: Path, name: str = "predict-curves", panels: int = 8) -> list[Path]:
    """Grid of loss (top row of each pair) and reward accuracy curves, observed vs predicted."""
    rows = _spread(list(doc["behaviors"]), panels)
    cols = min(4, len(rows))
    pairs = -(-len(rows) // cols)
    with style(FONT_SIZE):
        fig, axes = plt.subplots(2 * pairs, cols, figsize=(1.9 * cols + 0.4, 2.9 * pairs), squeeze=False, sharex=True)
        for ax in axes.flat:
            ax.set_visible(False)
        for i, row in enumerate(rows):
            for k, (metric, label) in enumerate(
                (("loss", "train loss"), ("accuracy", "train reward acc.\n(tie = 1/2)"))
            ):
                ax = axes[2 * (i // cols) + k, i % cols]
                ax.set_visible(True)
                obs, pred = row[f"observed_{metric}"], row[f"predicted_{metric}"]
                steps = range(len(obs))
                every = max(1, len(obs) // 6)
                ax.plot(
                    steps, obs, "-", color=BLUE, marker="o", markevery=every, markersize=3, label="observed (real run)"
                )
                ax.plot(
                    steps,
                    pred,
                    "--",
                    color=VERMILLION,
                    marker="s",
                    markevery=every,
                    markersize=3,
                    label="predicted (moment model)",
                )
                if k == 0:
                    ax.set_title(row["name"][:28], fontsize=7)
                if i % cols == 0:
                    ax.set_ylabel(label)
                if 2 * (i // cols) + k == 2 * pairs - 1:
                    ax.set_xlabel("training step $t$")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
        # wrapped to the figure's width (about 14 characters an inch at this size): a narrow grid
        # of two panels would cut a one-line title off at both ends
        fig.suptitle(textwrap.fill(_title(doc), width=int(14 * fig.get_figwidth())))
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        return save(fig, outdir, name)


def _rho_text(corr: Mapping[str, Any] | None) -> str:
    """Spearman's rho, its CI and its p-value (the test named; ``< r`` at its resolution)."""
    if corr is None:
        return "rho: n/a (fewer than 3 behaviours)"
    ci = corr["ci"]
    p = p_value_phrase(corr["p_value"], corr.get("p_resolution"), corr.get("method", "permutation"))
    return f"Spearman rho = {corr['rho']:.3g}, n = {corr['n']}\n95% CI [{ci['low']:.3g}, {ci['high']:.3g}]\n{p}"


def speed_scatter(doc: Doc, outdir: Path, name: str = "predict-speed") -> list[Path]:
    """Observed speed (mean loss decrease) against the predicted speed and against the
    distinguishability, with Spearman's rho."""
    rows = list(doc["behaviors"])
    obs = [r["observed_speed"]["mean_loss_decrease"] for r in rows]
    panels = (
        (
            [r["predicted_speed"]["mean_loss_decrease"] for r in rows],
            "predicted mean loss decrease (moment model)",
            doc["rho_predicted_observed_speed"],
            BLUE,
            "o",
        ),
        (
            [r["distinguishability"] for r in rows],
            r"distinguishability $\|\mu^+ - \mu^-\|_2$",
            doc["rho_distinguishability_observed_speed"],
            GREEN,
            "^",
        ),
    )
    with style(FONT_SIZE):
        fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.0))
        for ax, (x, label, corr, colour, mark) in zip(axes, panels):
            ax.scatter(x, obs, s=12, color=colour, marker=mark, alpha=0.8, linewidths=0)
            ax.set_xlabel(label)
            ax.set_ylabel("observed mean loss decrease")
            ax.text(0.03, 0.97, _rho_text(corr), transform=ax.transAxes, va="top", fontsize=7)
        lo, hi = min(panels[0][0] + obs), max(panels[0][0] + obs)
        axes[0].plot([lo, hi], [lo, hi], ":", color="0.4", label="y = x")
        axes[0].legend(loc="lower right")
        fig.suptitle(_title(doc))
        fig.tight_layout()
        return save(fig, outdir, name)


def harm_panel(doc: Doc, outdir: Path, name: str = "predict-harm") -> list[Path]:
    """Joint training: final minus initial training loss, observed vs predicted; behaviours
    observed harmed (above 0) are highlighted and listed beside the axes, with the prediction's
    precision and recall."""
    rows = list(doc["behaviors"])
    change = lambda r, kind: r[f"{kind}_loss"][-1] - r[f"{kind}_loss"][0]
    harmed = set(doc["harmed"]["observed"]) if doc.get("harmed") else set()
    with style(FONT_SIZE):
        fig, ax = plt.subplots(figsize=(6.8, 3.6))
        for group, colour, mark, label in (
            (False, BLUE, "o", "not harmed"),
            (True, VERMILLION, "D", "harmed (observed)"),
        ):
            sel = [r for r in rows if (r["name"] in harmed) == group]
            ax.scatter(
                [change(r, "predicted") for r in sel],
                [change(r, "observed") for r in sel],
                s=16 if group else 10,
                color=colour,
                marker=mark,
                label=label,
                linewidths=0,
            )
        ax.axhline(0, color="0.4", linestyle=":")
        ax.axvline(0, color="0.4", linestyle=":")
        ax.set_xlabel(r"predicted $L_T - L_0$")
        ax.set_ylabel(r"observed $L_T - L_0$")
        score = doc.get("harmed") or {}
        fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
        ax.set_title(
            f"{_title(doc)}\nharmed: precision {fmt(score.get('precision'))}, recall {fmt(score.get('recall'))}"
        )
        ax.legend(loc="lower right")
        predicted = set(score.get("predicted") or [])
        listing = [f"{n}{'' if n in predicted else ' (missed)'}" for n in sorted(harmed)]
        listing += [f"{n} (false alarm)" for n in sorted(predicted - harmed)]
        ax.text(
            1.03,
            1.0,
            "harmed behaviours:\n" + ("\n".join(listing) or "none"),
            transform=ax.transAxes,
            va="top",
            fontsize=5.5,
        )
        fig.subplots_adjust(left=0.1, right=0.52, bottom=0.13, top=0.86)
        return save(fig, outdir, name)


def plot_persona_curves(doc: Doc, outdir: Path, prefix: str = "predict") -> list[Path]:
    """The figures of predicted against observed learning on real data.

    Parameters
    ----------
    doc
        The JSON document of ``prefdyn persona predict --json`` (or
        :meth:`~prefdyn.studies.curves.PredictionReport.to_json`), so a saved
        ``persona-predict.json`` plots without rerunning anything.
    outdir
        Folder for the files (created if missing).
    prefix
        File-name prefix.

    Returns
    -------
    list of Path
        ``<prefix>-curves`` (loss and accuracy, observed against predicted, per behaviour),
        ``<prefix>-speed`` (predicted against observed speed, with Spearman's rho) and, for a
        joint head, ``<prefix>-harm``; each as a PDF and a 200-dpi PNG.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> rho = {"rho": 1.0, "n": 2, "ci": {"low": -1.0, "high": 1.0}, "p_value": 1.0,
    ...        "p_resolution": 0.5, "method": "exact"}
    >>> rows = [{"name": f"b{k}", "distinguishability": 1.0 + k,
    ...          "observed_speed": {"mean_loss_decrease": 0.1 + k / 10},
    ...          "predicted_speed": {"mean_loss_decrease": 0.12 + k / 10},
    ...          "observed_loss": [0.69, 0.6, 0.5], "predicted_loss": [0.69, 0.61, 0.52],
    ...          "observed_accuracy": [0.5, 0.6, 0.7], "predicted_accuracy": [0.5, 0.62, 0.71]}
    ...         for k in range(2)]
    >>> doc = {"mode": "single", "behaviors": rows, "rho_predicted_observed_speed": rho,
    ...        "rho_distinguishability_observed_speed": rho,
    ...        "settings": {"loss": "dpo", "beta": 0.1, "learning_rate": 1.0, "batch_size": 0}}
    >>> [p.name for p in plot_persona_curves(doc, Path(tempfile.mkdtemp()))]
    ['predict-curves.pdf', 'predict-curves.png', 'predict-speed.pdf', 'predict-speed.png']
    """
    paths = curve_grid(doc, outdir, f"{prefix}-curves") + speed_scatter(doc, outdir, f"{prefix}-speed")
    if doc["mode"] == "joint":
        paths += harm_panel(doc, outdir, f"{prefix}-harm")
    return paths
