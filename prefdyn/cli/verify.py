"""``prefdyn verify``: built-in theorems and user conjectures against simulated training."""

from __future__ import annotations

import argparse
from typing import Any

from ._types import SEED, positive


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
    parser.add_argument("ids", nargs="*", metavar="ID", help="theorem ids (default: the whole catalogue, unless --conjecture)")
    parser.add_argument("--conjecture", action="append", default=[], metavar="FILE", help="conjecture TOML (repeatable)")
    parser.add_argument("--examples", type=positive(int), default=100, help="Hypothesis examples per item (default 100)")
    parser.add_argument("--seed", type=SEED, default=0, help="Hypothesis seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--out", default="counterexamples", help="directory for counterexample TOML files")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def _line(report: Any) -> str:
    status = "PASS" if report.passed else "FAIL"
    tight = "" if report.tightness is None else f", bound/observed min {report.tightness['min']:.4g} median {report.tightness['median']:.4g}"
    head = f"{status} {report.name} ({report.kind}): {report.examples} examples, max violation {report.max_violation:.3g}{tight}" \
        if report.max_violation is not None else f"{status} {report.name} ({report.kind}): {report.examples} examples{tight}"
    tail = "" if report.passed else f"\n  {report.detail}" + (f"\n  counterexample: {report.counterexample}" if report.counterexample else "")
    return head + tail


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from prefdyn.cli._output import emit_json
    from prefdyn.errors import require
    from prefdyn.numerics.simulator import resolve_device
    from prefdyn.theory.catalogue import get_theorem, theorem_ids
    from prefdyn.verification import check_conjecture, check_theorem, load_conjecture

    device = str(resolve_device(args.device))
    conjectures = [load_conjecture(path) for path in args.conjecture]  # bad files fail before any work
    ids = args.ids or ([] if conjectures else theorem_ids())
    for theorem_id in ids:
        get_theorem(theorem_id)  # unknown ids exit 2 with the known ones listed
    out = Path(args.out)
    require(not out.exists() or out.is_dir(), "--out", f"{out} exists and is not a directory")
    from prefdyn.files import check_writable

    check_writable(out, "--out")  # a counterexample found after minutes must have a place to go
    reports = []
    for theorem_id in ids:
        reports.append(check_theorem(theorem_id, examples=args.examples, seed=args.seed, device=device, out=out))
        if not args.json:
            print(_line(reports[-1]), flush=True)
    for conjecture in conjectures:
        reports.append(check_conjecture(conjecture, examples=args.examples, seed=args.seed, device=device, out=out))
        if not args.json:
            print(_line(reports[-1]), flush=True)
    if args.json:
        emit_json({"seed": args.seed, "examples": args.examples, "device": device,
                   "results": [r.as_dict() for r in reports]})
    return 0 if all(r.passed for r in reports) else 1
