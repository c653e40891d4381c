"""``prefdyn persona embed``: fill the on-disk embedding cache for a corpus, here or on a Ray cluster.

Registered by :mod:`prefdyn.cli.persona` with the options every persona action takes. Without
``--cluster`` the corpus is embedded in this process, as every other action does; with
``--cluster ADDRESS`` (:mod:`prefdyn.cluster`) the statements that miss the cache are embedded by
``--workers`` Ray actors that each load the model once
(:func:`prefdyn.numerics.persona.distributed.embed_on_cluster`), and this process writes the same
cache entries a local run writes. Either way the summary says how many statements were computed
and how fast; later actions read the cache offline.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ._persona_options import common_options, finish, load_corpus, with_out
from ._types import cluster_address, positive


def _embed(args: argparse.Namespace) -> int:
    from prefdyn.errors import require
    from prefdyn.formatting import sig
    from prefdyn.progress import Progress

    require(args.workers is None or args.cluster is not None, "--workers", "needs --cluster")
    if args.cluster is not None:
        from prefdyn.cluster import available, connect

        if not available():
            with connect(args.cluster):  # raises its one-line "Ray is not installed" error
                pass
    corpus = load_corpus(args)
    total = sum(len(b.records) for b in corpus.behaviors)
    start = time.perf_counter()
    doc: dict[str, Any] = {"cluster": args.cluster}
    if args.cluster is None:
        from prefdyn.numerics.persona import resolve_embedder
        from prefdyn.numerics.persona.distributed import plan_embedding
        from prefdyn.threads import configure_threads

        configure_threads(args.threads, work=None)  # an encoder: large work
        embedder = resolve_embedder(args.model, args.device)
        plan = plan_embedding(corpus, embedder, template=args.template, use_cache=not args.no_cache)
        progress = Progress("persona embed", "embedding", len(corpus.behaviors), "behaviors")
        data = plan.embed(corpus, embedder, progress=lambda name: progress.update(1, name))
        progress.close()
        computed = plan.statements
        where = f"here ({embedder.device})"
        doc |= {"workers": None, "shards": None, "device": str(embedder.device)}
    else:
        from prefdyn.numerics.persona.distributed import embed_on_cluster

        progress = Progress("persona embed", "embedding", None, "statements")
        run = embed_on_cluster(
            corpus,
            args.cluster,
            model=args.model,
            device=args.device,
            workers=args.workers,
            template=args.template,
            use_cache=not args.no_cache,
            progress=lambda n: progress.update(n),
        )
        progress.close()
        data, computed = run.corpus, run.statements
        where = f"on {run.workers} worker(s) of {args.cluster} ({run.device}, {run.shards} shards)"
        doc |= {"workers": run.workers, "shards": run.shards, "device": run.device, "cluster_seconds": run.seconds}
    seconds = time.perf_counter() - start
    rate = computed / seconds if computed and seconds > 0 else None
    dim = data.behaviors[0].g.shape[-1] if data.behaviors else 0
    doc |= {
        "model": data.model,
        "template": data.template,
        "responses": list(data.responses),
        "behaviors": [{"name": b.name, "n": len(b.sign), "dim": int(b.g.shape[-1])} for b in data.behaviors],
        "cache_hits": data.cache_hits,
        "statements": total,
        "statements_computed": computed,
        "seconds": seconds,
        "statements_per_second": rate,
    }
    text = (
        f"{len(data.behaviors)} behaviour(s), {total} statements, d = {dim}, model {data.model}: "
        f"{data.cache_hits} behaviour(s) from the cache; {computed} statements computed {where} "
        f"in {seconds:.1f} s{f' ({sig(rate)} statements/s)' if rate else ''}\n"
    )
    print(
        f"persona embed: {computed} statements computed, {data.cache_hits} behaviour(s) from the cache", file=sys.stderr
    )
    return finish(args, doc, text)


def register_embed(actions: Any) -> None:
    """Add the ``embed`` action (with the options every persona action takes, ``--cluster`` and ``--workers``)."""
    p = actions.add_parser("embed", help="fill the embedding cache for a corpus, here or on a Ray cluster (--cluster)")
    common_options(p)
    g = p.add_argument_group("Ray cluster (the cluster extra: pip install 'prefdyn[cluster]')")
    g.add_argument(
        "--cluster",
        type=cluster_address,
        default=None,
        metavar="ADDRESS",
        help="embed on Ray actors: ray://HOST:PORT, auto (RAY_ADDRESS), local or local:N (a private instance)",
    )
    g.add_argument(
        "--workers",
        type=positive(int),
        default=None,
        metavar="N",
        help="actors, each holding the model once (default: the cluster's GPUs with cuda, else its CPUs)",
    )
    p.set_defaults(func=with_out(_embed))
