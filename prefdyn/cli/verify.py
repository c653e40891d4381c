"""``prefdyn verify``: built-in theorems and user conjectures against simulated training."""

from __future__ import annotations

import argparse
from typing import Any

from ._types import SEED, add_threads_option, cluster_address, positive


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check theorems (and conjectures) against simulated training with Hypothesis",
        description=(
            "Run each built-in theorem's property on Hypothesis-drawn examples (statistical tolerances "
            "with false-alarm probability <= 1e-6 per example), or search a conjecture file for a "
            "counterexample, written as a scenario TOML runnable with `prefdyn simulate`. With --cluster, each "
            "item's examples are split over the workers of a Ray cluster, one Hypothesis seed per worker, and the "
            "first worker's shrunk counterexample is reported. Exit status 1 when a theorem or conjecture fails."
        ),
    )
    parser.add_argument(
        "ids", nargs="*", metavar="ID", help="theorem ids (default: the whole catalogue, unless --conjecture)"
    )
    parser.add_argument(
        "--conjecture", action="append", default=[], metavar="FILE", help="conjecture TOML (repeatable)"
    )
    parser.add_argument(
        "--examples", type=positive(int), default=100, help="Hypothesis examples per item (default 100)"
    )
    parser.add_argument("--seed", type=SEED, default=0, help="Hypothesis seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--out", default="counterexamples", help="directory for counterexample TOML files")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--cluster",
        type=cluster_address,
        default=None,
        metavar="ADDRESS",
        help=(
            "split each item's examples over the workers of a Ray cluster (ray://HOST:PORT, auto, local or local:N), "
            "one Hypothesis seed per worker; the first worker's counterexample, shrunk, is reported"
        ),
    )
    parser.add_argument(
        "--workers",
        type=positive(int),
        default=None,
        metavar="N",
        help="with --cluster: Ray tasks that share each item's examples (default: the cluster's CPUs over --threads)",
    )
    add_threads_option(parser)
    parser.set_defaults(func=run)


def _line(report: Any) -> str:
    """One result line (plus the failure's detail): the verdict, the examples, the largest
    violation and, for a bound, how often it was informative (bound inside the quantity's natural
    range, e.g. > 0 for a lower bound on a probability) and its tightness over those values."""
    from prefdyn.formatting import sig

    status = "PASS" if report.passed else "FAIL"
    parts = [f"{report.examples} examples"]
    if report.max_violation is not None:
        parts.append(f"max violation {sig(report.max_violation, 3)}")
    for bound in report.informative if report.kind == "bound" else ():
        values, examples = bound["values"], bound["examples"]
        parts.append(
            f"{bound['bound']} ({bound['relation']}) informative [{bound['rule']}] in "
            f"{values['fraction']:.0%} of values, {examples['informative']}/{examples['total']} "
            "examples"
        )
    if report.kind == "bound" and report.informative or report.tightness:
        parts.append(
            "bound/observed over informative values: "
            + (
                f"min {sig(report.tightness['min'])} median {sig(report.tightness['median'])}"
                if report.tightness
                else "n/a (no informative value)"
            )
        )
    head = f"{status} {report.name} ({report.kind}): " + "; ".join(parts)
    tail = (
        ""
        if report.passed
        else f"\n  {report.detail}" + (f"\n  counterexample: {report.counterexample}" if report.counterexample else "")
    )
    return head + tail


def _load_conjectures(paths: list[str]) -> list[Any]:
    """Every conjecture file, with every error of every file reported before any work (each
    message prefixed with its file when there are several)."""
    from prefdyn.errors import ErrorCollector, PrefdynError, PrefdynErrors
    from prefdyn.verification import load_conjecture

    errors, conjectures = ErrorCollector(), []
    for path in paths:
        try:
            conjectures.append(load_conjecture(path))
        except PrefdynError as err:
            messages = getattr(err, "messages", None) or [str(err)]
            with errors.check():
                raise PrefdynErrors([f"{path}: {m}" if len(paths) > 1 else m for m in messages])
    errors.raise_if_any()
    return conjectures


def _found_line(run: Any) -> str:
    """With ``--cluster``, under a failure's lines: the worker whose counterexample it is, with its
    seed and examples (``prefdyn verify ITEM --seed S --examples N`` searches as it did), and the
    other workers that found one."""
    if run.found_by is None:
        return ""
    share = run.shares[run.found_by].share
    others = [s.share.index for s in run.shares if not s.passed and s.share.index != run.found_by]
    also = (
        ""
        if not others
        else f"; worker {others[0]} found one too"
        if len(others) == 1
        else f"; workers {', '.join(map(str, others))} found one too"
    )
    return (
        f"\n  found by worker {share.index} of {len(run.shares)}: --seed {share.seed} --examples {share.examples}"
        + also
    )


def run(args: argparse.Namespace) -> int:
    from contextlib import ExitStack, closing
    from pathlib import Path

    from prefdyn import cluster
    from prefdyn.cli._output import emit_json
    from prefdyn.errors import require
    from prefdyn.numerics.simulator import resolve_device
    from prefdyn.progress import Progress
    from prefdyn.theory.catalogue import get_theorem, theorem_ids
    from prefdyn.threads import configure_threads, simulation_work
    from prefdyn.verification import check_conjecture, check_theorem, distributed
    from prefdyn.verification.strategies import MAX_DIM, MAX_RUNS, MAX_SAMPLES

    on_cluster = args.cluster is not None
    require(args.workers is None or on_cluster, "--workers", "needs --cluster")
    if on_cluster:
        require(
            args.device in ("cpu", "auto"),
            "--device",
            f"must be cpu with --cluster (the workers simulate on their CPUs), not {args.device}",
        )
    device = "cpu" if on_cluster else str(resolve_device(args.device))
    conjectures = _load_conjectures(args.conjecture)  # bad files fail before any work
    ids = args.ids or ([] if conjectures else theorem_ids())
    for theorem_id in ids:
        get_theorem(theorem_id)  # unknown ids exit 2 with the known ones listed
    out = Path(args.out)
    require(not out.exists() or out.is_dir(), "--out", f"{out} exists and is not a directory")
    from prefdyn.files import check_writable

    check_writable(out, "--out")  # a counterexample found after minutes must have a place to go
    # every example is a tiny simulation: one thread unless asked (or OMP_NUM_THREADS says) otherwise;
    # on a cluster every worker runs with --threads (default 1) threads and asks Ray for as many CPUs
    threads = configure_threads(args.threads, work=simulation_work(MAX_RUNS, MAX_SAMPLES, MAX_DIM))
    if on_cluster:
        threads = args.threads or 1
    # what Hypothesis draws depends on the modules loaded (their constants): every module a search can
    # import is loaded first, with or without --cluster, so a seed draws the same examples whichever
    # items run, and `--seed S --examples N` reruns here what a worker searched (verification.distributed)
    distributed.load_search_modules()
    items: list[tuple[str, Any]] = [(theorem_id, theorem_id) for theorem_id in ids]
    items += [(c.name, c) for c in conjectures]
    reports: list[Any] = []
    cluster_runs: list[Any] = []
    progress: Any = None  # the current item's (read by the cluster's on_share when it is called)
    with ExitStack() as stack:
        if on_cluster:
            ray = stack.enter_context(cluster.connect(args.cluster))
            workers = args.workers or distributed.default_workers(ray, threads)
            stream = distributed.verify_on_cluster(
                ray,
                [item for _, item in items],
                examples=args.examples,
                seed=args.seed,
                workers=workers,
                out=out,
                threads=threads,
                on_share=lambda done: progress.update(done.share.examples, f"worker {done.share.index}"),
            )
            stack.enter_context(closing(stream))  # closed before the cluster: no task outlives the run
        for label, item in items:
            progress = Progress("verify", label, args.examples, "examples")
            if on_cluster:
                cluster_runs.append(next(stream))
                report, tail = cluster_runs[-1].report, _found_line(cluster_runs[-1])
            else:
                check = check_theorem if isinstance(item, str) else check_conjecture
                report = check(
                    item,
                    examples=args.examples,
                    seed=args.seed,
                    device=device,
                    out=out,
                    threads=threads,
                    on_example=progress.update,
                )
                tail = ""
            progress.close("PASS" if report.passed else "FAIL")
            reports.append(report)
            if not args.json:
                print(_line(report) + tail, flush=True)
    if args.json:
        document: dict[str, Any] = {
            "seed": args.seed,
            "examples": args.examples,
            "device": device,
            "threads": threads,
            "results": [r.as_dict() for r in reports],
        }
        if on_cluster:
            document["cluster"] = {"address": args.cluster, "results": [r.as_dict() for r in cluster_runs]}
        emit_json(document)
    return 0 if all(r.passed for r in reports) else 1
