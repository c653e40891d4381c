r"""Verification split over the workers of a Ray cluster (``prefdyn verify --cluster ADDRESS``).

:func:`verify_on_cluster` checks built-in theorems' properties and conjectures on ``N`` Hypothesis
examples each, every item as ``W`` Ray tasks (workers). Worker :math:`k` runs a complete local
search (:func:`~prefdyn.verification.runner.search`, exactly what ``prefdyn verify`` runs without a
cluster) of its *share* of the item's examples (:func:`search_share`):

* **Examples.** Worker :math:`k` runs :math:`n_k = \lfloor N/W \rfloor` examples, plus one for the
  first :math:`N \bmod W` workers, so :math:`\sum_k n_k = N` (:func:`split_examples`; workers
  beyond :math:`N` get nothing and are not started).
* **Seeds.** Worker :math:`k` searches with its own Hypothesis seed :math:`s_k`, a function of the
  user's seed :math:`s` and :math:`k` only (:func:`worker_seed`): :math:`s_0 = s`, the others
  from SHA-256. A worker keeps its seed whatever :math:`W` is, and one worker is the local run.
* **Deterministic.** Hypothesis draws some values from the literal constants of the *loaded*
  local modules, so what a process has imported changes what it draws. The driver first loads every
  module a search can import (:func:`load_search_modules`), and every task first imports the
  ``prefdyn`` modules the driver has then loaded (:func:`loaded_modules`): a search loads nothing
  new after that, so a task draws the same examples on whichever machine (with the same
  ``prefdyn``) and in whichever worker process it runs, whatever that process ran before, and a
  run's result never depends on timing.
  ``prefdyn verify`` loads the same modules before searching, with or without ``--cluster``, so
  ``prefdyn verify ITEM --seed`` :math:`s_k` ``--examples`` :math:`n_k` reruns worker
  :math:`k`'s search of ``ITEM`` on one machine, examples, shrinking and all.
* **Gathering.** For each item the driver waits for all its tasks and merges their searches
  (:func:`combine`): the passing examples of all workers, in worker order, and the counterexample
  of the *first worker by index* that found one, already shrunk by Hypothesis in that worker. The
  report (:func:`~prefdyn.verification.runner.summarise`, at the driver) is exactly what a local
  run reports from those examples: its ``examples`` count is the sum over the workers (all
  :math:`N` when none fails), and its counterexample, with the detail and the scenario file of
  worker :math:`k`'s search, is written by the driver alone as ``out/<stem>.toml``. Other
  workers' counterexamples are listed per worker (:class:`ClusterReport`), not merged: a report
  describes one counterexample, as a local run does.
* **Failures.** A task whose worker dies is retried (:data:`MAX_RETRIES` times); a retry reruns
  the same seed and examples, so it repeats the same draws. A
  :class:`~prefdyn.errors.PrefdynError` raised in a worker reaches the caller as itself.

**False-alarm budget.** The statistical tolerances (:mod:`prefdyn.verification.tolerance`, and a
conjecture's ``tolerance = "statistical"``) give every example a false-alarm probability of at most
:data:`~prefdyn.verification.tolerance.FALSE_ALARM` :math:`= \alpha = 10^{-6}` on its own: a
radius depends on its example (its runs, samples and comparisons), never on how many examples a
search runs or where. So the per-example budget is unchanged by splitting, and by the union bound a
true statement is refuted by worker :math:`k` with probability at most :math:`n_k\alpha` and by the
whole run with probability at most :math:`\sum_k n_k\alpha = N\alpha`, the budget of one local
search of :math:`N` examples. Each example's simulation is seeded by what Hypothesis drew, so a
retried task, or an example that two workers both draw, repeats the same evaluation and adds no new
chance of a false alarm. (Such repeats do cost coverage: every worker begins with the same
simplest example, so a run holds at most :math:`N - W + 1` distinct examples.)

The workers run on CPU (``device="cpu"``; the examples are tiny) with ``threads`` torch threads
each and ask Ray for as many CPUs. A worker process pays its imports (torch, SymPy, ``prefdyn``:
seconds) once, at its first task, and the cluster's start-up is paid by the driver, so splitting
pays when a share takes much longer than that. Ray is reached only through :func:`prefdyn.cluster.connect`,
whose ``ray`` module is this module's first argument; ``prefdyn`` must be installed on the workers
(a ``local`` cluster shares this machine's environment).

Examples
--------
>>> split_examples(10, 3)
[4, 3, 3]
>>> [share.seed == worker_seed(7, share.index) for share in plan(5, 2, seed=7)]
[True, True]
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import pkgutil
import sys
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from prefdyn import errors
from prefdyn.errors import PrefdynError, require

from .conjectures import Conjecture, observe
from .outcome import Outcome
from .properties import get_property
from .runner import Report, SearchResult, search, summarise

#: Retries of a task whose worker died (Ray's ``max_retries``); a retry reruns the same share.
MAX_RETRIES = 3

#: The layers a search runs in (with the helper modules of ``prefdyn`` below them).
SEARCH_PACKAGES = ("prefdyn.theory", "prefdyn.numerics", "prefdyn.verification")

#: What a worker checks: a built-in theorem's id, or a parsed conjecture.
Item = str | Conjecture


def split_examples(examples: int, workers: int) -> list[int]:
    """The examples of each worker: ``examples`` split as evenly as possible over ``workers``.

    Parameters
    ----------
    examples : int
        Examples of the whole run, :math:`N \\ge 1`.
    workers : int
        Workers, :math:`W \\ge 1`.

    Returns
    -------
    list of int
        :math:`\\min(N, W)` positive counts summing to :math:`N`, the first :math:`N \\bmod W` one
        larger than the rest (a worker that would get no example is left out).

    Raises
    ------
    PrefdynError
        ``examples`` or ``workers`` below 1.

    Examples
    --------
    >>> split_examples(100, 8)
    [13, 13, 13, 13, 12, 12, 12, 12]
    >>> split_examples(2, 4)
    [1, 1]
    """
    require(examples >= 1, "examples", f"must be >= 1, not {examples}")
    require(workers >= 1, "workers", f"must be >= 1, not {workers}")
    base, extra = divmod(examples, workers)
    return [n for n in (base + (k < extra) for k in range(workers)) if n > 0]


def worker_seed(seed: int, index: int) -> int:
    """The Hypothesis seed of worker ``index`` in a run with seed ``seed``.

    Worker 0 uses ``seed`` itself (one worker is the local run); worker :math:`k \\ge 1` uses the
    first 63 bits of the SHA-256 of ``"prefdyn verify seed {seed} worker {k}"``. It depends on
    ``seed`` and ``index`` only, not on the number of workers.

    Parameters
    ----------
    seed : int
        The run's seed (``prefdyn verify --seed``), :math:`\\ge 0`.
    index : int
        The worker's index, :math:`\\ge 0`.

    Returns
    -------
    int
        A seed in :math:`[0, 2^{63})` (or ``seed`` for worker 0).

    Examples
    --------
    >>> worker_seed(0, 0), worker_seed(0, 1)
    (0, 8574701277337289663)
    """
    require(seed >= 0, "seed", f"must be >= 0, not {seed}")
    require(index >= 0, "worker", f"index must be >= 0, not {index}")
    if index == 0:
        return seed
    digest = hashlib.sha256(f"prefdyn verify seed {seed} worker {index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Share:
    """The part of a run one worker searches: its ``index``, Hypothesis ``seed`` and ``examples``.

    Examples
    --------
    >>> Share(0, 7, 50)
    Share(index=0, seed=7, examples=50)
    """

    index: int
    seed: int
    examples: int


def plan(examples: int, workers: int, *, seed: int = 0) -> list[Share]:
    """The shares of a run of ``examples`` examples over ``workers`` workers with seed ``seed``.

    Parameters
    ----------
    examples : int
        Examples of the whole run, :math:`\\ge 1`.
    workers : int
        Workers asked for, :math:`\\ge 1` (at most ``examples`` get a share).
    seed : int
        The run's Hypothesis seed.

    Returns
    -------
    list of Share
        One per worker with examples: :func:`split_examples` and :func:`worker_seed`.

    Examples
    --------
    >>> plan(3, 2, seed=0)
    [Share(index=0, seed=0, examples=2), Share(index=1, seed=8574701277337289663, examples=1)]
    """
    return [Share(k, worker_seed(seed, k), n) for k, n in enumerate(split_examples(examples, workers))]


@dataclass(frozen=True)
class ShareResult:
    """What one worker found: its :class:`Share`, the examples it ``evaluated`` (its passing
    examples, plus its shrunk counterexample if any) and whether it ``passed``.

    Examples
    --------
    >>> ShareResult(Share(1, 3, 10), evaluated=10, passed=True).as_dict()
    {'worker': 1, 'seed': 3, 'examples': 10, 'evaluated': 10, 'passed': True}
    """

    share: Share
    evaluated: int
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values (``worker`` is the share's index)."""
        return {
            "worker": self.share.index,
            "seed": self.share.seed,
            "examples": self.share.examples,
            "evaluated": self.evaluated,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class ClusterReport:
    """A run on a cluster: the merged :class:`~prefdyn.verification.runner.Report`, what each
    worker found, and ``found_by``, the index of the worker whose counterexample the report
    describes (``None`` when every worker passed).

    Examples
    --------
    >>> report = Report("dpo-gradient", "identity", 4, True, None, None, None)
    >>> ClusterReport(report, [], None).as_dict()
    {'name': 'dpo-gradient', 'found_by': None, 'workers': []}
    """

    report: Report
    shares: list[ShareResult] = field(default_factory=list)
    found_by: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The cluster side of the run as JSON-ready values (the report itself is separate)."""
        return {"name": self.report.name, "found_by": self.found_by, "workers": [s.as_dict() for s in self.shares]}


def combine(results: list[SearchResult]) -> tuple[SearchResult, int | None]:
    """The workers' searches as one: every passing example, in worker order, and the
    counterexample of the first worker (by index) that found one.

    Parameters
    ----------
    results : list of SearchResult
        One search per worker, in worker order.

    Returns
    -------
    SearchResult
        The merged search (:func:`~prefdyn.verification.runner.summarise` makes the report).
    int or None
        The position in ``results`` of the search whose counterexample is kept (``None``: none).

    Examples
    --------
    >>> from prefdyn.verification.outcome import Outcome
    >>> passing, failing = SearchResult([Outcome()]), SearchResult([Outcome()], ("x", Outcome()))
    >>> merged, first = combine([passing, failing, SearchResult([], ("y", Outcome()))])
    >>> len(merged.outcomes), merged.failure[0], first
    (2, 'x', 1)
    """
    first = next((k for k, r in enumerate(results) if r.failure is not None), None)
    outcomes = [o for r in results for o in r.outcomes]
    return SearchResult(outcomes, None if first is None else results[first].failure), first


def loaded_modules() -> list[str]:
    """The ``prefdyn`` modules loaded in this process (what a worker imports before it searches).

    Returns
    -------
    list of str
        Sorted module names, ``__main__`` modules left out (importing one would run a command).

    Examples
    --------
    >>> "prefdyn.verification.distributed" in loaded_modules()
    True
    """
    names = (n for n in list(sys.modules) if n == "prefdyn" or n.startswith("prefdyn."))
    return sorted(n for n in names if not n.endswith("__main__"))


def load_search_modules() -> list[str]:
    """Import every module a search can import: all of :data:`SEARCH_PACKAGES` and the helper
    modules of ``prefdyn`` itself (the import layers allow a search nothing else).

    Hypothesis draws some values from the literal constants of the loaded local modules; once these
    are loaded, a search loads nothing new, so what a process draws for a seed no longer depends on
    what it searched before. ``prefdyn verify`` calls this before its first search, with or without
    ``--cluster``, and so does :func:`verify_on_cluster` before it lists the driver's modules for
    the workers. A module whose optional dependencies are missing is skipped.

    Returns
    -------
    list of str
        :func:`loaded_modules` afterwards.

    Examples
    --------
    >>> "prefdyn.theory.theorems.update_rate" in load_search_modules()
    True
    """
    helpers = Path(errors.__file__).parent  # prefdyn/ itself: the helpers beside errors.py
    names = [f"prefdyn.{m.name}" for m in pkgutil.iter_modules([str(helpers)]) if not m.ispkg]
    for package in SEARCH_PACKAGES:
        names += [m.name for m in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}.")]
    for name in names:
        if not name.endswith("__main__"):
            with contextlib.suppress(ImportError):  # an optional dependency is missing
                importlib.import_module(name)
    return loaded_modules()


def default_workers(ray: ModuleType, threads: int = 1) -> int:
    """Workers that fit the cluster at once: its CPUs over the ``threads`` each task asks for.

    Parameters
    ----------
    ray : module
        The ``ray`` module yielded by :func:`prefdyn.cluster.connect`.
    threads : int
        CPUs (torch threads) per task.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> from prefdyn.cluster import connect
    >>> with connect("local:2") as ray:  # doctest: +SKIP
    ...     default_workers(ray)
    2
    """
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, cpus // max(1, threads))


def _identity(item: Item) -> tuple[str, str, str | None]:
    """Name, kind and counterexample stem of an item, as the local checks report them."""
    if isinstance(item, Conjecture):
        return item.name, "conjecture" if item.tolerance == "literal" else "statistical conjecture", item.stem
    return item, get_property(item).kind, None


def _problem(item: Item, device: str) -> tuple[Any, Callable[[Any], Outcome]]:
    """The strategy and the check of an item, as :func:`~prefdyn.verification.runner.check_theorem`
    and :func:`~prefdyn.verification.conjectures.check_conjecture` search them."""
    if isinstance(item, Conjecture):
        conjecture = item
        return conjecture.scenarios, lambda scenario: observe(conjecture, scenario, device)
    prop = get_property(item)
    return prop.examples, lambda example: prop.check(example, device)


def search_share(
    item: Item, share: Share, *, device: str = "cpu", threads: int = 1, modules: Sequence[str] = ()
) -> SearchResult:
    """One worker's search of an item (the body of a Ray task; also runs locally).

    What :func:`~prefdyn.verification.runner.check_theorem` (or
    :func:`~prefdyn.verification.conjectures.check_conjecture`) searches with the share's seed and
    examples, after importing ``modules``.

    Parameters
    ----------
    item : str or Conjecture
        A built-in theorem's id, or a conjecture.
    share : Share
        The worker's seed and examples.
    device : str
        Torch device of the simulations.
    threads : int
        Torch threads during the search.
    modules : sequence of str
        Modules to import first (the driver's :func:`loaded_modules`).

    Returns
    -------
    SearchResult
        The passing outcomes, and the shrunk counterexample if the worker found one.

    Examples
    --------
    >>> found = search_share("dpo-gradient", Share(0, 0, 2))
    >>> len(found.outcomes), found.failure
    (2, None)
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:  # a module this worker's prefdyn lacks: nothing to draw from
            continue
    strategy, evaluate = _problem(item, device)
    return search(strategy, evaluate, examples=share.examples, seed=share.seed, threads=threads)


def _gather(ray: ModuleType, ref: Any, share: Share) -> SearchResult:
    """A task's result; a :class:`~prefdyn.errors.PrefdynError` raised in the worker is raised as
    itself, a worker lost beyond its retries as a one-line :class:`~prefdyn.errors.PrefdynError`."""
    try:
        result: SearchResult = ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, PrefdynError):
            raise err.cause from None
        raise
    except ray.exceptions.RayError as err:
        raise PrefdynError(
            f"cluster: worker {share.index} (seed {share.seed}) was lost after {MAX_RETRIES} retries "
            f"({type(err).__name__})"
        ) from None
    return result


def verify_on_cluster(
    ray: ModuleType,
    items: Sequence[Item],
    *,
    examples: int = 100,
    seed: int = 0,
    workers: int | None = None,
    device: str = "cpu",
    out: Path | None = None,
    threads: int = 1,
    on_share: Callable[[ShareResult], None] | None = None,
) -> Generator[ClusterReport, None, None]:
    """Check every item on ``examples`` Hypothesis examples, each split over ``workers`` Ray tasks.

    Every item's tasks are submitted at once (Ray runs them as CPUs free up, in about that order);
    the driver takes the items in order, waits for all tasks of one (:func:`search_share`), merges
    their searches (:func:`combine`) and yields the report before the next.

    Parameters
    ----------
    ray : module
        The ``ray`` module yielded by :func:`prefdyn.cluster.connect`.
    items : sequence of str or Conjecture
        Built-in theorems' ids (:func:`~prefdyn.verification.runner.check_theorem`) and conjectures
        (:func:`~prefdyn.verification.conjectures.check_conjecture`).
    examples : int
        Examples of each item, split by :func:`plan`.
    seed : int
        The run's seed; worker :math:`k` searches with :func:`worker_seed` ``(seed, k)``.
    workers : int or None
        Tasks per item (default: :func:`default_workers`).
    device : str
        Must be ``"cpu"``: the workers simulate on their CPUs.
    out : Path or None
        Folder of the counterexample TOML files, written here, by the driver.
    threads : int
        Torch threads (and Ray CPUs) of each task.
    on_share : callable or None
        Called at the driver with each task's :class:`ShareResult` as it arrives (progress).

    Yields
    ------
    ClusterReport
        Per item, in order: the report a local search of the merged examples gives, and each
        worker's share of it.

    Raises
    ------
    PrefdynError
        A bad argument or an unknown theorem id (before any task starts), an error raised by a
        worker, or a worker lost beyond :data:`MAX_RETRIES` retries.

    Examples
    --------
    >>> from prefdyn.cluster import connect
    >>> with connect("local:2") as ray:  # doctest: +SKIP
    ...     (run,) = verify_on_cluster(ray, ["dpo-gradient"], examples=10, workers=2)
    >>> run.report.passed, run.report.examples, [s.share.examples for s in run.shares]  # doctest: +SKIP
    (True, 10, [5, 5])
    """
    modules = load_search_modules()  # what a local `prefdyn verify` has loaded when it searches
    require(device == "cpu", "device", f"must be cpu on a cluster (the workers simulate on their CPUs), not {device}")
    require(threads >= 1, "threads", f"must be >= 1, not {threads}")
    identities = [_identity(item) for item in items]  # an unknown theorem id fails here, before any task
    shares = plan(examples, default_workers(ray, threads) if workers is None else workers, seed=seed)
    task = ray.remote(num_cpus=threads, max_retries=MAX_RETRIES, retry_exceptions=False)(search_share)
    modules_ref = ray.put(modules)
    submitted = [
        [task.remote(item_ref, share, device=device, threads=threads, modules=modules_ref) for share in shares]
        for item_ref in [ray.put(item) for item in items]
    ]
    unread = [ref for refs in submitted for ref in refs]
    try:
        for (name, kind, stem), refs in zip(identities, submitted, strict=True):
            pending, found = dict(zip(refs, shares, strict=True)), {}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    share = pending.pop(ref)
                    found[share.index] = _gather(ray, ref, share)
                    unread.remove(ref)
                    if on_share is not None:
                        on_share(_share_result(share, found[share.index]))
            results = [found[share.index] for share in shares]
            merged, first = combine(results)
            report = summarise(name, kind, merged, out, stem)
            yield ClusterReport(report, [_share_result(s, r) for s, r in zip(shares, results, strict=True)], first)
    finally:  # stopped early (an error, or the caller stopped reading): no task keeps running
        for ref in unread:
            with contextlib.suppress(Exception):  # already finished, or the cluster is gone
                ray.cancel(ref, force=True)


def check_on_cluster(ray: ModuleType, item: Item, **options: Any) -> ClusterReport:
    """Check one item on a cluster: :func:`verify_on_cluster` of ``[item]``.

    Parameters
    ----------
    ray : module
        The ``ray`` module yielded by :func:`prefdyn.cluster.connect`.
    item : str or Conjecture
        A built-in theorem's id or a conjecture.
    **options
        The keywords of :func:`verify_on_cluster`.

    Returns
    -------
    ClusterReport
        The merged report and each worker's share of it.

    Examples
    --------
    >>> from prefdyn.cluster import connect
    >>> with connect("local:2") as ray:  # doctest: +SKIP
    ...     check_on_cluster(ray, "dpo-gradient", examples=4).report.examples
    4
    """
    (run,) = verify_on_cluster(ray, [item], **options)
    return run


def _share_result(share: Share, result: SearchResult) -> ShareResult:
    evaluated = len(result.outcomes) + (result.failure is not None)
    return ShareResult(share, evaluated, result.failure is None)
