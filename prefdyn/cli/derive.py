"""``prefdyn derive ID``: one theorem with its verified derivation (LaTeX, JSON or text)."""

from __future__ import annotations

import argparse
import shutil
import sys
from typing import TYPE_CHECKING

from ._loss_args import add_loss_options, loss_from_args, loss_inputs
from ._output_cache import add_no_cache_option, replay_or_record

if TYPE_CHECKING:
    from prefdyn.theory.framework import CheckReport, Theorem


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("derive", help="print one theorem and its SymPy-verified derivation")
    parser.add_argument("id", help="theorem id (see `prefdyn theorems`)")
    add_loss_options(parser)
    add_no_cache_option(parser)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--latex", action="store_const", dest="format", const="latex", help="theorem + proof block")
    fmt.add_argument("--json", action="store_const", dest="format", const="json", help="one JSON document")
    fmt.add_argument("--text", action="store_const", dest="format", const="text", help="plain text (default)")
    parser.set_defaults(func=run, format="text")


def run(args: argparse.Namespace) -> int:
    inputs = {"id": args.id, "format": args.format, **loss_inputs(args)}
    if args.format == "text":  # SymPy's pretty printer wraps at the terminal's width, in Unicode if it can
        inputs["columns"] = shutil.get_terminal_size(fallback=(0, 0)).columns
        inputs["encoding"] = sys.stdout.encoding
    return replay_or_record("derive", inputs, lambda: _derive(args), refresh=args.no_cache)


def _derive(args: argparse.Namespace) -> int:
    import sympy as sp

    from prefdyn.theory.catalogue import checked_theorem
    from prefdyn.theory.printing import LATEX_RELATION, statement_latex, tex

    from ._output import emit_json

    loss = loss_from_args(args)
    theorem = checked_theorem(args.id, loss, use_cache=not args.no_cache)
    report = theorem.check()
    if args.format == "latex":
        print(theorem.latex())
    elif args.format == "json":
        emit_json(
            {
                "id": theorem.id,
                "title": theorem.title,
                "loss": loss.name,
                "loss_latex": loss.latex(),
                "assumptions": [a.latex for a in theorem.assumptions],
                "statement_latex": statement_latex(theorem.claims[0]),
                "statement_sympy": sp.srepr(theorem.statement),
                "claims": [{"label": c.label, "statement_latex": statement_latex(c)} for c in theorem.claims],
                "steps": [
                    {
                        "claim": claim.label,
                        "latex": f"{LATEX_RELATION[step.rel]} {tex(step.rhs)}",
                        "reason": step.reason,
                        "verified": result.verified,
                        "method": result.method,
                    }
                    for claim, step, result in report.steps()
                ],
                "passed": report.passed,
            }
        )
    else:
        _print_text(theorem, report)
    return 0 if report.passed else 1


def _print_text(theorem: Theorem, report: CheckReport) -> None:
    from prefdyn.theory.printing import plain, pretty

    print(f"{theorem.id}: {theorem.title}  [loss: {theorem.loss_name}]")
    print("Assumptions:")
    for a in theorem.assumptions:
        print(f"  - {a.name}: {plain(a.latex.replace('$', ''))}")
    for claim, results in report.results:
        print(f"\n{claim.label}:")
        print("  " + pretty(claim.statement).replace("\n", "\n  "))
        for k, (step, result) in enumerate(zip(claim.steps, results), 1):
            mark = "verified" if result.verified else "NOT VERIFIED"
            print(f"  step {k} ({step.rel}) {plain(step.reason.replace('$', ''))}\n      -> {mark}, {result.method}")
    for keys, meaning in theorem.notation.items():
        names = ", ".join(pretty(k) for k in (keys if isinstance(keys, tuple) else (keys,)))
        print(f"  where {names} {plain(meaning.replace('$', ''))}")
