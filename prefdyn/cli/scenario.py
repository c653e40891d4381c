"""``prefdyn scenario``: print the scenario template or the built-in scenario; validate a file."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scenario",
        help="print a commented scenario template, the built-in scenario, or validate a file",
        description="Scenario files (TOML) describe structured preference data and training.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--example", action="store_true", help="print a commented template")
    group.add_argument("--default", action="store_true", help="print the built-in default scenario")
    group.add_argument(
        "--validate", metavar="FILE", help="check a scenario file and summarise it (every error: one line each, exit 2)"
    )
    parser.add_argument("--json", action="store_true", help="with --validate: print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prefdyn.numerics.scenario import (
        builtin_text,
        load_scenario,
        loss_document,
        stratified_counts,
    )

    if args.example or args.default:
        print(builtin_text("example" if args.example else "default"), end="")
        return 0
    from prefdyn.numerics.memory import available_bytes, estimate, human

    scenario = load_scenario(args.validate)
    counts = stratified_counts(scenario)
    memory = estimate(scenario)  # as `prefdyn simulate FILE` runs it (float32, 256-run chunks)
    available = available_bytes()
    summary: dict[str, Any] = {
        "name": scenario.name,
        "hash": scenario.content_hash(),
        "dim": scenario.dim,
        "samples": scenario.samples,
        "steps": scenario.training.steps,
        "loss": loss_document(scenario.training.loss),  # a name, or a user loss's {expr, params} table
        "optimizer": scenario.training.optimizer,
        "behaviors": [
            {"name": b.name, "weight": b.weight, "train_samples": c[0], "test_samples": c[1]}
            for b, c in zip(scenario.behaviors, counts)
        ],
        "runs": scenario.runs,
        "memory": {
            "estimate_bytes": memory["total"],
            "parts_bytes": {k: v for k, v in memory.items() if k != "total"},
            "available_bytes": available,
            "fits": available is None or memory["total"] <= 0.9 * available,
        },
    }
    if args.json:
        from prefdyn.cli._output import emit_json

        emit_json(summary)
    else:
        print(
            f"{args.validate}: valid scenario {scenario.name!r}: {len(counts)} behaviours, dim {scenario.dim}, "
            f"{scenario.samples} samples, {scenario.training.steps} steps"
        )
        loss = summary["loss"]
        if isinstance(loss, dict):
            values = ", ".join(f"{k} = {v:g}" for k, v in loss.get("params", {}).items())
            print(f"  loss: phi(h) = {loss['expr']}" + (f" with {values}" if values else ""))
        fits = summary["memory"]["fits"]
        print(
            f"  memory: about {human(memory['total'])} to simulate its {scenario.runs} runs"
            + (
                ""
                if available is None
                else f" ({human(available)} available"
                + ("" if fits else "; too much: `prefdyn simulate` would refuse it")
                + ")"
            )
        )
    return 0
