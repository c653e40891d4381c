r"""A persona corpus embedded on a Ray cluster: the statements that miss the cache, in shards, on actors.

:func:`embed_on_cluster` computes exactly what :func:`~.corpus.embed_corpus` computes -- the
features :math:`g(x)` (and :math:`\ell(x)` for a causal LM) of every behaviour and the reference
head -- but the model runs on ``W`` Ray actors instead of this process:

1. :func:`plan_embedding` runs :func:`~.corpus.embed_corpus` once with a stand-in for the model,
   which records the prompts of every behaviour that misses the cache (and whether the head does)
   instead of computing them: the cache keys, the prompt template and the batch size are the
   local path's own, not a copy of them.
2. Each behaviour's prompts are put in the order the local path batches them
   (:meth:`~.embedders.Embedder.batch_order`: by token count, counted by the model folder's
   tokenizer, loaded here without the weights), and :func:`shard_texts` cuts that order into
   contiguous shards of whole batches (``shard_size`` rounded down to a multiple of the plan's
   batch size B, at least one batch), never across two behaviours; so each shard is embedded
   (:meth:`~.embedders.Embedder.embed_in_batches`) in exactly the batches the local path uses,
   and its rows are put back in file order here (:func:`~.embedders.restore_order`).
3. :func:`run_on_actors` hands the shards to actors that each load the model once (in their
   ``__init__``), one shard at a time as each actor becomes free, so fast and slow workers
   balance. An actor is restarted once when its process dies (``max_restarts=1``) and its task
   retried (``max_task_retries=1``); a shard whose actor is lost for good is given to another.
4. The arrays travel back to the driver, which alone writes the cache: :func:`~.corpus.embed_corpus`
   runs again with a stand-in that serves the arrays computed on the cluster, so every entry is
   written by the local path's own code, under the same keys and in the same format.

A later run on one machine, with or without the model, is then served from the cache. Workers must
see the same model folder (``--model``) as the driver: each actor's model identity (config and
weight files, :attr:`~.embedders.Embedder.identity`) is compared with the driver's before it gets
any work, so an entry can never be filled by another model. Ray is reached only through
:func:`prefdyn.cluster.connect`; importing this module does not import Ray.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, cast

import torch

from prefdyn.errors import PrefdynError, require

from .batching import MAX_BATCH
from .cache import EmbeddingCache
from .corpus import EmbeddedCorpus, check_template, embed_corpus
from .embedders import AnswerHead, Embedder, Features, resolve_embedder, restore_order
from .loader import PersonaCorpus

#: statements per shard (rounded down to whole batches): four batches of the largest batch size
DEFAULT_SHARD = 4 * MAX_BATCH
#: times a shard is given to another actor after its actor was lost for good
RESUBMITS = 2


# --- what misses the cache ------------------------------------------------------------------------


class _MemoCache(EmbeddingCache):
    """The cache, read once per key. While planning (not ``writable``) an entry put is only noted, so
    that a later behaviour of the same key is a hit, as it is in a real run; once ``writable``, puts
    are written through."""

    def __init__(self, inner: EmbeddingCache) -> None:
        self.inner = inner
        self.root = inner.root
        self.read: dict[str, dict[str, torch.Tensor] | None] = {}
        self.planned: dict[str, dict[str, torch.Tensor]] = {}
        self.writable = False

    def open(self) -> None:
        """Start writing: what planning noted is forgotten, puts go to the cache."""
        self.planned.clear()
        self.writable = True

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        if key in self.planned:
            return self.planned[key]
        if key not in self.read:
            self.read[key] = self.inner.get(key)
        return self.read[key]

    def put(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        if not self.writable:
            self.planned[key] = tensors
            return
        self.inner.put(key, tensors)
        self.read[key] = tensors


class _StandIn(Embedder):
    """The model's place in :func:`~.corpus.embed_corpus`: same identity and template, no weights."""

    def __init__(self, real: Embedder) -> None:  # no super().__init__: nothing is resolved or loaded
        self.real = real
        self.path = real.path
        self.device = real.device
        self.name = real.name
        self.default_template = real.default_template
        self.__dict__["identity"] = real.identity  # the cached property, filled in

    def footprint(self) -> int | None:
        return self.real.footprint()

    @property
    def tokenizer(self) -> Any:
        return self.real.tokenizer

    def head(self, responses: tuple[str, str]) -> AnswerHead:
        raise NotImplementedError

    def embed_in_batches(self, texts: Sequence[str], responses: tuple[str, str], batch_size: int) -> Features:
        raise NotImplementedError


class _Recorder(_StandIn):
    """Records what would be computed and returns empty placeholders (never written: the cache is
    read-only during planning)."""

    def __init__(self, real: Embedder) -> None:
        super().__init__(real)
        self.calls: list[tuple[str, ...]] = []
        self.heads: list[tuple[str, str]] = []

    def head(self, responses: tuple[str, str]) -> AnswerHead:
        self.heads.append(responses)
        return AnswerHead(torch.zeros(2, 0), vocab_size=2, token_ids=None)

    def features(self, texts: Sequence[str], responses: tuple[str, str], batch_size: int = MAX_BATCH) -> Features:
        self.calls.append(tuple(texts))
        return Features(torch.zeros(len(texts), 0), None)


class _Replay(_StandIn):
    """Serves, call by call, the features and the head computed elsewhere."""

    def __init__(self, real: Embedder, calls: Sequence[tuple[str, ...]], features: Sequence[Features]) -> None:
        super().__init__(real)
        self.calls, self.results, self.served = list(calls), list(features), 0
        self.heads: dict[tuple[str, str], AnswerHead] = {}

    def head(self, responses: tuple[str, str]) -> AnswerHead:
        return self.heads[responses]

    def features(self, texts: Sequence[str], responses: tuple[str, str], batch_size: int = MAX_BATCH) -> Features:
        index, self.served = self.served, self.served + 1
        if index >= len(self.calls) or tuple(texts) != self.calls[index]:
            raise RuntimeError("the corpus or the cache changed between planning and writing")
        return self.results[index]


@dataclass
class EmbeddingPlan:
    """What :func:`~.corpus.embed_corpus` would compute for a corpus (see :func:`plan_embedding`).

    ``calls``: the prompts of each behaviour that misses the cache, in the order the local path
    embeds them; ``batch_size``: the batch size it would use; ``heads``: the (canonical) answer
    pairs whose reference head misses (at most one); ``store``: the cache, read once per key
    (``None`` under ``use_cache=False``), to pass on to :func:`~.corpus.embed_corpus`.
    """

    embedder: Embedder
    template: str
    use_cache: bool
    batch_size: int
    calls: list[tuple[str, ...]]
    heads: list[tuple[str, str]]
    store: _MemoCache | None = field(repr=False)

    @property
    def statements(self) -> int:
        """Statements to embed (the prompts of :attr:`calls`)."""
        return sum(len(c) for c in self.calls)

    def embed(
        self, corpus: PersonaCorpus, embedder: Embedder, progress: Callable[[str], None] | None = None
    ) -> EmbeddedCorpus:
        """``corpus`` embedded by :func:`~.corpus.embed_corpus` with this plan's template, batch size
        and cache (entries read by the plan are not read again; missing ones are written).

        Parameters
        ----------
        corpus : PersonaCorpus
            The corpus the plan was made for.
        embedder : Embedder
            The model (the plan's own, or a stand-in serving features computed elsewhere).
        progress : callable, optional
            ``progress(name)`` after each behaviour.

        Returns
        -------
        EmbeddedCorpus
            As :func:`~.corpus.embed_corpus` returns it.

        Examples
        --------
        >>> plan = plan_embedding(corpus, embedder)  # doctest: +SKIP
        >>> plan.embed(corpus, embedder).cache_hits  # doctest: +SKIP
        0
        """
        if self.store is not None:
            self.store.open()
        return embed_corpus(
            corpus,
            embedder,
            template=self.template,
            cache=self.store,
            use_cache=self.use_cache,
            batch_size=self.batch_size,
            progress=progress,
        )


def plan_embedding(
    corpus: PersonaCorpus,
    embedder: Embedder,
    *,
    template: str | None = None,
    cache: EmbeddingCache | None = None,
    use_cache: bool = True,
    batch_size: int | None = None,
) -> EmbeddingPlan:
    """The statements of ``corpus`` that miss the cache, found by a dry run of :func:`~.corpus.embed_corpus`.

    The dry run passes :func:`~.corpus.embed_corpus` a stand-in with ``embedder``'s identity and
    default template that records each call instead of computing it, and a read-only view of the
    cache; nothing is loaded, computed or written. Each cache entry is read once: the plan's
    ``store`` serves it again to the run that follows.

    Parameters
    ----------
    corpus : PersonaCorpus
        The loaded behaviours.
    embedder : Embedder
        The model (only its identity and default template are used; it is not loaded).
    template : str, optional
        Prompt template (default: the model's).
    cache : EmbeddingCache, optional
        The cache (default: ``$PREFDYN_CACHE`` or ``~/.cache/prefdyn``).
    use_cache : bool
        ``False``: every behaviour is planned, and nothing will be written.
    batch_size : int, optional
        Batch size of the embedding calls (default: chosen by memory on this machine,
        :meth:`~.embedders.Embedder.batch_size`); the plan keeps it for the run that follows.

    Returns
    -------
    EmbeddingPlan
        The prompts per missing behaviour, whether the head misses, and the cache view.

    Examples
    --------
    >>> plan = plan_embedding(load_persona("shared/data/anthropic-evals-persona"),
    ...                       resolve_embedder("minilm", "cpu"))  # doctest: +SKIP
    >>> plan.statements  # doctest: +SKIP
    135000
    """
    template = check_template(template or embedder.default_template)
    store = _MemoCache(cache or EmbeddingCache()) if use_cache else None
    recorder = _Recorder(embedder)
    if batch_size is None:
        batch_size = embedder.batch_size()
    embed_corpus(corpus, recorder, template=template, cache=store, use_cache=use_cache, batch_size=batch_size)
    return EmbeddingPlan(embedder, template, use_cache, batch_size, recorder.calls, recorder.heads, store)


# --- shards and actors ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """Statements ``start .. start + len(texts)`` of call ``call`` of a plan."""

    call: int
    start: int
    texts: tuple[str, ...]


def shard_texts(calls: Sequence[Sequence[str]], size: int = DEFAULT_SHARD) -> list[Shard]:
    """Contiguous shards of at most ``size`` statements of each call, in order; none spans two calls.

    Parameters
    ----------
    calls : sequence of sequences of str
        The prompts of each embedding call (one per behaviour), in the order they are batched.
    size : int
        Most statements per shard (>= 1; a multiple of the batch size keeps every batch whole).

    Returns
    -------
    list of Shard
        The shards, call by call; concatenating a call's shards gives the call back.

    Examples
    --------
    >>> [(s.call, s.start, len(s.texts)) for s in shard_texts([["a"] * 5, ["b"] * 2], size=2)]
    [(0, 0, 2), (0, 2, 2), (0, 4, 1), (1, 0, 2)]
    """
    require(size >= 1, "shard_size", f"must be >= 1, not {size}")
    return [
        Shard(i, start, tuple(texts[start : start + size]))
        for i, texts in enumerate(calls)
        for start in range(0, len(texts), size)
    ]


class EmbedWorker:
    """A Ray actor's state: one embedder, loaded once when the actor starts.

    Parameters
    ----------
    model : str or None
        ``--model`` (resolved on the worker: its own copy of the bundled model, or the folder).
    device : str
        ``"cpu"`` or ``"cuda"`` (an actor sees its own GPU as ``cuda``).

    Examples
    --------
    >>> actor = ray.remote(num_cpus=1)(EmbedWorker).remote(None, "cpu")  # doctest: +SKIP
    >>> ray.get(actor.ready.remote())  # doctest: +SKIP
    'SentenceEmbedder:all-MiniLM-L6-v2:...'
    """

    def __init__(self, model: str | None, device: str) -> None:
        self.refused: PrefdynError | None = None
        try:
            self.embedder = resolve_embedder(model, device)
            cast(Any, self.embedder).model  # noqa: B018 - both kinds' weights: loaded now, once per actor
        except PrefdynError as err:  # bad input: said by ready(), not lost in a dead actor's log
            self.refused = err

    def ready(self) -> str:
        """The model identity (what the driver compares with its own).

        Raises
        ------
        PrefdynError
            The worker could not resolve the model or the device.
        """
        if self.refused is not None:
            raise self.refused
        return self.embedder.identity

    def embed_in_batches(self, texts: Sequence[str], responses: tuple[str, str], batch_size: int) -> Features:
        """``texts`` embedded in consecutive batches, as :meth:`~.embedders.Embedder.embed_in_batches`."""
        return self.embedder.embed_in_batches(list(texts), responses, batch_size)

    def head(self, responses: tuple[str, str]) -> AnswerHead:
        """The reference head of the pair, as :meth:`~.embedders.Embedder.head`."""
        return self.embedder.head(responses)


def _first_line(err: BaseException) -> str:
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)


def run_on_actors(
    ray: ModuleType,
    actors: Sequence[Any],
    jobs: Sequence[tuple[str, tuple[Any, ...]]],
    *,
    ready: Callable[[int, Any], None] | None = None,
    resubmits: int = RESUBMITS,
    done: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """Results of ``jobs`` run on ``actors``, each job given to the next free actor.

    Every actor first runs its ``ready()`` method; it gets jobs, one at a time, once that returned
    (so an actor the cluster cannot place yet never holds work back). A job whose actor died for
    good (after Ray's own restart and retry) is given to another actor, at most ``resubmits``
    times. An exception raised by a job's code is raised here; a :class:`PrefdynError` of a worker
    keeps its one-line message.

    Parameters
    ----------
    ray : module
        The ``ray`` module, connected (:func:`prefdyn.cluster.connect`).
    actors : sequence of actor handles
        Actors with a ``ready()`` method and the jobs' methods.
    jobs : sequence of (str, tuple)
        ``(method, args)``: ``actor.method.remote(*args)``.
    ready : callable, optional
        ``ready(actor_index, value)`` with the value of each actor's ``ready()``; it may raise to
        stop the run.
    resubmits : int
        Times a job is given to another actor after losing its own.
    done : callable, optional
        ``done(job_index, result)`` as each job finishes.

    Returns
    -------
    list
        The jobs' results, in the order of ``jobs``.

    Raises
    ------
    PrefdynError
        Every actor was lost, a job was lost more than ``resubmits`` times, or a worker raised one.

    Examples
    --------
    >>> with connect("local:2") as ray:  # doctest: +SKIP
    ...     actors = [ray.remote(Doubler).remote() for _ in range(2)]
    ...     run_on_actors(ray, actors, [("double", (i,)) for i in range(4)])
    [0, 2, 4, 6]
    """
    from ray.exceptions import ActorDiedError, RayActorError, RayTaskError

    results: list[Any] = [None] * len(jobs)
    queue, losses, finished = deque(range(len(jobs))), [0] * len(jobs), 0
    inflight: dict[Any, tuple[int, int | None]] = {actors[i].ready.remote(): (i, None) for i in range(len(actors))}
    idle: deque[int] = deque()
    last_loss = ""

    def dispatch() -> None:
        while queue and idle:
            actor, job = idle.popleft(), queue.popleft()
            method, args = jobs[job]
            inflight[getattr(actors[actor], method).remote(*args)] = (actor, job)

    while finished < len(jobs):
        if not inflight:
            raise PrefdynError(f"cluster: every worker was lost ({last_loss})")
        (ref,), _ = ray.wait(list(inflight), num_returns=1)
        actor, job = inflight.pop(ref)
        try:
            value = ray.get(ref)
        except RayTaskError as err:
            if isinstance(err.cause, PrefdynError):  # bad input found by a worker: its one line
                raise PrefdynError(_first_line(err.cause)) from None
            raise
        except RayActorError as err:
            last_loss = f"{type(err).__name__}: {_first_line(err)}"
            if not isinstance(err, ActorDiedError):
                idle.append(actor)  # unavailable for now, not dead: it may take the next job
            if job is not None:
                losses[job] += 1
                require(losses[job] <= resubmits, "cluster", f"job {job} was lost {losses[job]} times ({last_loss})")
                queue.appendleft(job)
            dispatch()
            continue
        if job is None:
            if ready is not None:
                ready(actor, value)
        else:
            results[job], finished = value, finished + 1
            if done is not None:
                done(job, value)
        idle.append(actor)
        dispatch()
    return results


# --- the whole run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterRun:
    """What :func:`embed_on_cluster` did.

    ``corpus``: the embedded corpus (as :func:`~.corpus.embed_corpus` returns it); ``statements``:
    statements embedded on the cluster (0: all from the cache); ``shards``: their shards;
    ``workers``: actors started; ``device``: theirs; ``seconds``: wall time on the cluster, from
    starting the actors to the last array back (0 when nothing was computed).
    """

    corpus: EmbeddedCorpus
    statements: int
    shards: int
    workers: int
    device: str
    seconds: float


def _device(ray: ModuleType, device: str | None) -> str:
    """The actors' device: ``cuda`` or ``cpu`` (``None``/``auto``: cuda when the cluster has a GPU)."""
    name = "auto" if device is None else str(device)
    kind = name.split(":")[0]
    require(kind in ("auto", "cpu", "cuda"), "device", "must be cpu, cuda or auto")
    gpus = float(ray.cluster_resources().get("GPU", 0))
    if kind == "auto":
        return "cuda" if gpus >= 1 else "cpu"
    require(kind == "cpu" or gpus >= 1, "device", "CUDA was asked for but the cluster has no GPU")
    return kind


def _workers(ray: ModuleType, device: str, workers: int | None) -> int:
    """``workers``, or one per GPU (cuda) or CPU (cpu) of the cluster."""
    if workers is not None:
        require(workers >= 1, "workers", f"must be >= 1, not {workers}")
        return int(workers)
    resources = ray.cluster_resources()
    count = int(resources.get("GPU" if device == "cuda" else "CPU", 0))
    require(count >= 1, "workers", f"the cluster has no {'GPU' if device == 'cuda' else 'CPU'} to run a worker on")
    return count


def _compute(
    ray: ModuleType,
    plan: EmbeddingPlan,
    responses: tuple[str, str],
    model: str | None,
    device: str | None,
    workers: int | None,
    shard_size: int,
    progress: Callable[[int], None] | None,
) -> tuple[list[Features], dict[tuple[str, str], AnswerHead], int, int, str]:
    orders = [plan.embedder.batch_order(texts) for texts in plan.calls]
    whole_batches = max(1, shard_size // plan.batch_size) * plan.batch_size
    shards = shard_texts([[texts[i] for i in o] for texts, o in zip(plan.calls, orders, strict=True)], whole_batches)
    jobs: list[tuple[str, tuple[Any, ...]]] = [
        ("embed_in_batches", (s.texts, responses, plan.batch_size)) for s in shards
    ]
    jobs += [("head", (pair,)) for pair in plan.heads]
    kind = _device(ray, device)
    count = min(_workers(ray, kind, workers), len(jobs))
    resources = {"num_gpus": 1} if kind == "cuda" else {"num_cpus": 1}
    actor_class = ray.remote(max_restarts=1, max_task_retries=1, **resources)(EmbedWorker)
    actors = [actor_class.remote(model, kind) for _ in range(count)]
    identity = plan.embedder.identity

    def check(actor: int, value: Any) -> None:
        require(
            value == identity,
            "model",
            f"worker {actor} loads another model ({value}) than this machine ({identity}); "
            "give every node the same model folder",
        )

    def shard_done(job: int, _: Any) -> None:
        if progress is not None and job < len(shards):
            progress(len(shards[job].texts))

    try:
        results = run_on_actors(ray, actors, jobs, ready=check, done=shard_done)
    finally:
        for actor in actors:
            ray.kill(actor)
    parts: list[list[Features]] = [[] for _ in plan.calls]
    for s, result in zip(shards, results, strict=False):
        parts[s.call].append(result)
    features = []
    for pieces, order in zip(parts, orders, strict=True):
        lse = [p.lse_other for p in pieces]
        joined = Features(
            torch.cat([p.g for p in pieces]),
            None if any(x is None for x in lse) else torch.cat([x for x in lse if x is not None]),
        )
        features.append(restore_order(joined, order))
    heads = dict(zip(plan.heads, results[len(shards) :], strict=True))
    return features, heads, len(shards), count, kind


def embed_on_cluster(
    corpus: PersonaCorpus,
    cluster: str | ModuleType,
    *,
    model: str | None = None,
    device: str | None = None,
    workers: int | None = None,
    template: str | None = None,
    cache: EmbeddingCache | None = None,
    use_cache: bool = True,
    batch_size: int | None = None,
    shard_size: int = DEFAULT_SHARD,
    progress: Callable[[int], None] | None = None,
) -> ClusterRun:
    """``corpus`` embedded as by :func:`~.corpus.embed_corpus`, the missing statements on Ray actors.

    The statements that miss the cache (:func:`plan_embedding`), in the order the local path
    batches them, are cut into shards of whole batches (:func:`shard_texts`) and embedded by
    ``workers`` actors, each holding the model once (:func:`run_on_actors`); the arrays come back
    here, and this process alone writes them into the cache, by :func:`~.corpus.embed_corpus`
    itself: same keys, same format, and the values of a local run on the same device (the sentence
    encoder's to the last bit in the tests: each shard holds some of the local run's batches).
    When nothing misses, no actor is started (and no cluster connected).

    Parameters
    ----------
    corpus : PersonaCorpus
        The loaded behaviours.
    cluster : str or module
        A ``--cluster`` address (:func:`prefdyn.cluster.parse_address`), connected for this call
        only when something must be computed; or the ``ray`` module, already connected.
    model : str, optional
        ``--model``: ``minilm`` (default) or a model folder that every node holds at this path.
    device : str, optional
        ``cpu``, ``cuda`` (one GPU per actor) or ``auto``/``None``: cuda when the cluster has GPUs.
    workers : int, optional
        Actors to start (default: the cluster's GPUs for cuda, else its CPUs; never more than the
        shards).
    template : str, optional
        Prompt template (default: the model's).
    cache : EmbeddingCache, optional
        The cache (default: ``$PREFDYN_CACHE`` or ``~/.cache/prefdyn``).
    use_cache : bool
        ``False``: everything is computed and nothing written (``--no-cache``).
    batch_size : int, optional
        Batch size of the embedding calls (default: chosen by memory on this machine, as
        :func:`~.corpus.embed_corpus`).
    shard_size : int
        Most statements per shard, rounded down to a multiple of the batch size (at least one
        batch).
    progress : callable, optional
        ``progress(n)`` after each shard, with its number of statements.

    Returns
    -------
    ClusterRun
        The embedded corpus and what ran where.

    Raises
    ------
    PrefdynError
        A bad address, device or worker count, Ray missing, the cluster unreachable, a worker
        loading another model, or every worker lost.

    Examples
    --------
    >>> run = embed_on_cluster(load_persona("shared/data/anthropic-evals-persona"),
    ...                        "ray://head:10001", device="cuda", model="/models/llama-7b")  # doctest: +SKIP
    >>> run.statements, run.workers  # doctest: +SKIP
    (135000, 8)
    """
    from prefdyn.cluster import connect, parse_address

    if isinstance(cluster, str):
        parse_address(cluster)
    if device is not None:  # the driver never loads the model: its device is checked on the cluster
        require(str(device).split(":")[0] in ("auto", "cpu", "cuda"), "device", "must be cpu, cuda or auto")
    if workers is not None:
        require(workers >= 1, "workers", f"must be >= 1, not {workers}")
    require(shard_size >= 1, "shard_size", f"must be >= 1, not {shard_size}")
    embedder = resolve_embedder(model, "cpu")  # identity and template only
    plan = plan_embedding(corpus, embedder, template=template, cache=cache, use_cache=use_cache, batch_size=batch_size)
    if not plan.calls and not plan.heads:
        replay = _Replay(embedder, [], [])
        return ClusterRun(plan.embed(corpus, replay), 0, 0, 0, "none", 0.0)
    start = time.perf_counter()
    if isinstance(cluster, str):
        with connect(cluster) as ray:
            computed = _compute(ray, plan, corpus.responses, model, device, workers, shard_size, progress)
    else:
        computed = _compute(cluster, plan, corpus.responses, model, device, workers, shard_size, progress)
    seconds = time.perf_counter() - start
    features, heads, shards, count, kind = computed
    replay = _Replay(embedder, plan.calls, features)
    replay.heads = heads
    return ClusterRun(plan.embed(corpus, replay), plan.statements, shards, count, kind, seconds)
