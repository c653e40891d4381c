"""``prefdyn sweep``: many scenarios over a grid of any fields, one tidy table and phase diagrams."""

from __future__ import annotations

import argparse
from typing import Any

from ._types import add_threads_option, cluster_address, positive
from .simulate import DTYPE_CHOICES


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a grid of scenarios (any fields, losses included): one table, phase diagrams, resumable",
        description=(
            "Vary any scenario fields over a grid or random draws (the sweep file), simulate every cell "
            "(cells that differ only in beta and the learning rate train as one batch), record the theory's "
            "prediction beside it, and write a tidy table (Parquet and CSV) and phase diagrams to --out."
        ),
    )
    parser.add_argument("sweep", help="sweep TOML file")
    parser.add_argument("--out", required=True, help="output directory (locked while the sweep runs)")
    parser.add_argument("--resume", action="store_true", help="keep the finished units in --out, compute the rest")
    parser.add_argument("--workers", type=positive(int), default=1, help="local worker processes (default 1)")
    parser.add_argument(
        "--cluster",
        type=cluster_address,
        metavar="ADDRESS",
        help="run on Ray: ray://HOST:PORT, auto (RAY_ADDRESS) or local[:N] (needs prefdyn[cluster])",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--dtype", default="float32", choices=DTYPE_CHOICES, help="embedding storage dtype")
    parser.add_argument(
        "--progress", choices=("auto", "bar", "lines", "off"), default="auto", help="progress display on stderr"
    )
    add_threads_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from prefdyn.numerics.simulator import resolve_device
    from prefdyn.numerics.sweep.plan import load_sweep
    from prefdyn.numerics.sweep.runner import run_sweep
    from prefdyn.threads import configure_threads

    plan = load_sweep(args.sweep)
    configure_threads(args.threads, work=None if args.workers == 1 else 0.0)
    outcome = run_sweep(
        plan,
        out=args.out,
        resume=args.resume,
        workers=args.workers,
        cluster=args.cluster,
        device=str(resolve_device(args.device)),
        dtype=args.dtype,
        progress=None if args.progress == "auto" else args.progress,
    )
    resumed = outcome.units - outcome.computed
    units = f"{outcome.units} unit" + ("s" if outcome.units != 1 else "")
    print(
        f"{plan.name}: {len(plan.cells)} cells in {units} ({outcome.computed} computed, {resumed} resumed); "
        f"{len(outcome.table)} rows"
    )
    print(f"table: {args.out}/sweep.parquet, {args.out}/sweep.csv; cells: {args.out}/cells.csv")
    print(f"phase diagrams: {args.out}/figures/")
    return 0
