r"""How many CPU threads torch may use for a command: one policy, one function.

:func:`configure_threads` is called by every heavy command (``simulate``, ``predict``,
``verify``, ``persona``, ``report``) before its work starts. In order:

1. ``--threads N`` (``requested``) wins;
2. else ``OMP_NUM_THREADS``, when set to a positive integer, is respected (a cluster job or a
   shared machine's convention);
3. else the count follows the size of the work: ``work`` is the floating-point operations of
   one parallel step (one batched product of the simulator, say). Below
   :data:`PARALLEL_MIN_FLOPS` a step is too small to share -- waking and joining threads costs
   more than it saves, and on a loaded machine idle OpenMP threads spin and steal the cores the
   work needs (measured: a 2-core machine with two busy neighbours took 2 min 27 s with
   torch's default two threads and 25 s with one for ``prefdyn simulate``) -- so it runs on one
   thread. Above it, one thread per :data:`PARALLEL_MIN_FLOPS` of work, capped by the *idle*
   cores: the cores this process may use minus the machine's current load (the 1-minute load
   average, rounded down), at least one. ``work=None`` (unknown, e.g. a neural encoder) means
   "large": the idle cores.

``benchmarks/bench_threads.py`` measures the policy against torch's default on an idle machine
and on one deliberately loaded by busy-loop processes.

>>> choose_threads(3)
(3, '--threads')
>>> choose_threads(work=1e3)[0] if "OMP_NUM_THREADS" not in os.environ else 1
1
"""

from __future__ import annotations

import math
import os

#: Floating-point operations of one parallel step below which one thread is used, and per
#: additional thread above it (about 10 ms of single-threaded float32 work).
PARALLEL_MIN_FLOPS = 1e8


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def idle_cores() -> int:
    """:func:`usable_cores` minus the 1-minute load average (rounded down), at least 1."""
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores
    return max(1, cores - int(load))


def _from_environment() -> int | None:
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value > 0 else None


def choose_threads(requested: int | None = None, *, work: float | None = None) -> tuple[int, str]:
    """``(threads, reason)`` by the policy of the module docstring, without changing anything."""
    if requested is not None:
        from prefdyn.errors import require

        require(isinstance(requested, int) and requested >= 1, "--threads", "must be an integer >= 1")
        return requested, "--threads"
    env = _from_environment()
    if env is not None:
        return env, "OMP_NUM_THREADS"
    if work is not None and work < PARALLEL_MIN_FLOPS:
        return 1, f"small work ({work:.2g} flop per step)"
    wanted = usable_cores() if work is None else math.ceil(work / PARALLEL_MIN_FLOPS)
    idle = idle_cores()
    return max(1, min(wanted, idle)), f"{idle} idle core(s)"


def configure_threads(requested: int | None = None, *, work: float | None = None) -> int:
    """Set torch's intra-op thread count by the policy of the module docstring; return it.

    Parameters
    ----------
    requested : int, optional
        ``--threads``; wins over everything.
    work : float, optional
        Floating-point operations of one parallel step of the command (``None``: large or
        unknown).

    Returns
    -------
    int
        The thread count now in effect (``torch.get_num_threads()``).
    """
    import torch

    threads, _ = choose_threads(requested, work=work)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def simulation_work(runs: int, samples: int, dim: int) -> float:
    r"""Flops of one simulator step: two batched products over the data,
    :math:`2 \times 2\,R\,n\,d`."""
    return 4.0 * runs * samples * dim
