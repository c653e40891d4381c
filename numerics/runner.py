"""Running a scenario in chunks of runs, with incremental, resumable output.

``run_scenario`` splits the ``R`` runs into chunks of ``chunk_runs``; each chunk samples its own
runs (per-run seeds, :mod:`prefdyn.numerics.seeds`) and trains them. With ``out``, every finished
chunk is written atomically to ``out/chunk-XXXXX.pt`` next to ``out/manifest.json`` (scenario
hash, seed, runs, dtype, device, chunking). ``resume=True`` loads the finished chunks and computes
only the missing ones; because a run's numbers depend only on ``(seed, run)``, an interrupted
then resumed simulation equals an uninterrupted one exactly (on the same device and dtype).

Safety: the folder is locked for the whole run (:class:`~prefdyn.files.FolderLock`; a second
writer is refused naming the holder's PID). Each chunk is a sealed file
(:func:`~prefdyn.files.write_sealed`: SHA-256, length and provenance -- the manifest's scenario
hash, seed, runs, dtype, device, chunking -- plus the chunk's index and runs), ``fsync``'ed
before it is renamed into place; its tensors are ``torch.save`` data read back with
``torch.load(weights_only=True)``, which runs no code. On resume a damaged chunk (empty,
truncated, checksum mismatch) is named on stderr and recomputed; a chunk of another run or not
written by prefdyn is refused, so a resumed result never mixes runs.

A change of a behaviour's training loss too small for the training dtype to resolve is warned
about (:func:`~prefdyn.numerics.resolution.warn_unresolved_loss`).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from prefdyn.errors import PrefdynError, require
from prefdyn.files import (
    Corrupt,
    FolderLock,
    Foreign,
    check_writable,
    open_resumable,
    read_sealed,
    write_sealed,
)

from .resolution import warn_unresolved_loss
from .sampling import sample_scenario
from .scenario import Scenario
from .simulator import SimulationResult, compute_dtype, resolve_device, simulate

MANIFEST = "manifest.json"
FORMAT_VERSION = 2  # 2: sealed chunks (checksum + provenance), weights-only tensors


def _chunk_path(out: Path, index: int) -> Path:
    return out / f"chunk-{index:05d}.pt"


def _prepare_out(out: Path, manifest: dict[str, Any], resume: bool) -> None:
    if open_resumable(out, manifest, resume, "simulate"):
        for stale in out.glob(".chunk-*.pt.tmp-*"):  # left by a killed run (we hold the lock)
            stale.unlink(missing_ok=True)


def _save_chunk(path: Path, part: SimulationResult, provenance: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(part.state_dict(), buffer)
    write_sealed(path, buffer.getvalue(), provenance)


def _load_chunk(path: Path, provenance: dict[str, Any]) -> SimulationResult | None:
    """The chunk at ``path``; ``None`` (said on stderr) when it is damaged and must be
    recomputed; a :class:`PrefdynError` when it belongs to another run or to no prefdyn run."""
    try:
        payload = read_sealed(path, provenance)
    except Corrupt as err:
        print(f"prefdyn simulate: {path} is damaged ({err}); recomputing it", file=sys.stderr)
        return None
    except Foreign as err:
        raise PrefdynError(f"resume: {path} does not belong to this run ({err}); remove it to recompute it") from None
    except OSError as err:
        raise PrefdynError(f"resume: cannot read {path} ({err.strerror})") from None
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        part = SimulationResult.from_state_dict(state)
        require(part.runs == provenance["size"], "resume", "wrong number of runs")
    except Exception:  # noqa: BLE001 - sealed but unreadable: written by something else
        raise PrefdynError(f"resume: {path} holds no prefdyn simulation results; remove it to recompute it") from None
    return part


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
    kernel: str = "auto",
) -> SimulationResult:
    """Sample and train ``runs`` runs of ``scenario`` (defaults from its ``[training]`` table).

    ``on_chunk(i)`` is called after chunk ``i`` is finished (and saved); ``progress`` shows a
    tqdm bar (default: only when stderr is a TTY). ``kernel`` chooses the simulator's step
    (:mod:`prefdyn.numerics.kernels`); it is part of the manifest, since the steps round
    differently. A loss change that ``dtype`` does not resolve is warned about
    (:class:`~prefdyn.errors.PrefdynWarning`, :mod:`prefdyn.numerics.resolution`).
    """
    runs = scenario.runs if runs is None else runs
    seed = scenario.seed if seed is None else seed
    require(runs > 0, "runs", "must be > 0")
    require(chunk_runs > 0, "chunk_runs", "must be > 0")
    dev = resolve_device(device)
    from .memory import check_memory

    # refuse what cannot fit before any work (the estimate and the available memory named)
    check_memory(
        scenario,
        runs=runs,
        chunk_runs=chunk_runs,
        record_every=record_every,
        element_size=torch.empty((), dtype=dtype).element_size(),
    )
    manifest = {
        "format": FORMAT_VERSION,
        "scenario_hash": scenario.content_hash(),
        "runs": runs,
        "seed": seed,
        "dtype": str(dtype).removeprefix("torch."),
        "device": dev.type,
        "chunk_runs": chunk_runs,
        "record_every": record_every,
        "kernel": kernel,
    }
    if out is None:
        return _run(
            scenario, runs, seed, dev, dtype, None, manifest, chunk_runs, record_every, progress, on_chunk, kernel
        )
    out_dir = Path(out)
    require(not out_dir.exists() or out_dir.is_dir(), "out", f"{out_dir} exists and is not a directory")
    check_writable(out_dir, "out")
    with FolderLock(out_dir, "out"):
        _prepare_out(out_dir, manifest, resume)
        return _run(
            scenario, runs, seed, dev, dtype, out_dir, manifest, chunk_runs, record_every, progress, on_chunk, kernel
        )


def _run(
    scenario: Scenario,
    runs: int,
    seed: int,
    dev: torch.device,
    dtype: torch.dtype,
    out_dir: Path | None,
    manifest: dict[str, Any],
    chunk_runs: int,
    record_every: int,
    progress: bool | None,
    on_chunk: Callable[[int], None] | None,
    kernel: str,
) -> SimulationResult:
    starts = list(range(0, runs, chunk_runs))
    show = sys.stderr.isatty() if progress is None else progress
    from tqdm import tqdm

    bar = tqdm(total=runs * scenario.training.steps, disable=not show, unit="run-step", desc=scenario.name)
    parts = []
    for index, start in enumerate(starts):
        size = min(chunk_runs, runs - start)
        path = None if out_dir is None else _chunk_path(out_dir, index)
        provenance = {**manifest, "chunk": index, "first_run": start, "size": size}
        if path is not None and (path.exists() or path.is_symlink()):
            loaded = _load_chunk(path, provenance)
            if loaded is not None:
                parts.append(loaded)
                bar.update(size * scenario.training.steps)
                continue
        data = sample_scenario(scenario, size, seed, first_run=start, dtype=compute_dtype(dtype), device=dev)

        def advance(steps: int, size: int = size) -> None:
            bar.update(steps * size)

        part = simulate(
            data,
            scenario.training,
            seed=seed,
            first_run=start,
            record_every=record_every,
            device=dev,
            dtype=dtype,
            progress=advance,
            kernel=kernel,
        )
        if path is not None:
            _save_chunk(path, part, provenance)
        parts.append(part)
        if on_chunk is not None:
            on_chunk(index)
    bar.close()
    if not parts:
        raise PrefdynError("runs: nothing to simulate")
    result = SimulationResult.concat(parts)
    warn_unresolved_loss(result, compute_dtype(dtype))
    return result
