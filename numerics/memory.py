r"""Peak memory of a simulation, estimated from the scenario and flags before any work.

The estimate (bytes) adds what :func:`~prefdyn.numerics.run_scenario` holds at its peak, for a
chunk of :math:`R_c = \min(\text{chunk\_runs}, R)` runs of :math:`N` samples in dimension
:math:`d`, :math:`K` behaviours, vocabulary :math:`V`, :math:`T` recorded steps and :math:`M`
per-behaviour metrics:

* sampling (float64 on the CPU): the embeddings :math:`R_c N d` twice (draws and the stacked
  result), their copy in the storage dtype, and each behaviour's :math:`d\times d` noise factor;
* the reference head (when ``[reference]`` is given): :math:`V d`, and the logits of every
  sample over the other :math:`V - 2` tokens, :math:`R_c N (V-2)`;
* training state: a few :math:`R_c N` and :math:`R_c\, 2d` tensors;
* the recorded curves: :math:`R\,T\,(2KM + 2)` float64, twice (the chunks and their
  concatenation).

It is an estimate (allocator slack and library buffers are not counted), meant to refuse at once
what cannot fit -- ``samples = 10**12``, ``dim = 10**7``, ``steps = 10**12``, a million-token
reference vocabulary with thousands of samples, ``--runs 100000000`` -- with the numbers, rather
than to die minutes later.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefdyn.errors import PrefdynError

_FLOAT64 = 8
#: how much of the available memory a run may plan to use
HEADROOM = 0.9


def recorded_points(steps: int, record_every: int, phases: int = 1) -> int:
    """Number of recorded steps (an upper bound: step 0, every ``record_every``-th step, the
    phase ends)."""
    points = 1 + phases
    if record_every > 0:
        points += -(-steps // record_every)
    return points


def estimate(
    scenario: Any, *, runs: int | None = None, chunk_runs: int = 256, record_every: int = 1, element_size: int = 4
) -> dict[str, int]:
    """Bytes per part (``sampling``, ``reference``, ``training``, ``curves``) and ``total``."""
    from .metrics import SAMPLE_METRICS

    runs = scenario.runs if runs is None else runs
    chunk = min(chunk_runs, runs)
    n, d, k = scenario.samples, scenario.dim, len(scenario.behaviors)
    vocab = scenario.reference.vocab
    has_head = not (vocab == 2 and scenario.reference.scale == 0)
    phases = len(scenario.training.phases)
    points = recorded_points(scenario.training.steps, record_every, phases)
    parts = {
        "sampling": chunk * n * d * (2 * _FLOAT64 + element_size) + d * d * _FLOAT64 * 2,
        "reference": (vocab * d + chunk * n * max(vocab - 2, 0)) * _FLOAT64 if has_head else 0,
        "training": chunk * (8 * n + 8 * d) * _FLOAT64,
        "curves": 2 * runs * points * (2 * k * len(SAMPLE_METRICS) + 2) * _FLOAT64 + runs * 2 * d * _FLOAT64,
    }
    parts["total"] = sum(parts.values())
    return parts


def available_bytes() -> int | None:
    """Memory this process may still use: ``MemAvailable`` of ``/proc/meminfo`` (else free
    pages), capped by a cgroup limit; ``None`` when unknown."""
    found: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:
            found = min(found, max(int(limit) - usage, 0))
        break
    return found


def human(size: float) -> str:
    """``1.5 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(size) < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} EiB"  # pragma: no cover


def check_memory(
    scenario: Any,
    *,
    runs: int | None = None,
    chunk_runs: int = 256,
    record_every: int = 1,
    element_size: int = 4,
    available: int | None = None,
) -> dict[str, int]:
    """:func:`estimate`, refused with a :class:`~prefdyn.errors.PrefdynError` naming the
    estimate, its largest part and the available memory when it does not fit."""
    parts = estimate(scenario, runs=runs, chunk_runs=chunk_runs, record_every=record_every, element_size=element_size)
    available = available_bytes() if available is None else available
    if available is not None and parts["total"] > HEADROOM * available:
        largest = max((k for k in parts if k != "total"), key=lambda k: parts[k])
        advice = {
            "sampling": "fewer samples, a smaller dim or a smaller --chunk-runs",
            "reference": "a smaller [reference] vocab, fewer samples or a smaller --chunk-runs",
            "training": "fewer samples or a smaller --chunk-runs",
            "curves": "fewer runs or steps, or a larger --record-every",
        }[largest]
        raise PrefdynError(
            f"memory: this simulation needs about {human(parts['total'])} (mostly "
            f"{largest}: {human(parts[largest])}), but {human(available)} are "
            f"available; use {advice}"
        )
    return parts
