"""Orchestration of ``prefdyn report``: gather, draw, write, record.

Stages run in order with a progress bar on a TTY (plain lines with per-stage times on stderr
otherwise); a stage that cannot run here raises
:class:`~.sources.Skip` and its section says so. ``manifest.json`` records the inputs (with
hashes), the versions, the seeds, every written file's SHA-256, what was skipped and why, and
the stage timings (timings live only there: the ``.tex`` files are byte-identical across runs
with the same inputs).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from prefdyn._version import __version__
from prefdyn.errors import PrefdynError, require
from prefdyn.files import FolderLock, check_writable, inside, remove_stale_builds, staged_folder
from prefdyn.numerics import Scenario, default_scenario, load_scenario
from prefdyn.numerics.plotting import Panel, save, theory_vs_simulation

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
    sweep: str | None = None
    progress: bool | None = None
    #: behaviours of the persona data to use (``None``: all) and last-layer training settings
    #: overriding :class:`~prefdyn.studies.training.TrainSettings`' paper defaults
    #: (``beta``, ``learning_rate``, ``steps``, ``batch_size``, ...)
    persona_behaviors: tuple[str, ...] | None = None
    persona_settings: dict[str, Any] = field(default_factory=dict)
    #: torch intra-op threads (``None``: :func:`prefdyn.threads.configure_threads`' policy)
    threads: int | None = None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_REPORT_NAMES = ("main.tex", "theorems.tex", "macros.tex", "manifest.json")


def _previous(outdir: Path) -> dict[str, str]:
    """Check ``outdir`` without changing anything: absent, empty, or an earlier prefdyn report
    whose ``manifest.json`` is sound. Returns the earlier report's own files (relative path ->
    SHA-256, each proven inside ``outdir`` and unchanged since it was written): those the new
    report replaces. Any other file there is kept (carried into the new report's folder)."""
    require(not outdir.exists() or outdir.is_dir(), "OUTDIR", f"{outdir} exists and is not a directory")
    if not outdir.exists() or not any(outdir.iterdir()):
        return {}
    manifest = outdir / "manifest.json"
    foreign = PrefdynError(
        f"OUTDIR: {outdir} is not empty and holds no earlier prefdyn report; choose a new or empty directory"
    )
    if not manifest.is_file() or manifest.is_symlink():
        raise foreign
    try:
        old = json.loads(manifest.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise PrefdynError(
            f"OUTDIR: {manifest} is not UTF-8, so not a prefdyn report manifest; choose a new or empty directory"
        ) from None
    except (OSError, ValueError, RecursionError):
        raise PrefdynError(
            f"OUTDIR: {manifest} is not valid JSON, so not a prefdyn report manifest; choose a new or empty directory"
        ) from None
    if not isinstance(old, dict) or old.get("generator") != GENERATOR:
        raise foreign
    files = old.get("files", {})
    require(
        isinstance(files, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()),
        "OUTDIR",
        f"{manifest}: 'files' must map file names to SHA-256 digests; refusing to touch {outdir}",
    )
    owned = {}
    for name, digest in files.items():
        try:
            path = inside(outdir, name, "OUTDIR")
        except PrefdynError:
            raise PrefdynError(
                f"OUTDIR: {manifest} lists {name!r}, which is not inside {outdir}; "
                "refusing to touch it (choose a new or empty directory)"
            ) from None
        if (outdir / name).is_symlink() or not path.exists():
            continue
        if not path.is_file() or _sha256(path) != digest:
            raise PrefdynError(
                f"OUTDIR: {outdir / name} was changed after the report was written "
                "(its SHA-256 differs from manifest.json); move it out of "
                f"{outdir} or choose another directory"
            )
        owned[path.relative_to(outdir.resolve()).as_posix()] = digest
    owned["manifest.json"] = _sha256(manifest)
    for name in _REPORT_NAMES:
        require(
            name in owned or not (outdir / name).exists(),
            "OUTDIR",
            f"{outdir / name} is not part of the earlier report and the new one writes it; "
            "move it away or choose another directory",
        )
    return owned


def _carry(outdir: Path, owned: dict[str, str], build: Path) -> None:
    """Link (or copy) into ``build`` every file of ``outdir`` that is not the earlier report's:
    the user's own files (e.g. LaTeX output) survive the swap. A name the new report also
    writes is refused (nothing is lost: the earlier folder is untouched)."""
    if not outdir.is_dir():
        return
    root = outdir.resolve()
    for folder, dirs, files in os.walk(root):  # never follows links
        base = Path(folder)
        for sub in list(dirs):
            if (base / sub).is_symlink():
                files.append(sub)  # a link to a folder is carried as a link
            else:
                (build / (base / sub).relative_to(root)).mkdir(parents=True, exist_ok=True)
        for file in files:
            path = base / file
            name = path.relative_to(root).as_posix()
            if name in owned:
                continue
            target = build / name
            require(
                not target.exists() and not target.is_symlink(),
                "OUTDIR",
                f"{path} is not part of the earlier report but the new one writes {name}; move "
                "it away and run again (the earlier folder is untouched)",
            )
            try:
                os.link(path, target, follow_symlinks=False)
            except OSError:
                shutil.copy2(path, target, follow_symlinks=False)


def _superseded(owned: dict[str, str], final: Path, old: Path) -> bool:
    """Whether the replaced folder ``old`` holds nothing but the earlier report's own files and
    files now also in ``final`` (carried): then it may be deleted. A file that appeared in
    the meantime keeps the whole folder, and stderr says where."""
    for folder, _, files in os.walk(old):
        for file in files:
            path = Path(folder) / file
            name = path.relative_to(old).as_posix()
            if name in owned and not path.is_symlink() and _sha256(path) == owned[name]:
                continue
            twin = final / name
            if twin.is_symlink() or path.is_symlink():
                if twin.is_symlink() and path.is_symlink() and os.readlink(twin) == os.readlink(path):
                    continue
            elif twin.is_file() and (os.path.samefile(twin, path) or twin.read_bytes() == path.read_bytes()):
                continue
            print(
                f"prefdyn report: {name} appeared in {final} during the run; the earlier folder is kept as {old}",
                file=sys.stderr,
            )
            return False
    return True


class Stages:
    """Runs named stages, timing each; a :class:`~.sources.Skip` ends the stage and is recorded
    under the part it names. Progress on stderr (``mode``): a tqdm bar on a terminal
    (``"bar"``), plain lines elsewhere (``"lines"``: ``prefdyn report: [3/10] simulation ...``
    when a stage starts and its time when it ends), or nothing (``"off"``)."""

    def __init__(self, total: int, skipped: dict[str, str], mode: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            disable=mode != "bar",
            unit="stage",
            file=sys.stderr,
            bar_format="{desc:<34} {bar} {n_fmt}/{total_fmt} [{elapsed}]",
        )
        self.mode, self.total, self.index = mode, total, 0
        self.skipped = skipped
        self.timings: dict[str, float] = {}

    def _say(self, text: str) -> None:
        if self.mode == "lines":
            print(f"prefdyn report: {text}", file=sys.stderr, flush=True)

    def run(self, name: str, part: str, work: Callable[[], None]) -> None:
        self.index += 1
        self.bar.set_description(name)
        self._say(f"[{self.index}/{self.total}] {name} ...")
        start = time.perf_counter()
        outcome = "done"
        try:
            work()
        except sources.Skip as skip:
            self.skipped[part] = str(skip)
            outcome = f"skipped ({skip})"
        self.timings[name] = round(time.perf_counter() - start, 3)
        self._say(f"[{self.index}/{self.total}] {name}: {outcome} in {self.timings[name]:.1f} s")
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
        self._say(f"all {self.total} stages in {sum(self.timings.values()):.1f} s")


def _scenario(spec: str | None) -> tuple[Scenario, dict[str, Any]]:
    if spec is None:
        return default_scenario(), {"scenario": "built-in default"}
    path = Path(spec)
    return load_scenario(path), {"scenario": str(path), "scenario_sha256": _sha256(path)}


def _gather(options: Options, parts: Parts, outdir: Path) -> dict[str, float]:
    scenario, device = parts.scenario, options.device
    fig_dir = outdir / "figures"

    def theorems() -> None:
        parts.theorems, parts.theorem_skips = sources.theorems(scenario.training.loss, options.theorems)

    def simulate() -> None:
        parts.simulation, _ = sources.simulation(scenario, device)

    def predict() -> None:
        parts.prediction = sources.prediction(scenario, options.threads)

    def curves() -> None:
        assert parts.simulation is not None
        # the theory is the population limit: compare it with held-out samples (the training
        # split's margins carry each sample's own O(1/n) contribution to the learnt direction)
        split = parts.theory_split
        panels = [Panel("accuracy", split), Panel("margin", split)]
        figure = theory_vs_simulation(parts.simulation, parts.prediction, panels, parts.runs)
        save(figure, fig_dir, "theory-vs-simulation")

    def prioritise() -> None:
        assert parts.simulation is not None
        parts.alone = [
            sources.simulation(variants.alone(scenario, b), device)[0] for b in range(len(scenario.behaviors))
        ]
        save(figures.prioritisation(parts.simulation, parts.alone, parts.runs), fig_dir, "prioritisation")

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

    def phase() -> None:
        if options.sweep is None:
            raise sources.Skip("no sweep given (pass `--sweep DIR`, a finished `prefdyn sweep --out DIR`)")
        parts.phase = sources.phase_diagrams(options.sweep, fig_dir)

    def verify() -> None:
        parts.verification = sources.verification(
            options.examples, scenario.seed, device, options.theorems or (), options.threads
        )

    def bench() -> None:
        parts.benchmarks = sources.benchmarks(None if options.benchmarks is None else Path(options.benchmarks))

    def persona() -> None:
        if options.persona is None:
            raise sources.Skip("no persona data given (pass `--persona PATH`)")
        parts.persona = sources.persona(options.persona, device, options.persona_settings, options.persona_behaviors)

    plan = [
        ("theorems (SymPy checks)", "theorems", theorems),
        ("persona data", "persona", persona),
        ("simulation", "simulation", simulate),
        ("theory curves (predict)", "prediction", predict),
        ("figure: theory vs simulation", "simulation", curves),
        ("prioritisation", "prioritisation", prioritise),
        ("misalignment", "misalignment", misalign),
        ("distinguishability vs speed", "speed", speed),
        ("phase diagrams (sweep)", "sweep", phase),
        ("verification (verify)", "verification", verify),
        ("benchmarks", "benchmarks", bench),
    ]
    from prefdyn.progress import auto_mode

    mode = auto_mode() if options.progress is None else ("bar" if options.progress else "off")
    stages = Stages(len(plan), parts.skipped, mode)
    for name, part, work in plan:
        stages.run(name, part, work)
    stages.close()
    return stages.timings


def _write(outdir: Path, parts: Parts) -> list[Path]:
    files = {
        outdir / "main.tex": main_tex(parts),
        outdir / "theorems.tex": theorems_tex(parts),
        outdir / "macros.tex": macros_tex(parts),
    }
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
    """Write the report to ``options.outdir``; return the manifest (also written as JSON).

    The report is built in a temporary sibling folder and swapped in whole at the end, under an
    exclusive lock on ``outdir``: an interrupted run leaves the earlier report as it was, and a
    second concurrent run is refused. Files in ``outdir`` that are not the earlier report's own
    are carried over; nothing outside ``outdir`` is ever deleted."""
    start = time.perf_counter()
    outdir = Path(os.path.abspath(options.outdir))
    if outdir.exists():
        outdir = outdir.resolve()
    scenario, inputs = _scenario(options.scenario)
    sources.check_theorem_ids(options.theorems or ())
    if options.persona is not None:
        inputs["persona"] = options.persona
    if options.benchmarks is not None:
        inputs["benchmarks"] = options.benchmarks
    if options.sweep is not None:
        inputs["sweep"] = options.sweep
    _previous(outdir)  # refuse a foreign or tampered folder before taking the lock
    check_writable(outdir.parent, "OUTDIR")
    with FolderLock(outdir, "OUTDIR"):
        remove_stale_builds(outdir)
        owned = _previous(outdir)
        with staged_folder(outdir, discard=partial(_superseded, owned, outdir)) as build:
            (build / "tables").mkdir()
            (build / "figures").mkdir()
            parts = Parts(scenario, scenario.runs)
            timings = _gather(options, parts, build)
            written = _write(build, parts) + sorted((build / "figures").iterdir())
            manifest = {
                "generator": GENERATOR,
                "inputs": {**inputs, "scenario_name": scenario.name, "scenario_content_hash": scenario.content_hash()},
                "options": {
                    "examples": options.examples,
                    "device": options.device,
                    **({"persona_behaviors": list(options.persona_behaviors)} if options.persona_behaviors else {}),
                    **(
                        {"persona_settings": dict(sorted(options.persona_settings.items()))}
                        if options.persona_settings
                        else {}
                    ),
                },
                "seeds": {"scenario": scenario.seed, "verification": scenario.seed},
                "runs": parts.runs,
                "versions": _versions(),
                "sections": {k: "skipped" if k in parts.skipped else "included" for k in SECTIONS},
                "skipped": dict(sorted(parts.skipped.items())),
                "theorems": {"included": [t.id for t in parts.theorems], "skipped": parts.theorem_skips},
                "files": {p.relative_to(build).as_posix(): _sha256(p) for p in sorted(written)},
                "timings_s": {**timings, "total": round(time.perf_counter() - start, 3)},
            }
            (build / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            _previous(outdir)  # nothing changed under us (the lock keeps prefdyn out, not editors)
            _carry(outdir, owned, build)
    return manifest
