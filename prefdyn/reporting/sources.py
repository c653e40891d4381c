"""Gather each part of the report by calling the library: theory, numerics, verification, studies.

A gatherer returns its data or raises :class:`Skip` with a reason a reader understands (the
reason is printed in the document and in ``manifest.json``). Only the errors a part documents
become a skip (a :class:`~prefdyn.errors.PrefdynError`, and for a theorem the errors the theory
layer raises for a malformed derivation); anything else is a bug and stops the report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from prefdyn.errors import PrefdynError
from prefdyn.numerics import Scenario, SimulationResult, run_scenario
from prefdyn.numerics.predict import predict
from prefdyn.numerics.sweep.phase import write_phase_diagrams
from prefdyn.numerics.sweep.plan import Axis
from prefdyn.numerics.sweep.store import read_finished
from prefdyn.studies.stats import spearman
from prefdyn.studies.training import loss_area
from prefdyn.theory.catalogue import get_theorem, theorem_ids
from prefdyn.theory.framework import Theorem
from prefdyn.theory.losses import Loss
from prefdyn.threads import choose_threads, simulation_work
from prefdyn.verification import Report, check_theorem
from prefdyn.verification.runner import torch_threads
from prefdyn.verification.strategies import MAX_DIM, MAX_RUNS, MAX_SAMPLES

from .figures import Scatter
from .variants import SWEEP_DISTINGUISHABILITY

#: Loss threshold of the persona speed measurement (steps until a behaviour's training loss
#: first falls below it; DPO starts at log 2 = 0.693).
PERSONA_THRESHOLD = 0.6

#: What building or checking a catalogue theorem raises when it cannot be produced: an unknown
#: id or loss (:class:`~prefdyn.errors.PrefdynError`, :mod:`prefdyn.theory.catalogue`), a
#: malformed derivation (:class:`ValueError`: a step's relation, a chain mixing ``<=`` and
#: ``>=``, a claim without a left-hand side) or a claim looked up by a label it lacks
#: (:class:`KeyError`) (:mod:`prefdyn.theory.framework`).
THEOREM_ERRORS = (PrefdynError, ValueError, KeyError)


class Skip(Exception):
    """This part cannot be produced here; ``str(skip)`` says why."""


@dataclass(frozen=True)
class PhaseDiagrams:
    """The phase diagrams of a finished sweep, drawn into the report's ``figures/``."""

    name: str
    axes: tuple[Axis, ...]
    cells: int
    runs: int
    quantities: tuple[str, ...]


def phase_diagrams(folder: str, fig_dir: Path) -> PhaseDiagrams:
    """Read the finished sweep in ``folder`` (checked) and draw its phase diagrams into ``fig_dir``.

    Parameters
    ----------
    folder : str
        A ``prefdyn sweep --out`` folder.
    fig_dir : Path
        The report's figure folder.

    Returns
    -------
    PhaseDiagrams
        What was drawn.

    Raises
    ------
    PrefdynError
        ``folder`` is not a finished prefdyn sweep.
    """
    finished = read_finished(folder, "--sweep")
    written = write_phase_diagrams(finished.table, finished.cells, finished.axes, finished.name, fig_dir)
    quantities = tuple(dict.fromkeys(p.stem.removeprefix("phase-") for p in written))
    runs = int(finished.manifest.get("runs", 0))
    return PhaseDiagrams(finished.name, finished.axes, len(finished.cells), runs, quantities)


# ----------------------------------------------------------------------------- theory


def check_theorem_ids(ids: Sequence[str]) -> None:
    """Raise :class:`PrefdynError` naming the first id that is not in the catalogue."""
    known = theorem_ids()
    for theorem_id in ids:
        if theorem_id not in known:
            raise PrefdynError(f"--theorem: unknown theorem id {theorem_id!r}; known ids: {', '.join(known)}")


def theorems(loss: str | Loss, ids: Sequence[str] | None = None) -> tuple[list[Theorem], dict[str, str]]:
    """The catalogue theorems ``ids`` (default: all) for ``loss``, checked.

    Parameters
    ----------
    loss : str or Loss
        The loss the theorems are instantiated for (the scenario's: a registered name, or a
        user loss with its parameters).
    ids : sequence of str, optional
        Catalogue ids (default: the whole catalogue, in its order).

    Returns
    -------
    tuple of (list of Theorem, dict of str to str)
        The theorems built and checked, and ``{id: reason}`` for those that raised one of
        :data:`THEOREM_ERRORS` (a theorem being rewritten must not sink the report).
    """
    built, skipped = [], {}
    for theorem_id in ids or theorem_ids():
        try:
            theorem = get_theorem(theorem_id, loss)
            theorem.check()
        except THEOREM_ERRORS as err:
            skipped[theorem_id] = f"{type(err).__name__}: {err}"
            continue
        built.append(theorem)
    return built, skipped


def prediction(scenario: Scenario, threads: int | None = None) -> dict[str, Any]:
    """Theory curves of ``scenario`` (:func:`prefdyn.numerics.predict.predict`).

    Parameters
    ----------
    scenario : Scenario
        The scenario the report simulates.
    threads : int, optional
        Torch threads of the prediction (``None``: :mod:`prefdyn.threads`' policy for its work);
        the count in effect before is restored after it.

    Returns
    -------
    dict
        The prediction's summary, in the shape of a simulation summary (the document of
        ``prefdyn predict --json``).

    Raises
    ------
    Skip
        When the theory has no prediction for the scenario (the reason from its
        :class:`~prefdyn.errors.PrefdynError`).
    """
    try:
        # predict sets torch's thread count for its own work; the stages after it keep the report's
        with torch_threads(torch.get_num_threads()):
            return predict(scenario, threads=threads).summary()
    except PrefdynError as err:
        raise Skip(f"no theory curves for this scenario: {err}") from None


# ----------------------------------------------------------------------------- simulation


def simulation(scenario: Scenario, device: str) -> tuple[dict[str, Any], SimulationResult]:
    """The scenario's own runs (seed, runs from its ``[training]`` table): summary and result."""
    result = run_scenario(scenario, device=device, progress=False)
    return result.summary(), result


def speed_scatter(scenario: Scenario, result: SimulationResult) -> Scatter:
    """Distinguishability against the loss area (:func:`prefdyn.studies.training.loss_area` of
    the training loss, lower is faster) of the synthetic sweep, one point per behaviour (mean and
    std across runs)."""
    area = loss_area(result.curve("loss", "train").transpose(1, 2))  # [R, T + 1, K] -> [R, K]
    mean, std = area.mean(0).tolist(), area.std(0, correction=0).tolist()
    x = [b.distinguishability for b in scenario.behaviors]
    # exact permutation p-value for n <= 10 behaviours (never the asymptotic t approximation,
    # which reports p-values below the smallest one n! permutations allow), seeded otherwise
    corr = spearman(x, mean, seed=scenario.seed)
    return Scatter(
        [b.name for b in scenario.behaviors],
        x,
        mean,
        std,
        corr.rho,
        corr.p_value,
        r"distinguishability $\|\delta_b\|$",
        "loss area (mean training loss; lower = faster)",
        corr.method,
        corr.p_resolution,
    )


# ----------------------------------------------------------------------------- verification


def verification(
    examples: int, seed: int, device: str, ids: Sequence[str] = (), threads: int | None = None
) -> list[Report]:
    """Every theorem's property against simulated training
    (:func:`prefdyn.verification.check_theorem`).

    Parameters
    ----------
    examples : int
        Hypothesis examples per theorem.
    seed : int
        Hypothesis seed.
    device : str
        Torch device of the simulations (``cpu`` or ``cuda``).
    ids : sequence of str
        Catalogue ids (empty: the whole catalogue).
    threads : int, optional
        Torch threads during each search (``None``: :mod:`prefdyn.threads`' policy for the
        largest example a search draws, as ``prefdyn verify``).

    Returns
    -------
    list of Report
        One per theorem, in order; counterexamples are not written to disk.

    Raises
    ------
    Skip
        When a theorem has no property here (the reason from its
        :class:`~prefdyn.errors.PrefdynError`).
    """
    count, _ = choose_threads(threads, work=simulation_work(MAX_RUNS, MAX_SAMPLES, MAX_DIM))
    try:
        return [
            check_theorem(theorem_id, examples=examples, seed=seed, device=device, threads=count)
            for theorem_id in ids or theorem_ids()
        ]
    except PrefdynError as err:
        raise Skip(str(err)) from None


# ----------------------------------------------------------------------------- benchmarks


def read_benchmarks(path: str | Path) -> dict[str, Any]:
    """The results file at ``path`` flattened to ``{"sweep.TFLOP_per_s": ...}``; anything but a
    UTF-8 JSON object of (nested objects of) numbers, strings and booleans is a
    :class:`~prefdyn.errors.PrefdynError` (``prefdyn report`` checks it before any work)."""
    file = Path(path)
    try:
        doc = json.loads(file.read_bytes().decode("utf-8"))
    except OSError as err:
        raise PrefdynError(f"--benchmarks: cannot read {file} ({err.strerror})") from None
    except UnicodeDecodeError:
        raise PrefdynError(
            f"--benchmarks: {file} is not UTF-8 text (expected the JSON output of benchmarks/bench_simulator.py)"
        ) from None
    except (ValueError, RecursionError):
        raise PrefdynError(
            f"--benchmarks: {file} is not valid JSON (expected the output of benchmarks/bench_simulator.py)"
        ) from None
    if not isinstance(doc, Mapping) or not doc:
        raise PrefdynError(
            f"--benchmarks: {file} must hold a JSON object of results, not "
            f"{type(doc).__name__ if doc else 'an empty one'}"
        )

    def flat(prefix: str, value: Any, depth: int = 0) -> dict[str, Any]:
        if isinstance(value, Mapping):
            if depth > 8 or not value:
                raise PrefdynError(
                    f"--benchmarks: {file}: {prefix.rstrip('.') or 'the document'} is nested too deeply or empty"
                )
            return {k2: v2 for k, v in value.items() for k2, v2 in flat(f"{prefix}{k}.", v, depth + 1).items()}
        if not isinstance(value, int | float | str | bool) or isinstance(value, str) and len(value) > 200:
            raise PrefdynError(
                f"--benchmarks: {file}: {prefix.rstrip('.')} must be a number or a "
                f"short string, not {type(value).__name__}"
            )
        return {prefix.rstrip("."): value}

    return flat("", doc)


def benchmarks(path: Path | None) -> dict[str, Any]:
    """A results file of ``benchmarks/bench_simulator.py`` (its JSON output), flattened to
    ``{"sweep.TFLOP_per_s": ...}``. Timings are never measured during the report: a wall-clock
    number would make the ``.tex`` output differ from run to run."""
    if path is None:
        raise Skip(
            "no benchmark results given (run `python benchmarks/bench_simulator.py > "
            "bench.json` and pass `--benchmarks bench.json`)"
        )
    try:
        return read_benchmarks(path)
    except PrefdynError as err:
        raise Skip(str(err)) from None


# ----------------------------------------------------------------------------- persona


@dataclass(frozen=True)
class PersonaResults:
    """Real-data measurements (Im & Li 2024, Sec. 5) on a persona-format data set."""

    model: str
    responses: tuple[str, str]
    stats: list[Any]  # prefdyn.studies.stats.BehaviorStats
    speed: Any  # prefdyn.studies.experiments.SpeedCorrelation
    misalignment: Any  # prefdyn.studies.experiments.Misalignment
    settings: Any  # prefdyn.studies.training.TrainSettings

    def scatter(self) -> Scatter:
        names = list(self.speed.speeds)
        return Scatter(
            names,
            [self.speed.distinguishability[n] for n in names],
            [self.speed.speeds[n].loss_auc for n in names],
            None,
            self.speed.rho_auc.rho,
            self.speed.rho_auc.p_value,
            r"distinguishability $\|\mu_b^+ - \mu_b^-\|$",
            "loss area (mean training loss; lower = faster)",
            self.speed.rho_auc.method,
            self.speed.rho_auc.p_resolution,
        )


def persona(
    path: str, device: str, settings: Mapping[str, Any] | None = None, behaviors: Sequence[str] | None = None
) -> PersonaResults:
    """Embed the persona data at ``path`` (MiniLM, cached on disk; only ``behaviors`` when
    given), measure every behaviour's geometry, its learning speed alone, and one misalignment
    run of the whole set, trained with the paper's last-layer defaults overridden by
    ``settings`` (keys of :class:`~prefdyn.studies.training.TrainSettings`: ``beta``,
    ``learning_rate``, ``steps``, ``batch_size``, ...)."""
    try:
        from prefdyn.numerics.persona.corpus import embed_corpus
        from prefdyn.numerics.persona.embedders import resolve_embedder
        from prefdyn.numerics.persona.loader import load_persona
        from prefdyn.studies.experiments import misalignment, speed_correlation
        from prefdyn.studies.stats import behavior_stats
        from prefdyn.studies.training import TrainSettings
    except ImportError as err:
        raise Skip(f"the real-data layer is not importable ({err}); install prefdyn[real]") from None
    chosen = None if behaviors is None else list(behaviors)
    corpus = embed_corpus(load_persona(path, behaviors=chosen), resolve_embedder(None, device))
    train_settings = TrainSettings(**{**dict(settings or {}), "device": device})
    stats = [behavior_stats(b.name, b.g, b.sign) for b in corpus.behaviors]
    speed = speed_correlation(corpus, train_settings, PERSONA_THRESHOLD)
    return PersonaResults(
        corpus.model, corpus.responses, stats, speed, misalignment(corpus, train_settings), train_settings
    )


def sweep_label() -> str:
    """One-line description of the synthetic sweep, for captions."""
    values = ", ".join(f"{d:.2f}" for d in SWEEP_DISTINGUISHABILITY)
    return f"{len(SWEEP_DISTINGUISHABILITY)} orthogonal isotropic behaviours with distinguishability {values}"
