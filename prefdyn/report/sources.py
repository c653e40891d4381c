"""Gather each part of the report from whatever this installation provides.

A gatherer returns its data or raises :class:`Skip` with a reason a reader understands (the
reason is printed in the document and in ``manifest.json``). Commands that other layers expose
only on the command line (``prefdyn predict``, ``prefdyn verify``) are run as subprocesses
through their ``--json`` contract.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefdyn.errors import PrefdynError
from prefdyn.numerics import Scenario, SimulationResult, run_scenario
from prefdyn.studies.stats import spearman
from prefdyn.theory.catalogue import get_theorem, theorem_ids
from prefdyn.theory.framework import Theorem

from .figures import Scatter
from .variants import SWEEP_DISTINGUISHABILITY, toml_text

#: Loss threshold of the persona speed measurement (steps until a behaviour's training loss
#: first falls below it; DPO starts at log 2 = 0.693).
PERSONA_THRESHOLD = 0.6


class Skip(Exception):
    """This part cannot be produced here; ``str(skip)`` says why."""


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no message"


def cli_json(args: Sequence[str]) -> Any:
    """``prefdyn ARGS --json`` in a subprocess, parsed; :class:`Skip` when the command is
    missing from this installation or fails. Exit status 1 ("a check failed") with a JSON
    document is a result, not a failure."""
    proc = subprocess.run([sys.executable, "-m", "prefdyn", *args, "--json"],
                          capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not proc.stdout.strip()):
        if "invalid choice" in proc.stderr:
            raise Skip(f"this installation has no `prefdyn {args[0]}` command")
        raise Skip(f"`prefdyn {args[0]}` failed (exit {proc.returncode}): {_last_line(proc.stderr)}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise Skip(f"`prefdyn {args[0]} --json` printed no JSON document ({err})") from None


# ----------------------------------------------------------------------------- theory


def check_theorem_ids(ids: Sequence[str]) -> None:
    """Raise :class:`PrefdynError` naming the first id that is not in the catalogue."""
    known = theorem_ids()
    for theorem_id in ids:
        if theorem_id not in known:
            raise PrefdynError(f"--theorem: unknown theorem id {theorem_id!r}; known ids: "
                               f"{', '.join(known)}")


def theorems(loss: str, ids: Sequence[str] | None = None) -> tuple[list[Theorem], dict[str, str]]:
    """The catalogue theorems ``ids`` (default: all) for ``loss``, checked; ``{id: reason}`` for
    those that failed to build or check (a theorem being written concurrently must not sink the
    report)."""
    built, skipped = [], {}
    for theorem_id in ids or theorem_ids():
        try:
            theorem = get_theorem(theorem_id, loss)
            theorem.check()
        except Exception as err:  # noqa: BLE001 - reported, never hidden
            skipped[theorem_id] = f"{type(err).__name__}: {err}"
            continue
        built.append(theorem)
    return built, skipped


def _threads(threads: int | None) -> list[str]:
    return [] if threads is None else ["--threads", str(threads)]


def prediction(scenario: Scenario, workdir: Path, threads: int | None = None) -> dict[str, Any]:
    """Theory curves of ``scenario`` from ``prefdyn predict`` (the simulate JSON shape)."""
    path = workdir / "scenario.toml"  # a fixed name: the scenario's own name is user text
    path.write_text(toml_text(scenario), encoding="utf-8")
    return cli_json(["predict", str(path), *_threads(threads)])


# ----------------------------------------------------------------------------- simulation


def simulation(scenario: Scenario, device: str) -> tuple[dict[str, Any], SimulationResult]:
    """The scenario's own runs (seed, runs from its ``[training]`` table): summary and result."""
    result = run_scenario(scenario, device=device, progress=False)
    return result.summary(), result


def speed_scatter(scenario: Scenario, result: SimulationResult) -> Scatter:
    """Distinguishability against the loss area (mean training loss over the steps, lower is
    faster) of the synthetic sweep, one point per behaviour (mean and std across runs)."""
    area = result.curve("loss", "train")[:, 1:].mean(1)  # [R, K]
    mean, std = area.mean(0).tolist(), area.std(0, correction=0).tolist()
    x = [b.distinguishability for b in scenario.behaviors]
    # exact permutation p-value for n <= 10 behaviours (never the asymptotic t approximation,
    # which reports p-values below the smallest one n! permutations allow), seeded otherwise
    corr = spearman(x, mean, seed=scenario.seed)
    return Scatter([b.name for b in scenario.behaviors], x, mean, std, corr.rho, corr.p_value,
                   r"distinguishability $\|\delta_b\|$",
                   "loss area (mean training loss; lower = faster)", corr.method, corr.p_resolution)


# ----------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class VerificationRow:
    """One theorem's result of ``prefdyn verify --json``."""

    theorem: str
    kind: str
    examples: int
    passed: bool
    max_violation: float
    tightness_min: float
    tightness_median: float
    #: share of the bound's values that were informative (NaN for an identity)
    informative: float = float("nan")


def _entries(doc: Any) -> list[Mapping[str, Any]]:
    if isinstance(doc, Mapping):
        for key in ("results", "theorems"):
            if isinstance(doc.get(key), list):
                return doc[key]
        return [dict(v, id=k) for k, v in doc.items() if isinstance(v, Mapping)]
    return list(doc) if isinstance(doc, list) else []


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def verification(examples: int, seed: int, device: str,
                 ids: Sequence[str] = (), threads: int | None = None) -> list[VerificationRow]:
    """Per-theorem verification against simulation (``prefdyn verify [ID ...]``; all theorems
    when ``ids`` is empty). A theorem without a bound (an identity) has no tightness (NaN)."""
    import tempfile

    # counterexamples go to a temporary folder, never to ./counterexamples of the caller's cwd
    with tempfile.TemporaryDirectory(prefix="prefdyn-report-verify-") as scratch:
        doc = cli_json(["verify", *ids, "--examples", str(examples), "--seed", str(seed),
                        "--device", device, "--out", str(Path(scratch) / "counterexamples"),
                        *_threads(threads)])
    rows = []
    for entry in _entries(doc):
        tight = entry.get("tightness") or {}
        name = entry.get("name", entry.get("id", entry.get("theorem", "?")))
        bounds = (entry.get("informative") or []) if entry.get("kind") == "bound" else []
        total = sum(b["values"]["total"] for b in bounds)
        share = sum(b["values"]["informative"] for b in bounds) / total if total else float("nan")
        rows.append(VerificationRow(
            str(name), str(entry.get("kind", "")), int(entry.get("examples", 0)),
            bool(entry.get("passed", False)), _number(entry.get("max_violation")),
            float(tight.get("min", float("nan"))), float(tight.get("median", float("nan"))), share,
        ))
    if not rows:
        raise Skip("`prefdyn verify --json` reported no theorem")
    return rows


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
        raise PrefdynError(f"--benchmarks: {file} is not UTF-8 text (expected the JSON output of "
                           "benchmarks/bench_simulator.py)") from None
    except (ValueError, RecursionError):
        raise PrefdynError(f"--benchmarks: {file} is not valid JSON (expected the output of "
                           "benchmarks/bench_simulator.py)") from None
    if not isinstance(doc, Mapping) or not doc:
        raise PrefdynError(f"--benchmarks: {file} must hold a JSON object of results, not "
                           f"{type(doc).__name__ if doc else 'an empty one'}")

    def flat(prefix: str, value: Any, depth: int = 0) -> dict[str, Any]:
        if isinstance(value, Mapping):
            if depth > 8 or not value:
                raise PrefdynError(f"--benchmarks: {file}: {prefix.rstrip('.') or 'the document'} "
                                   "is nested too deeply or empty")
            return {k2: v2 for k, v in value.items() for k2, v2 in flat(f"{prefix}{k}.", v, depth + 1).items()}
        if not isinstance(value, int | float | str | bool) or isinstance(value, str) and len(value) > 200:
            raise PrefdynError(f"--benchmarks: {file}: {prefix.rstrip('.')} must be a number or a "
                               f"short string, not {type(value).__name__}")
        return {prefix.rstrip("."): value}

    return flat("", doc)


def benchmarks(path: Path | None) -> dict[str, Any]:
    """A results file of ``benchmarks/bench_simulator.py`` (its JSON output), flattened to
    ``{"sweep.TFLOP_per_s": ...}``. Timings are never measured during the report: a wall-clock
    number would make the ``.tex`` output differ from run to run."""
    if path is None:
        raise Skip("no benchmark results given (run `python benchmarks/bench_simulator.py > "
                   "bench.json` and pass `--benchmarks bench.json`)")
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
        return Scatter(names, [self.speed.distinguishability[n] for n in names],
                       [self.speed.speeds[n].loss_auc for n in names], None,
                       self.speed.rho_auc.rho, self.speed.rho_auc.p_value,
                       r"distinguishability $\|\mu_b^+ - \mu_b^-\|$",
                       "loss area (mean training loss; lower = faster)",
                       self.speed.rho_auc.method, self.speed.rho_auc.p_resolution)


def persona(path: str, device: str, settings: Mapping[str, Any] | None = None,
            behaviors: Sequence[str] | None = None) -> PersonaResults:
    """Embed the persona data at ``path`` (MiniLM, cached on disk; only ``behaviors`` when
    given), measure every behaviour's geometry, its learning speed alone, and one misalignment
    run of the whole set, trained with the paper's last-layer defaults overridden by
    ``settings`` (keys of :class:`~prefdyn.studies.training.TrainSettings`: ``beta``,
    ``learning_rate``, ``steps``, ``batch_size``, ...)."""
    try:
        from prefdyn.numerics.persona.embedders import resolve_embedder
        from prefdyn.numerics.persona.corpus import embed_corpus
        from prefdyn.studies.experiments import misalignment, speed_correlation
        from prefdyn.numerics.persona.loader import load_persona
        from prefdyn.studies.stats import behavior_stats
        from prefdyn.studies.training import TrainSettings
    except ImportError as err:
        raise Skip(f"the real-data layer is not importable ({err}); install prefdyn[real]") from None
    chosen = None if behaviors is None else list(behaviors)
    corpus = embed_corpus(load_persona(path, behaviors=chosen), resolve_embedder(None, device))
    train_settings = TrainSettings(**{**dict(settings or {}), "device": device})
    stats = [behavior_stats(b.name, b.g, b.sign) for b in corpus.behaviors]
    speed = speed_correlation(corpus, train_settings, PERSONA_THRESHOLD)
    return PersonaResults(corpus.model, corpus.responses, stats, speed,
                          misalignment(corpus, train_settings), train_settings)


def sweep_label() -> str:
    """One-line description of the synthetic sweep, for captions."""
    values = ", ".join(f"{d:.2f}" for d in SWEEP_DISTINGUISHABILITY)
    return f"{len(SWEEP_DISTINGUISHABILITY)} orthogonal isotropic behaviours with distinguishability {values}"

