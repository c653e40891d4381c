r"""Where a sweep's units run: this process, a local process pool, or a Ray cluster.

All three call :func:`~prefdyn.numerics.sweep.cells.unit_rows` on the same
:class:`~prefdyn.numerics.sweep.cells.UnitTask` and hand the rows to the driver's ``done``
callback, which alone writes files; so every backend gives the same table, bit for bit, on the
same device and dtype.

* :func:`run_serial`: one unit after another, in this process.
* :func:`run_pool`: a ``spawn`` process pool, one torch thread per worker. A worker that dies
  (killed, out of memory) breaks the pool: a new pool is started and the unfinished units are
  submitted again; the sweep stops when :data:`ATTEMPTS` pools in a row break before any unit
  finishes. A unit that raises stops the sweep at once (the queued units are cancelled).
* :func:`run_ray`: one Ray task per unit (``num_cpus = 1``, or ``num_gpus = 1`` on CUDA), retried
  by Ray on worker failure up to ``ATTEMPTS - 1`` times; results come back to the driver.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import pandas as pd

from prefdyn.errors import PrefdynError, require

from .cells import UnitTask, unit_rows

#: Attempts per unit before a sweep gives up (a unit that keeps killing its worker).
ATTEMPTS = 3

Done = Callable[[UnitTask, pd.DataFrame], None]


def run_serial(tasks: Sequence[UnitTask], done: Done) -> None:
    """Run ``tasks`` one after another in this process.

    Parameters
    ----------
    tasks : sequence of UnitTask
        The units to run.
    done : callable
        Called with each task and its rows as it finishes.

    Examples
    --------
    >>> run_serial([], print)
    """
    for task in tasks:
        done(task, unit_rows(task))


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def run_pool(tasks: Sequence[UnitTask], done: Done, workers: int) -> None:
    """Run ``tasks`` on ``workers`` local processes (module docstring).

    Parameters
    ----------
    tasks : sequence of UnitTask
        The units to run.
    done : callable
        Called in this process with each task and its rows as it finishes.
    workers : int
        Worker processes.

    Raises
    ------
    PrefdynError
        The pool broke :data:`ATTEMPTS` times in a row without finishing a unit.

    Examples
    --------
    >>> run_pool([], print, workers=2)
    """
    pending = list(tasks)
    breaks = 0  # pools broken since a unit last finished
    context = multiprocessing.get_context("spawn")
    while pending:
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread)
        try:
            futures = {pool.submit(unit_rows, task): task for task in pending}
            pending = []
            waiting = set(futures)
            while waiting:
                finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = futures[future]
                    try:
                        rows = future.result()
                    except BrokenProcessPool:
                        pending.append(task)
                        continue
                    breaks = 0
                    done(task, rows)
        finally:  # on an error, do not wait for the queued units: cancel them
            pool.shutdown(wait=True, cancel_futures=True)
        if pending:
            breaks += 1
            require(
                breaks < ATTEMPTS,
                "sweep",
                f"worker processes died {ATTEMPTS} times in a row before finishing a unit "
                f"({len(pending)} units unfinished; out of memory?)",
            )
            print(
                f"prefdyn sweep: a worker process died; resubmitting {len(pending)} unfinished units",
                file=sys.stderr,
                flush=True,
            )
            pending.sort(key=lambda t: t.index)


def run_ray(tasks: Sequence[UnitTask], done: Done, address: str) -> None:
    """Run ``tasks`` as Ray tasks on the cluster at ``address`` (module docstring).

    Parameters
    ----------
    tasks : sequence of UnitTask
        The units to run.
    done : callable
        Called on the driver with each task and its rows as it finishes.
    address : str
        A :func:`prefdyn.cluster.connect` address.

    Raises
    ------
    PrefdynError
        Ray is missing, the cluster cannot be reached, or a unit failed :data:`ATTEMPTS` times.

    Examples
    --------
    >>> run_ray([], print, "local:1")  # doctest: +SKIP
    """
    from prefdyn.cluster import connect

    with connect(address) as ray:
        resources = {"num_gpus": 1} if any(t.device.startswith("cuda") for t in tasks) else {"num_cpus": 1}
        remote = ray.remote(max_retries=ATTEMPTS - 1, retry_exceptions=False, **resources)(unit_rows)
        refs = {remote.remote(task): task for task in tasks}
        waiting = list(refs)
        while waiting:
            finished, waiting = ray.wait(waiting, num_returns=1)
            for ref in finished:
                task = refs[ref]
                try:
                    rows = ray.get(ref)
                except ray.exceptions.RayError as err:
                    raise PrefdynError(
                        f"sweep: unit {task.index} failed on the cluster ({type(err).__name__})"
                    ) from None
                done(task, rows)
