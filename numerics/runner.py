"""Running a scenario in chunks of runs, with incremental, resumable output.

``run_scenario`` splits the ``R`` runs into chunks of ``chunk_runs``; each chunk samples its own
runs (per-run seeds, :mod:`prefdyn.numerics.seeds`) and trains them. With ``out``, every finished
chunk is written atomically to ``out/chunk-XXXXX.pt`` next to ``out/manifest.json`` (scenario
hash, seed, runs, dtype, device, chunking). ``resume=True`` loads the finished chunks and computes
only the missing ones; because a run's numbers depend only on ``(seed, run)``, an interrupted
then resumed simulation equals an uninterrupted one exactly (on the same device and dtype).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from prefdyn.errors import PrefdynError, output_directory, require

from .sampling import sample_scenario
from .scenario import Scenario
from .simulator import SimulationResult, compute_dtype, resolve_device, simulate

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def _chunk_path(out: Path, index: int) -> Path:
    return out / f"chunk-{index:05d}.pt"


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _prepare_out(out: Path, manifest: dict[str, Any], resume: bool) -> None:
    existing = out / MANIFEST
    if existing.exists():
        require(resume, "out", f"{out} already holds results; pass --resume to continue them or choose another directory")
        try:
            found = json.loads(existing.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise PrefdynError(f"resume: {existing} is not a prefdyn simulate manifest (not JSON)") from None
        require(isinstance(found, dict), "resume", f"{existing} is not a prefdyn simulate manifest")
        for key, value in manifest.items():
            require(found.get(key) == value, "resume", f"{out} was written with {key} = {found.get(key)!r}, not {value!r}")
        return
    output_directory(out, "out")
    require(not any(out.iterdir()), "out", f"{out} holds other files; choose an empty or new directory")
    _atomic_write(existing, lambda p: p.write_text(json.dumps(manifest, indent=2)))


def run_scenario(
    scenario: Scenario,
    *,
    runs: int | None = None,
    seed: int | None = None,
    device: str | None = "cpu",
    dtype: torch.dtype = torch.float32,
    out: str | Path | None = None,
    resume: bool = False,
    chunk_runs: int = 256,
    record_every: int = 1,
    progress: bool | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Sample and train ``runs`` runs of ``scenario`` (defaults from its ``[training]`` table).

    ``on_chunk(i)`` is called after chunk ``i`` is finished (and saved); ``progress`` shows a
    tqdm bar (default: only when stderr is a TTY).
    """
    runs = scenario.runs if runs is None else runs
    seed = scenario.seed if seed is None else seed
    require(runs > 0, "runs", "must be > 0")
    require(chunk_runs > 0, "chunk_runs", "must be > 0")
    dev = resolve_device(device)
    manifest = {
        "format": FORMAT_VERSION, "scenario_hash": scenario.content_hash(), "runs": runs, "seed": seed,
        "dtype": str(dtype).removeprefix("torch."), "device": dev.type, "chunk_runs": chunk_runs,
        "record_every": record_every,
    }
    out_dir = None if out is None else Path(out)
    if out_dir is not None:
        _prepare_out(out_dir, manifest, resume)
    starts = list(range(0, runs, chunk_runs))
    show = sys.stderr.isatty() if progress is None else progress
    from tqdm import tqdm

    bar = tqdm(total=runs * scenario.training.steps, disable=not show, unit="run-step", desc=scenario.name)
    parts = []
    for index, start in enumerate(starts):
        size = min(chunk_runs, runs - start)
        path = None if out_dir is None else _chunk_path(out_dir, index)
        if path is not None and path.exists():
            parts.append(SimulationResult.from_state_dict(torch.load(path, weights_only=False)))
            bar.update(size * scenario.training.steps)
            continue
        data = sample_scenario(scenario, size, seed, first_run=start, dtype=compute_dtype(dtype), device=dev)

        def advance(steps: int, size: int = size) -> None:
            bar.update(steps * size)

        part = simulate(
            data, scenario.training, seed=seed, first_run=start, record_every=record_every,
            device=dev, dtype=dtype, progress=advance,
        )
        if path is not None:
            _atomic_write(path, partial(torch.save, part.state_dict()))
        parts.append(part)
        if on_chunk is not None:
            on_chunk(index)
    bar.close()
    if not parts:
        raise PrefdynError("runs: nothing to simulate")
    return SimulationResult.concat(parts)
