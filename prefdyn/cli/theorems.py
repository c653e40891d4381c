"""``prefdyn theorems``: the catalogue, each theorem re-verified."""

from __future__ import annotations

import argparse

from ._loss_args import add_loss_options, loss_from_args, loss_inputs
from ._output_cache import add_no_cache_option, replay_or_record


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("theorems", help="list the theorems and re-verify every derivation step")
    parser.add_argument("ids", nargs="*", metavar="ID", help="theorem ids to check (default: the whole catalogue)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    add_loss_options(parser)
    add_no_cache_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inputs = {"ids": args.ids, "json": args.json, **loss_inputs(args)}
    return replay_or_record("theorems", inputs, lambda: _check_all(args), refresh=args.no_cache)


def _check_all(args: argparse.Namespace) -> int:
    from prefdyn.theory.catalogue import checked_theorem, theorem_ids

    from ._output import emit_json

    loss = loss_from_args(args)
    rows = []
    for theorem_id in args.ids or theorem_ids():
        theorem = checked_theorem(theorem_id, loss, use_cache=not args.no_cache)
        report = theorem.check()
        steps = report.steps()
        rows.append(
            {
                "id": theorem.id,
                "title": theorem.title,
                "loss": loss.name,
                "passed": report.passed,
                "steps": len(steps),
                "verified_steps": sum(r.verified for _, _, r in steps),
                "symbolic_steps": sum(r.method.startswith("symbolic") for _, _, r in steps),
                "methods": [r.method for _, _, r in steps],
            }
        )
        if not args.json:
            mark = "ok  " if report.passed else "FAIL"
            print(
                f"{mark} {theorem.id:<26} {rows[-1]['verified_steps']}/{len(steps)} steps verified"
                f" ({rows[-1]['symbolic_steps']} symbolic)  {theorem.title}"
            )
    if args.json:
        emit_json({"loss": loss.name, "theorems": rows})
    return 0 if all(r["passed"] for r in rows) else 1
