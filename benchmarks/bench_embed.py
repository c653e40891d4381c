"""Benchmark: persona embedding statements per second, prefdyn against ``SentenceTransformer.encode``.

Run as a script (never a test; no wall-clock number gates CI)::

    python benchmarks/bench_embed.py [--data PATH] [--statements 2000] [--repeats 3]
        [--threads N] [--json]

The first ``--statements`` persona statements (whole lines of the data set's files, in order;
default data: the full set beside the repository, else the excerpt shipped with the tests) are
formatted with the model's prompt template and embedded by all-MiniLM-L6-v2 on the CPU, the model
loaded once. Measured in one process, interleaved (A, B, C, D, A, B, ...) so that the load of a
shared machine falls on every row alike, best of ``--repeats``:

* **encode, default batch**: ``SentenceTransformer.encode(texts)`` at its own default batch size;
* **encode, prefdyn's batch**: the same at the batch size prefdyn chooses by memory
  (:meth:`prefdyn.numerics.persona.embedders.Embedder.batch_size`);
* **prefdyn cold**: :func:`prefdyn.numerics.persona.embed_corpus` into an empty cache folder
  (prompt formatting, embedding, and the sealed cache entry of each behaviour written);
* **prefdyn cached**: the same call again on the last cold run's folder (served from the cache).

Each row also reports the tokens its batches hold, padding included (``tokens_with_padding``,
per pass), against the statements' own tokens (``tokens``): the work the encoder does.

Both sides run on the same torch thread count (``--threads``, default prefdyn's own choice for an
encoder, :func:`prefdyn.threads.configure_threads`), which is reported.
"""

from __future__ import annotations

import argparse
import inspect
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from prefdyn.numerics.persona import embed_corpus, load_persona, resolve_embedder
from prefdyn.numerics.persona.cache import EmbeddingCache
from prefdyn.numerics.persona.corpus import format_prompt
from prefdyn.threads import configure_threads

REPOSITORY = Path(__file__).resolve().parents[1]
FULL_DATA = REPOSITORY.parent / "shared" / "data" / "anthropic-evals-persona"
EXCERPT = REPOSITORY / "tests" / "data" / "anthropic-evals-persona"


def first_statements(data: Path, count: int, folder: Path) -> Path:
    """A folder holding the first ``count`` lines of ``data``'s files, file by file, in name order."""
    folder.mkdir(parents=True, exist_ok=True)
    left = count
    for source in sorted(data.glob("*.jsonl")):
        if left <= 0:
            break
        lines = source.read_text().splitlines()[:left]
        (folder / source.name).write_text("\n".join(lines) + "\n")
        left -= len(lines)
    return folder


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=FULL_DATA if FULL_DATA.is_dir() else EXCERPT)
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    threads = configure_threads(args.threads, work=None)
    with tempfile.TemporaryDirectory(prefix="prefdyn-bench-embed-") as folder:
        results = measure(args, Path(folder), threads)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        print(f"{key}: {value}")


def measure(args: argparse.Namespace, scratch: Path, threads: int) -> dict[str, object]:
    """The interleaved timings of the module docstring, in ``scratch``."""
    corpus = load_persona(first_statements(args.data, args.statements, scratch / "data"))
    embedder = resolve_embedder(None, "cpu")
    template = embedder.default_template
    texts = [format_prompt(template, r) for b in corpus.behaviors for r in b.records]
    model, batch = embedder.model, embedder.batch_size()
    default_batch = inspect.signature(model.encode).parameters["batch_size"].default
    model.encode(texts[:batch], batch_size=batch)  # warm-up

    folders: list[Path] = []

    def cold() -> None:
        folders.append(scratch / f"cache-{len(folders)}")
        embed_corpus(corpus, embedder, cache=EmbeddingCache(folders[-1]))

    rows: dict[str, Callable[[], object]] = {
        "encode_default_batch": lambda: model.encode(texts, convert_to_tensor=True),
        "prefdyn_cold": cold,
        "encode_prefdyn_batch": lambda: model.encode(texts, batch_size=batch, convert_to_tensor=True),
        "prefdyn_cached": lambda: embed_corpus(corpus, embedder, cache=EmbeddingCache(folders[-1])),
    }
    best = dict.fromkeys(rows, float("inf"))
    padded = dict.fromkeys(rows, 0)
    running = [""]
    preprocess = model.preprocess

    def counting(*a: object, **k: object) -> dict[str, object]:
        features = preprocess(*a, **k)
        padded[running[0]] += features["attention_mask"].numel()
        return features

    model.preprocess = counting
    for _ in range(args.repeats):
        for name, fn in rows.items():
            running[0] = name
            best[name] = min(best[name], timed(fn))
    model.preprocess = preprocess

    cached = embed_corpus(corpus, embedder, cache=EmbeddingCache(folders[-1]))
    reference = model.encode(texts, batch_size=batch, convert_to_tensor=True).cpu()
    n = len(texts)
    return {
        "statements": n,
        "behaviors": len(corpus.behaviors),
        "data": str(args.data),
        "model": embedder.name,
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "encode_default_batch_size": default_batch,
        "prefdyn_batch_size": batch,
        "tokens": int(preprocess(texts)["attention_mask"].sum()),
        **{
            name: {"seconds": s, "statements_per_s": n / s, "tokens_with_padding": padded[name] // args.repeats}
            for name, s in best.items()
        },
        "ratio_prefdyn_cold_over_encode_default": best["encode_default_batch"] / best["prefdyn_cold"],
        "ratio_prefdyn_cold_over_encode_prefdyn_batch": best["encode_prefdyn_batch"] / best["prefdyn_cold"],
        "cached_hits": cached.cache_hits,
        "max_abs_difference_from_encode": float((torch.cat([b.g for b in cached.behaviors]) - reference).abs().max()),
    }


if __name__ == "__main__":
    main()
