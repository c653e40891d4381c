r"""The report's booktabs tables, each built from gathered data (:mod:`.sources`).

Every table is a :class:`prefdyn.tables.LatexTable` in the report's layout (a float labelled
``tab:<name>``, small type, shrunk to the line by ``\PDbox`` when too wide).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from prefdyn.numerics import Scenario
from prefdyn.tables import LatexTable, escape
from prefdyn.theory.framework import Theorem
from prefdyn.theory.printing import theorem_label
from prefdyn.verification import Report

from .latex import breakable, loss_text, number
from .sources import PersonaResults


def _table(
    name: str, caption: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], note: str = ""
) -> LatexTable:
    """A table in the report's layout, labelled ``tab:<name>`` (``tables/<name>.tex``)."""
    return LatexTable(columns, rows, caption=caption, label=f"tab:{name}", note=note, fit=True)


def _pm(curve: Mapping[str, Sequence[float]], digits: int = 3) -> str:
    return rf"${number(curve['mean'][-1], digits)} \pm {number(curve['std'][-1], 2)}$"


def _value(x: float | None) -> str:
    return "--" if x is None or math.isnan(x) else f"${number(x)}$"


def scenario_table(scenario: Scenario) -> LatexTable:
    """The behaviours of the scenario (the structured preference distribution)."""
    rows = [
        [
            escape(b.name),
            f"${number(b.weight)}$",
            f"${number(b.positive_fraction)}$",
            f"${number(b.distinguishability)}$",
            f"${number(b.noise)}$",
            escape(b.distribution),
            f"${number(b.label_noise)}$",
        ]
        for b in scenario.behaviors
    ]
    t = scenario.training
    note = (
        rf"Training: loss {loss_text(t.loss)}, $\beta = {number(t.beta)}$, "
        rf"$\eta = {number(t.learning_rate)}$, {t.steps} steps, optimiser {escape(t.optimizer)}, "
        rf"batch {'full' if t.batch_size == 0 else t.batch_size}; $n = {scenario.samples}$ "
        rf"samples per run, $d = {scenario.dim}$, seed {scenario.seed}."
    )
    return _table(
        "scenario",
        rf"Scenario \texttt{{{escape(scenario.name)}}}: behaviours.",
        [
            ("behaviour", "l"),
            ("$p_b$", "r"),
            ("$q_b$", "r"),
            (r"$\|\delta_b\|$", "r"),
            (r"$\sigma_b$", "r"),
            ("law", "l"),
            (r"$\epsilon_b$", "r"),
        ],
        rows,
        note,
    )


def theorem_table(theorems: Sequence[Theorem], skipped: Mapping[str, str]) -> LatexTable:
    """Catalogue: every theorem with its SymPy verification count (or why it is missing)."""
    rows = []
    for theorem in theorems:
        steps = theorem.check().steps()
        ok = sum(r.verified for _, _, r in steps)
        rows.append(
            [rf"\texttt{{{escape(theorem.id)}}}", rf"Thm.~\ref{{{theorem_label(theorem)}}}", f"{ok}/{len(steps)}"]
        )
    rows += [[rf"\texttt{{{escape(i)}}}", "omitted", "--"] for i in sorted(skipped)]
    return _table(
        "theorems",
        "Theorem catalogue and SymPy verification of every derivation step.",
        [("id", "l"), ("statement", "l"), ("steps verified", "r")],
        rows,
    )


def simulation_table(summary: Mapping[str, Any], theory: Mapping[str, Any] | None, runs: int) -> LatexTable:
    """Final values per behaviour: simulation mean +- std across runs on each split, theory (the
    population limit) if predicted. The theory columns stand next to the held-out (test)
    columns, their like-for-like comparison; the training split's margins also carry each
    sample's own contribution to the learnt direction (an :math:`O(1/n)` self-term)."""
    has_test = "test" in summary["behaviors"][0]
    columns = [("behaviour", "l"), ("accuracy (train)", "r"), ("margin $h$ (train)", "r")]
    columns += [("accuracy (test)", "r"), ("margin $h$ (test)", "r")] if has_test else []
    predicted = {b["name"]: b for b in theory["behaviors"]} if theory else {}
    if predicted:
        columns += [("theory accuracy", "r"), ("theory margin", "r")]
    rows = []
    for b in summary["behaviors"]:
        row = [escape(b["name"]), _pm(b["accuracy"]), _pm(b["margin"])]
        row += [_pm(b["test"]["accuracy"]), _pm(b["test"]["margin"])] if has_test else []
        if predicted:
            p = predicted.get(b["name"], {})
            row += [f"${number(p[m]['mean'][-1])}$" if m in p else "--" for m in ("accuracy", "margin")]
        rows.append(row)
    compare = (
        "compare them with the test columns (held-out samples)"
        if has_test
        else "the scenario has no test split, so they can only be set against the training "
        "split, whose margins include each sample's own $O(1/n)$ pull on the learnt "
        "direction"
    )
    note = r"Accuracy: policy accuracy, a tie ($h = 0$) counting $\frac{1}{2}$." + (
        rf" Theory: the population limit ($n \to \infty$, \texttt{{prefdyn predict}}); {compare}." if predicted else ""
    )
    return _table(
        "simulation",
        rf"Values after the last step (mean $\pm$ std over {runs} runs), "
        "per split.",
        columns,
        rows,
        note,
    )


def informative_share(report: Report) -> float | None:
    """Share of a bound's drawn values that were informative (``None`` for an identity, or a
    bound without values)."""
    return report.informative_fraction if report.kind == "bound" else None


def tightness(report: Report, statistic: str) -> float | None:
    """``min`` or ``median`` of bound over observed value on the informative values (``None``
    for an identity, or a bound never informative)."""
    return None if report.tightness is None else report.tightness[statistic]


def _share(x: float | None) -> str:
    return "--" if x is None else rf"${round(100 * x)}\%$"


def verification_table(reports: Sequence[Report]) -> LatexTable:
    """Theorems against simulation: examples, outcome, largest violation, the share of
    informative bound values and the tightness over them, per theorem."""
    body = [
        [
            rf"\texttt{{{escape(r.name)}}}",
            escape(r.kind),
            str(r.examples),
            "yes" if r.passed else r"\textbf{no}",
            _value(r.max_violation),
            _share(informative_share(r)),
            _value(tightness(r, "min")),
            _value(tightness(r, "median")),
        ]
        for r in reports
    ]
    return _table(
        "verification",
        "Theorems against simulated training (property-based examples).",
        [
            ("theorem", "l"),
            ("kind", "l"),
            ("examples", "r"),
            ("passed", "l"),
            ("max.\\ violation", "r"),
            ("informative", "r"),
            ("tightness min", "r"),
            ("tightness median", "r"),
        ],
        body,
        "Violation: largest excess over the claim's tolerance (negative: within it). "
        "Informative: share of the drawn bound values that say something, i.e.\\ lie "
        "strictly inside the bounded quantity's natural range (a lower bound on a "
        "probability above 0, an upper bound below 1); a vacuous bound still passes. "
        "Tightness: bound over observed value on the informative values (1 = tight); "
        "-- for identities, which have none, and for a bound never informative.",
    )


def benchmark_table(results: Mapping[str, Any]) -> LatexTable:
    """The benchmark results file, one row per reported quantity."""
    rows = [
        [
            rf"\texttt{{{escape(k)}}}",
            f"${number(v)}$" if isinstance(v, (int, float)) and not isinstance(v, bool) else escape(str(v)),
        ]
        for k, v in results.items()
    ]
    return _table(
        "benchmarks", "Simulator benchmark (from the given results file).", [("quantity", "l"), ("value", "l")], rows
    )


def persona_stats_table(persona: PersonaResults) -> LatexTable:
    """Per-behaviour geometry of the embedded persona data (Im & Li's three statistics)."""
    rows = [
        [
            escape(s.name),
            str(s.n),
            f"${number(s.balance, 2)}$",
            f"${number(s.distinguishability)}$",
            rf"$[{number(s.distinguishability_ci.low)}, {number(s.distinguishability_ci.high)}]$",
            f"${number(s.concentration)}$",
            f"${number(s.trace)}$",
        ]
        for s in persona.stats
    ]
    return _table(
        "persona-stats",
        rf"Persona behaviours embedded by \texttt{{{breakable(persona.model)}}}.",
        [
            ("behaviour", "l"),
            ("$n$", "r"),
            ("share ``Yes''", "r"),
            ("distinguishability", "r"),
            ("95\\% CI", "r"),
            ("concentration", "r"),
            ("trace", "r"),
        ],
        rows,
        "Distinguishability $\\|\\mu^+ - \\mu^-\\|$; concentration and trace: the larger "
        "spectral norm and trace of the two class covariances; bootstrap CI.",
    )


def persona_misalignment_table(persona: PersonaResults, theorem: str) -> LatexTable:
    """Flipped-label training from the reference head and from the aligned head; ``theorem``
    cites the misalignment theorem (a ``\\ref`` only when the document contains it)."""
    from prefdyn.formatting import count_text

    m = persona.misalignment
    limit = getattr(m, "flip_steps", 0) or max(len(m.reward_accuracy_from_reference) - 1, 0)
    flips = [f"${count_text(v, limit)}$" for v in (m.steps_to_flip_from_reference, m.steps_to_flip_from_aligned)]
    rows = [
        [rf"steps to flip the majority (of {limit}; $>{limit}$: never)", *flips],
        [
            r"first step $\|W_{t+1} - W_t\|_F$",
            f"${number(m.first_step_from_reference)}$",
            f"${number(m.first_step_from_aligned)}$",
        ],
    ]
    return _table(
        "persona-misalignment",
        rf"Misalignment on persona data (aligned training accuracy "
        rf"${number(m.aligned_train_accuracy)}$; first-step ratio "
        rf"${number(m.first_step_ratio)}$; {theorem} "
        rf"predicts 2 at a stationary point).",
        [("", "l"), ("from $W_{\\mathrm{ref}}$", "r"), ("from aligned", "r")],
        rows,
    )
