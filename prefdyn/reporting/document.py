r"""The report's ``.tex`` files from the gathered parts: ``main.tex``, ``theorems.tex``,
``macros.tex`` and ``tables/*.tex``.

Every section states what it skipped and why (``Parts.skipped``); ``\ref``s are only written to
labels the document defines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefdyn.numerics import Scenario
from prefdyn.tables import LatexTable, escape
from prefdyn.theory.framework import Theorem
from prefdyn.theory.printing import notation_table, theorem_label
from prefdyn.verification import Report

from . import tables
from .figures import Scatter
from .latex import (
    HELPERS,
    breakable,
    figure,
    input_file,
    itemize,
    loss_text,
    macros,
    message,
    number,
    preamble,
)
from .sources import PersonaResults, PhaseDiagrams
from .theorems import theorem_block
from .variants import align_then_flip

#: Section keys, in document order, with their headings.
SECTIONS = {
    "theorems": "Theorems",
    "simulation": "Theory against simulation",
    "prioritisation": "Prioritisation",
    "misalignment": "Misalignment",
    "speed": "Distinguishability and learning speed",
    "sweep": "Phase diagrams",
    "verification": "Verification",
    "persona": "Real data: persona evaluations",
    "benchmarks": "Benchmarks",
}


@dataclass
class Parts:
    """Everything gathered for one report; ``skipped`` maps a part to why it is absent."""

    scenario: Scenario
    runs: int
    theorems: list[Theorem] = field(default_factory=list)
    theorem_skips: dict[str, str] = field(default_factory=dict)
    simulation: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    alone: list[dict[str, Any]] = field(default_factory=list)
    misalignment: dict[str, Any] | None = None
    speed: Scatter | None = None
    sweep_label: str = ""
    phase: PhaseDiagrams | None = None
    verification: list[Report] | None = None
    benchmarks: dict[str, Any] | None = None
    persona: PersonaResults | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def theory_split(self) -> str:
        """The split the population theory is compared with: ``test`` (held-out samples, like
        with like) when the simulation has one, else ``train``."""
        behaviors = (self.simulation or {}).get("behaviors") or [{}]
        return "test" if "test" in behaviors[0] else "train"

    def cite(self, theorem_id: str) -> str:
        """``Theorem~\\ref{..}`` when the document states ``theorem_id``, else its id in text."""
        for theorem in self.theorems:
            if theorem.id == theorem_id:
                return rf"Theorem~\ref{{{theorem_label(theorem)}}}"
        return rf"theorem \texttt{{{escape(theorem_id)}}} (not in this report)"


def _skip_note(reason: str) -> str:
    return rf"{{\raggedright\emph{{Skipped: {message(reason)}.}}\par}}" + "\n"


def table_files(parts: Parts) -> dict[str, LatexTable]:
    """``tables/<name>.tex`` contents for every table the gathered parts support."""
    out = {"scenario": tables.scenario_table(parts.scenario)}
    if parts.theorems or parts.theorem_skips:
        out["theorems"] = tables.theorem_table(parts.theorems, parts.theorem_skips)
    if parts.simulation is not None:
        out["simulation"] = tables.simulation_table(parts.simulation, parts.prediction, parts.runs)
    if parts.verification is not None:
        out["verification"] = tables.verification_table(parts.verification)
    if parts.benchmarks is not None:
        out["benchmarks"] = tables.benchmark_table(parts.benchmarks)
    if parts.persona is not None:
        out["persona-stats"] = tables.persona_stats_table(parts.persona)
        out["persona-misalignment"] = tables.persona_misalignment_table(parts.persona, parts.cite("misalignment-rate"))
    return out


def theorems_tex(parts: Parts) -> str:
    """Every theorem block, each with its result against simulation."""
    rows = {r.name: r for r in parts.verification or []}
    reason = parts.skipped.get("verification", "no verification result for this theorem")
    out = [
        "% prefdyn report: theorems (needs amsmath, amssymb, amsthm, graphicx and macros.tex)",
        r"\begingroup\allowdisplaybreaks",
    ]
    if parts.theorems:
        out.append(notation_table(parts.theorems))
    for theorem in parts.theorems:
        out.append(theorem_block(theorem, rows.get(theorem.id), reason))
    out.append(r"\endgroup")
    return "\n".join(out) + "\n"


def macros_tex(parts: Parts) -> str:
    """Helpers plus numbers a paper may cite (``\\PD...``); no dates, no paths."""
    t = parts.scenario.training
    values = {
        "PDscenario": escape(parts.scenario.name),
        "PDloss": loss_text(t.loss),
        "PDbeta": number(t.beta),
        "PDeta": number(t.learning_rate),
        "PDsteps": str(t.steps),
        "PDruns": str(parts.runs),
        "PDsamples": str(parts.scenario.samples),
        "PDseed": str(parts.scenario.seed),
        "PDtheorems": str(len(parts.theorems)),
    }
    if parts.speed is not None:
        values["PDspeedRho"] = number(parts.speed.rho, 2)
    if parts.persona is not None:
        values["PDpersonaRho"] = number(parts.persona.speed.rho_auc.rho, 2)
        values["PDpersonaBehaviors"] = str(len(parts.persona.stats))
    header = "% prefdyn report: macros (\\PDpath: where the report lies, relative to the paper)\n"
    return header + HELPERS + macros(values)


#: How every accuracy in the report scores a tie, for captions.
TIES = r"a tie ($h = 0$, e.g.\ at step 0) counts $\frac{1}{2}$"


def _split_words(split: str) -> str:
    return (
        "held-out (test-split) samples, the like-for-like comparison for the population theory"
        if split == "test"
        else "training-split samples (the scenario has no test split): their margins include "
        "each sample's own $O(1/n)$ contribution to the learnt direction, which the "
        "population theory ($n \\to \\infty$) does not model"
    )


def _section_simulation(parts: Parts) -> list[str]:
    split = parts.theory_split
    theory = (
        "dashed lines are the population-limit theory curves of \\texttt{prefdyn predict}"
        if parts.prediction is not None
        else "no theory curves"
    )
    out = [
        (
            rf"Per-behaviour training curves of scenario \texttt{{\PDscenario}} "
            rf"(Table~\ref{{tab:scenario}}) over \PDruns{{}} independent runs, measured on "
            rf"{_split_words(split)}; {theory}."
        ),
        "",
    ]
    if parts.prediction is None:
        out.append(_skip_note(parts.skipped.get("prediction", "no prediction")))
    out.append(
        figure(
            "theory-vs-simulation",
            rf"Theory (population limit) against simulation ({split} split): policy "
            r"accuracy and implicit-reward margin per behaviour; bands are $\pm 1$ "
            rf"standard deviation across runs; {TIES}.",
        )
    )
    out.append(input_file("tables/simulation"))
    return out


def _section_prioritisation(parts: Parts) -> list[str]:
    return [
        (
            rf"One head learns all behaviours at once. {parts.cite('priority')} predicts that "
            "the most distinguishable behaviour dominates the shared preference direction and adds "
            "noise to the others' margins; Figure~\\ref{fig:prioritisation} compares each behaviour "
            "trained jointly with the same behaviour trained alone on its own samples."
        ),
        "",
        figure(
            "prioritisation",
            "Prioritisation: policy accuracy per behaviour on the "
            f"{_prioritisation_split(parts)} split, trained jointly by one head (solid, band "
            rf"over runs) and alone (dotted); {TIES}.",
            r"0.75\linewidth",
        ),
    ]


def _prioritisation_split(parts: Parts) -> str:
    return "test" if parts.theory_split == "test" else "training"


def _section_misalignment(parts: Parts) -> list[str]:
    flip = align_then_flip(parts.scenario).training.phase_bounds()[-1][1]
    return [
        (
            rf"Align for {flip} steps, then train on flipped labels from the aligned head "
            rf"({parts.cite('misalignment-rate')}: from a stationary point the first flipped step is "
            "twice the first alignment step). Accuracy is measured on the original labels."
        ),
        "",
        figure(
            "misalignment",
            f"Misalignment: policy accuracy on the original labels "
            f"(training split); labels flipped from step {flip} (shaded); {TIES}.",
            r"0.75\linewidth",
        ),
    ]


def _section_speed(parts: Parts) -> list[str]:
    assert parts.speed is not None
    source = (
        "the persona behaviours (Section~\\ref{sec:persona})"
        if parts.persona is not None
        else f"a synthetic sweep: {parts.sweep_label}, trained by one head with the scenario's training settings"
    )
    return [
        (
            rf"{parts.cite('update-rate')} predicts a first-step margin growth $\propto "
            r"p_b\|\delta_b\|^2$: more distinguishable behaviours are learned faster, so the loss "
            rf"area falls with distinguishability (negative $\rho$). Points: {source}. "
            rf"Spearman $\rho = {number(parts.speed.rho, 2)}$ ({escape(parts.speed.p_text())}, "
            rf"$n = {len(parts.speed.x)}$; Figure~\ref{{fig:speed}})."
        ),
        "",
        figure(
            "speed",
            r"Distinguishability against learning speed (loss area: mean "
            r"training-split loss over the steps), with Spearman's $\rho$ and its "
            r"permutation p-value (exact over all $n!$ orderings for $n \le 10$).",
            r"0.7\linewidth",
        ),
    ]


def _section_sweep(parts: Parts) -> list[str]:
    assert parts.phase is not None
    p = parts.phase
    axes = ", ".join(rf"\texttt{{{breakable(a.field)}}} ({len(a.values)} values)" for a in p.axes)
    out = [
        (
            rf"Sweep \texttt{{{escape(p.name)}}}: {p.cells} cells over {axes}, {p.runs} runs per cell; "
            r"cells that differ only in $\beta$ and $\eta$ share their data (common random numbers). "
            "Each cell's number is read at its last recorded step; where the sweep recorded "
            r"$\eta/\eta_{\max}$ and it crosses 1, the dashed contour is "
            rf"{parts.cite('stable-step-size')}'s stability boundary $\eta = \eta_{{\max}}$."
        ),
        "",
    ]
    for quantity in p.quantities:
        ties = f"; {TIES}" if quantity in ("final_accuracy", "theory_gap", "harmed_behaviors") else ""
        caption = f"Sweep \\texttt{{{escape(p.name)}}}: {PHASE_CAPTIONS[quantity]}{ties}."
        out.append(figure(f"phase-{quantity}", caption, r"0.9\linewidth"))
    return out


#: What each phase diagram shows, for its caption.
PHASE_CAPTIONS = {
    "final_accuracy": "final policy accuracy (mean over runs; test split when held out)",
    "theory_gap": "simulated minus predicted (population) final accuracy",
    "harmed_behaviors": "behaviours whose final accuracy's 95\\% interval lies wholly below their accuracy "
    "before training",
    "misalignment_ratio": "share of the accuracy gained before the label flip that the flipped phase takes away",
    "diverged_fraction": "share of runs whose curves became non-finite",
}


def _section_persona(parts: Parts) -> list[str]:
    assert parts.persona is not None
    p = parts.persona
    s = p.settings
    return [
        (
            rf"Data embedded by \texttt{{{breakable(p.model)}}}, responses "
            rf"\texttt{{{escape(p.responses[0])}}}/\texttt{{{escape(p.responses[1])}}}; last-layer "
            rf"training with {escape(s.optimizer)}, batch {s.batch_size}, {s.steps} steps, "
            rf"$\eta = {number(s.learning_rate)}$, $\beta = {number(s.beta)}$."
        ),
        "",
        input_file("tables/persona-stats"),
        input_file("tables/persona-misalignment"),
    ]


def _body(parts: Parts, key: str) -> list[str]:
    if key == "theorems":
        return [
            r"Each derivation step is re-verified by SymPy (Table~\ref{tab:theorems}).",
            "",
            input_file("tables/theorems"),
            input_file("theorems"),
        ]
    if key == "verification":
        return [input_file("tables/verification")]
    if key == "benchmarks":
        return [input_file("tables/benchmarks")]
    builders = {
        "simulation": _section_simulation,
        "prioritisation": _section_prioritisation,
        "misalignment": _section_misalignment,
        "speed": _section_speed,
        "persona": _section_persona,
        "sweep": _section_sweep,
    }
    return builders[key](parts)


def main_tex(parts: Parts) -> str:
    """The standalone article that ``\\input``s the rest."""
    out = [
        preamble(r"prefdyn report: scenario \texttt{\PDscenario}"),
        r"\begin{document}",
        r"\maketitle",
        "",
        r"\section{Setting}\label{sec:setting}",
        (
            r"Last-layer preference training of scenario \texttt{\PDscenario} with loss "
            r"\PDloss{}, $\beta = \PDbeta$, $\eta = \PDeta$, \PDsteps{} steps, \PDruns{} runs "
            r"(Table~\ref{tab:scenario})."
        ),
        "",
        input_file("tables/scenario"),
    ]
    for key, heading in SECTIONS.items():
        out += ["", rf"\section{{{heading}}}\label{{sec:{key}}}"]
        out += [_skip_note(parts.skipped[key])] if key in parts.skipped else _body(parts, key)
    if parts.skipped or parts.theorem_skips:
        out += ["", r"\section*{What this report skipped}"]
        items = [rf"{escape(k)}: {message(v)}" for k, v in sorted(parts.skipped.items())]
        items += [rf"theorem \texttt{{{escape(k)}}}: {message(v)}" for k, v in sorted(parts.theorem_skips.items())]
        out.append(itemize(items))
    out += [r"\end{document}"]
    return "\n".join(out) + "\n"
