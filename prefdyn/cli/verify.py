"""``prefdyn verify``: built-in theorems and user conjectures against simulated training."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from typing import Any

from ._types import SEED, add_threads_option, positive


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check theorems (and conjectures) against simulated training with Hypothesis",
        description=(
            "Run each built-in theorem's property on Hypothesis-drawn examples (statistical tolerances "
            "with false-alarm probability <= 1e-6 per example), or search a conjecture file for a "
            "counterexample, written as a scenario TOML runnable with `prefdyn simulate`. "
            "Exit status 1 when a theorem or conjecture fails."
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


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from prefdyn.cli._output import emit_json
    from prefdyn.errors import require
    from prefdyn.numerics.simulator import resolve_device
    from prefdyn.progress import Progress
    from prefdyn.theory.catalogue import get_theorem, theorem_ids
    from prefdyn.threads import configure_threads, simulation_work
    from prefdyn.verification import check_conjecture, check_theorem
    from prefdyn.verification.strategies import MAX_DIM, MAX_RUNS, MAX_SAMPLES

    device = str(resolve_device(args.device))
    conjectures = _load_conjectures(args.conjecture)  # bad files fail before any work
    ids = args.ids or ([] if conjectures else theorem_ids())
    for theorem_id in ids:
        get_theorem(theorem_id)  # unknown ids exit 2 with the known ones listed
    out = Path(args.out)
    require(not out.exists() or out.is_dir(), "--out", f"{out} exists and is not a directory")
    from prefdyn.files import check_writable

    check_writable(out, "--out")  # a counterexample found after minutes must have a place to go
    # every example is a tiny simulation: one thread unless asked (or OMP_NUM_THREADS says) otherwise
    threads = configure_threads(args.threads, work=simulation_work(MAX_RUNS, MAX_SAMPLES, MAX_DIM))
    reports = []
    items: list[tuple[str, Callable[..., Any]]] = [
        (theorem_id, partial(check_theorem, theorem_id)) for theorem_id in ids
    ]
    items += [(c.name, partial(check_conjecture, c)) for c in conjectures]
    for label, check in items:
        progress = Progress("verify", label, args.examples, "examples")
        report = check(
            examples=args.examples, seed=args.seed, device=device, out=out, threads=threads, on_example=progress.update
        )
        progress.close("PASS" if report.passed else "FAIL")
        reports.append(report)
        if not args.json:
            print(_line(reports[-1]), flush=True)
    if args.json:
        emit_json(
            {
                "seed": args.seed,
                "examples": args.examples,
                "device": device,
                "threads": threads,
                "results": [r.as_dict() for r in reports],
            }
        )
    return 0 if all(r.passed for r in reports) else 1
