"""Options and plumbing shared by every ``prefdyn persona`` action: the data/model options, the
last-layer training options (the paper's defaults), loading and embedding a corpus, and writing
the JSON document, tables and text."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._output import emit_json
from ._types import SEED, add_threads_option, number, positive


def common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="persona JSONL file, folder or glob")
    p.add_argument(
        "--model", default=None, help="'minilm' (default, bundled) or a local model folder (never downloads)"
    )
    p.add_argument(
        "--behaviors", nargs="+", default=None, metavar="NAME", help="behaviours (file stems) to use; default: all"
    )
    p.add_argument(
        "--responses",
        nargs=2,
        default=None,
        metavar=("FIRST", "SECOND"),
        help="ordered answer pair (default: the first line's, matching answer first)",
    )
    p.add_argument("--template", default=None, help="prompt template with {question}/{statement} (default: per model)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    p.add_argument("--no-cache", action="store_true", help="recompute embeddings")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--out", type=Path, default=None, help="also write results into this folder")
    add_threads_option(p)


def training_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("last-layer training (paper defaults)")
    g.add_argument("--loss", default="dpo")
    g.add_argument("--optimizer", default="sgd", choices=("sgd", "adam", "adamw"))
    g.add_argument("--batch-size", type=number(int, minimum=0), default=128, help="0 = full batch")
    g.add_argument(
        "--batching",
        default="epoch",
        choices=("epoch", "independent"),
        help="minibatches: epoch = passes over a reshuffled training set, the last batch of an epoch "
        "keeping the remainder (default); independent = a fresh draw of --batch-size samples every "
        "step, as the authors' loop does",
    )
    g.add_argument("--steps", type=positive(int), default=100)
    g.add_argument("--lr", "--learning-rate", dest="lr", type=positive(float), default=0.1)
    g.add_argument("--beta", type=positive(float), default=0.01)
    g.add_argument("--weight-decay", type=number(float, minimum=0), default=0.0)
    g.add_argument(
        "--dtype",
        default=None,
        choices=("float32", "float64"),
        help="training dtype (default: the embeddings', float32); float64 resolves loss changes below "
        "float32's rounding",
    )
    g.add_argument("--test-fraction", type=number(float, minimum=0, below=1), default=0.1)
    g.add_argument(
        "--threshold", type=positive(float), default=0.6, help="training-loss threshold for steps-to-threshold"
    )


def train_settings(args: argparse.Namespace) -> Any:
    from prefdyn.studies.training import TrainSettings

    return TrainSettings(
        loss=args.loss,
        optimizer=args.optimizer,
        batch_size=args.batch_size,
        steps=args.steps,
        learning_rate=args.lr,
        beta=args.beta,
        weight_decay=args.weight_decay,
        test_fraction=args.test_fraction,
        seed=args.seed,
        device=args.device or "auto",
        batching=args.batching,
        dtype=args.dtype,
    )


def load_corpus(args: argparse.Namespace) -> Any:
    """The persona corpus of ``--data``/``--behaviors``/``--responses`` (``--out`` is checked
    first, so that a bad folder fails before the slow part)."""
    from prefdyn.errors import require
    from prefdyn.numerics.persona import load_persona

    if args.out is not None:
        require(not args.out.exists() or args.out.is_dir(), "--out", f"{args.out} exists and is not a directory")
    if args.template is not None:
        from prefdyn.numerics.persona.corpus import check_template

        check_template(args.template)  # before the data and the model are loaded
    responses = tuple(args.responses) if args.responses else None
    return load_persona(args.data, behaviors=args.behaviors, responses=responses)


def load(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(corpus, embedder, embedded corpus); reports embedding progress (a bar on a terminal,
    plain lines otherwise), time and cache hits on stderr. Threads: the encoder's work is large
    (the idle cores, :mod:`prefdyn.threads`); the last-layer training that follows is small."""
    from prefdyn.numerics.persona import embed_corpus, resolve_embedder
    from prefdyn.progress import Progress
    from prefdyn.threads import configure_threads, simulation_work

    corpus = load_corpus(args)
    configure_threads(args.threads, work=None)
    embedder = resolve_embedder(args.model, args.device)
    start = time.perf_counter()
    progress = Progress(f"persona {args.action}", "embedding", len(corpus.behaviors), "behaviors")
    embedded = embed_corpus(
        corpus,
        embedder,
        template=args.template,
        use_cache=not args.no_cache,
        progress=lambda name: progress.update(1, name),
    )
    progress.close(f"{len(embedded.behaviors)} behaviour(s), {embedded.cache_hits} from the cache")
    print(
        f"persona: {len(embedded.behaviors)} behaviour(s) embedded by {embedder.name} in "
        f"{time.perf_counter() - start:.2f} s ({embedded.cache_hits} from the cache)",
        file=sys.stderr,
    )
    samples = sum(len(b.sign) for b in embedded.behaviors)
    dim = embedded.behaviors[0].g.shape[-1] if embedded.behaviors else 1
    configure_threads(args.threads, work=simulation_work(1, samples, dim))
    return corpus, embedder, embedded


def training_progress(args: argparse.Namespace, total: int, unit: str = "behaviors") -> Any:
    """A :class:`~prefdyn.progress.Progress` over ``total`` trainings (behaviours, pairs, ...)."""
    from prefdyn.progress import Progress

    return Progress(f"persona {args.action}", "training", total, unit)


def with_out(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``action`` with ``--out`` made safe: checked writable before any work, locked for the
    whole command (a second writer is refused naming the holder's PID), and written into a
    temporary sibling (``args.stage``) whose files are moved into ``--out`` only when the
    action succeeds."""

    @functools.wraps(action)
    def run(args: argparse.Namespace) -> int:
        if args.out is None:
            return action(args)
        from prefdyn.errors import require
        from prefdyn.files import FolderLock, check_writable, staged_files

        require(not args.out.exists() or args.out.is_dir(), "--out", f"{args.out} exists and is not a directory")
        check_writable(args.out, "--out")
        with FolderLock(args.out, "--out"), staged_files(args.out) as stage:
            args.stage = stage
            return action(args)

    return run


def out_folder(args: argparse.Namespace) -> Path:
    """Where this action writes its ``--out`` files now (the staging folder under
    :func:`with_out`)."""
    return Path(getattr(args, "stage", None) or args.out)


def finish(
    args: argparse.Namespace,
    doc: dict[str, Any],
    text: str,
    tables: dict[str, tuple[list[dict[str, Any]], tuple[str, ...]]] | None = None,
) -> int:
    if args.out is not None:
        from prefdyn.tables import to_csv, to_latex

        out = out_folder(args)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"persona-{args.action}.json").write_text(json.dumps(doc, indent=2) + "\n")
        for name, (rows, columns) in (tables or {}).items():
            (out / f"{name}.csv").write_text(to_csv(rows, columns))
            (out / f"{name}.tex").write_text(to_latex(rows, columns, caption=f"persona {name}"))
    if args.json:
        emit_json(doc)
    else:
        sys.stdout.write(text)
    return 0


def spearman_text(label: str, c: dict[str, Any] | None) -> str:
    """One line for a Spearman correlation document ``{rho, ci: {low, high}, p_value[, n,
    method, p_resolution]}``: the p-value says its test (exact over all n! permutations, or a
    seeded permutation test) and prints as ``< r`` at the test's resolution ``r``."""
    from prefdyn.formatting import p_value_phrase, signed

    if c is None:
        return f"Spearman rho({label}): n/a (fewer than three behaviours)\n"
    n = f"  (n = {c['n']})" if "n" in c else ""
    p = p_value_phrase(c["p_value"], c.get("p_resolution"), c.get("method", "permutation"))
    return (
        f"Spearman rho({label}) = {signed(c['rho'])}  95% CI [{signed(c['ci']['low'])}, "
        f"{signed(c['ci']['high'])}]  {p}{n}\n"
    )
