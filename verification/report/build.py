"""Orchestration of ``prefdyn report``: gather, draw, write, record.

Stages run in order with a progress bar on a TTY; a stage that cannot run here raises
:class:`~.sources.Skip` and its section says so. ``manifest.json`` records the inputs (with
hashes), the versions, the seeds, every written file's SHA-256, what was skipped and why, and
the stage timings (timings live only there: the ``.tex`` files are byte-identical across runs
with the same inputs).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from prefdyn import __version__
from prefdyn.errors import PrefdynError, output_directory
from prefdyn.numerics import Scenario, default_scenario, load_scenario
from prefdyn.numerics.plotting import save

from . import figures, sources, variants
from .document import SECTIONS, Parts, macros_tex, main_tex, table_files, theorems_tex

GENERATOR = "prefdyn report"
_PACKAGES = ("torch", "sympy", "numpy", "scipy", "matplotlib", "hypothesis")


@dataclass(frozen=True)
class Options:
    """What ``prefdyn report`` was asked for (the CLI's arguments)."""

    outdir: Path
    scenario: str | None = None
    persona: str | None = None
    examples: int = 20
    device: str = "cpu"
    benchmarks: str | None = None
    theorems: tuple[str, ...] | None = None
    progress: bool | None = None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _prepare(outdir: Path) -> None:
    """Create ``outdir``, or clear the files of an earlier report there; refuse other content."""
    manifest = outdir / "manifest.json"
    output_directory(outdir, "OUTDIR")
    if any(outdir.iterdir()):
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = {}
        if old.get("generator") != GENERATOR:
            raise PrefdynError(f"OUTDIR: {outdir} is not empty and holds no earlier prefdyn "
                               "report; choose a new or empty directory")
        for name in [*old.get("files", {}), "manifest.json"]:
            (outdir / name).unlink(missing_ok=True)
    (outdir / "tables").mkdir(parents=True, exist_ok=True)
    (outdir / "figures").mkdir(parents=True, exist_ok=True)


class Stages:
    """Runs named stages, timing each, with a tqdm bar on a TTY; a :class:`~.sources.Skip`
    ends the stage and is recorded under the part it names."""

    def __init__(self, total: int, skipped: dict[str, str], show: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, disable=not show, unit="stage", file=sys.stderr,
                        bar_format="{desc:<34} {bar} {n_fmt}/{total_fmt} [{elapsed}]")
        self.skipped = skipped
        self.timings: dict[str, float] = {}

    def run(self, name: str, part: str, work: Callable[[], None]) -> None:
        self.bar.set_description(name)
        start = time.perf_counter()
        try:
            work()
        except sources.Skip as skip:
            self.skipped[part] = str(skip)
        self.timings[name] = round(time.perf_counter() - start, 3)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _scenario(spec: str | None) -> tuple[Scenario, dict[str, Any]]:
    if spec is None:
        return default_scenario(), {"scenario": "built-in default"}
    path = Path(spec)
    return load_scenario(path), {"scenario": str(path), "scenario_sha256": _sha256(path)}


def _gather(options: Options, parts: Parts, outdir: Path, workdir: Path) -> dict[str, float]:
    scenario, device = parts.scenario, options.device
    fig_dir = outdir / "figures"

    def theorems() -> None:
        parts.theorems, parts.theorem_skips = sources.theorems(str(scenario.training.loss),
                                                                  options.theorems)

    def simulate() -> None:
        parts.simulation, _ = sources.simulation(scenario, device)

    def predict() -> None:
        parts.prediction = sources.prediction(scenario, workdir)

    def curves() -> None:
        assert parts.simulation is not None
        panels = [figures.Panel("accuracy"), figures.Panel("margin")]
        figure = figures.theory_vs_simulation(parts.simulation, parts.prediction, panels, parts.runs)
        save(figure, fig_dir, "theory-vs-simulation")

    def prioritise() -> None:
        assert parts.simulation is not None
        parts.alone = [sources.simulation(variants.alone(scenario, b), device)[0]
                       for b in range(len(scenario.behaviors))]
        save(figures.prioritisation(parts.simulation, parts.alone, parts.runs), fig_dir,
             "prioritisation")

    def misalign() -> None:
        flipped = variants.align_then_flip(scenario)
        parts.misalignment, _ = sources.simulation(flipped, device)
        flip = flipped.training.phase_bounds()[-1][1]
        save(figures.misalignment(parts.misalignment, flip, parts.runs), fig_dir, "misalignment")

    def speed() -> None:
        if parts.persona is not None:
            parts.speed = parts.persona.scatter()
        else:
            sweep = variants.speed_sweep(scenario)
            parts.speed = sources.speed_scatter(sweep, sources.simulation(sweep, device)[1])
            parts.sweep_label = sources.sweep_label()
        save(figures.speed_scatter(parts.speed), fig_dir, "speed")

    def verify() -> None:
        parts.verification = sources.verification(options.examples, scenario.seed, device,
                                                 options.theorems or ())

    def bench() -> None:
        parts.benchmarks = sources.benchmarks(None if options.benchmarks is None
                                              else Path(options.benchmarks))

    def persona() -> None:
        if options.persona is None:
            raise sources.Skip("no persona data given (pass `--persona PATH`)")
        parts.persona = sources.persona(options.persona, device)

    plan = [("theorems (SymPy checks)", "theorems", theorems),
            ("persona data", "persona", persona),
            ("simulation", "simulation", simulate),
            ("theory curves (predict)", "prediction", predict),
            ("figure: theory vs simulation", "simulation", curves),
            ("prioritisation", "prioritisation", prioritise),
            ("misalignment", "misalignment", misalign),
            ("distinguishability vs speed", "speed", speed),
            ("verification (verify)", "verification", verify),
            ("benchmarks", "benchmarks", bench)]
    show = sys.stderr.isatty() if options.progress is None else options.progress
    stages = Stages(len(plan), parts.skipped, show)
    for name, part, work in plan:
        stages.run(name, part, work)
    stages.close()
    return stages.timings


def _write(outdir: Path, parts: Parts) -> list[Path]:
    files = {outdir / "main.tex": main_tex(parts), outdir / "theorems.tex": theorems_tex(parts),
             outdir / "macros.tex": macros_tex(parts)}
    files |= {outdir / "tables" / f"{k}.tex": t.latex() for k, t in table_files(parts).items()}
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


def _versions() -> dict[str, str]:
    out = {"prefdyn": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def build_report(options: Options) -> dict[str, Any]:
    """Write the report to ``options.outdir``; return the manifest (also written as JSON)."""
    start = time.perf_counter()
    outdir = Path(options.outdir)
    scenario, inputs = _scenario(options.scenario)
    sources.check_theorem_ids(options.theorems or ())
    if options.persona is not None:
        inputs["persona"] = options.persona
    if options.benchmarks is not None:
        inputs["benchmarks"] = options.benchmarks
    _prepare(outdir)
    parts = Parts(scenario, scenario.runs)
    with tempfile.TemporaryDirectory(prefix="prefdyn-report-") as work:
        timings = _gather(options, parts, outdir, Path(work))
    written = _write(outdir, parts) + sorted((outdir / "figures").iterdir())
    manifest = {
        "generator": GENERATOR,
        "inputs": {**inputs, "scenario_name": scenario.name,
                   "scenario_content_hash": scenario.content_hash()},
        "options": {"examples": options.examples, "device": options.device},
        "seeds": {"scenario": scenario.seed, "verification": scenario.seed},
        "runs": parts.runs,
        "versions": _versions(),
        "sections": {k: "skipped" if k in parts.skipped else "included" for k in SECTIONS},
        "skipped": dict(sorted(parts.skipped.items())),
        "theorems": {"included": [t.id for t in parts.theorems], "skipped": parts.theorem_skips},
        "files": {str(p.relative_to(outdir)): _sha256(p) for p in sorted(written)},
        "timings_s": {**timings, "total": round(time.perf_counter() - start, 3)},
    }
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
