"""``prefdyn simulate``: batched simulated training on a scenario's structured data."""

from __future__ import annotations

import argparse
from typing import Any

from ._types import SEED, add_threads_option, number, positive

DTYPE_CHOICES = ("float32", "float64", "bfloat16")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate last-layer preference training on a scenario (batched, CPU or CUDA)",
        description=(
            "Sample R runs of a scenario's preference data and train each head from W_ref with the "
            "closed-form batched update; report per-behaviour curves (mean/std across runs)."
        ),
    )
    parser.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in scenario)")
    parser.add_argument("--runs", type=positive(int), help="independent runs R (default: training.runs)")
    parser.add_argument("--seed", type=SEED, help="seed (default: training.seed)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--dtype", default="float32", choices=DTYPE_CHOICES, help="embedding storage dtype")
    parser.add_argument(
        "--kernel",
        default="auto",
        choices=("auto", "fused", "torch"),
        help="simulator step: fused (one read of the embeddings, compiled), torch (two products), "
        "or auto (fused for large runs; default)",
    )
    parser.add_argument("--out", help="write results incrementally to this directory")
    parser.add_argument("--resume", action="store_true", help="continue the unfinished chunks in --out")
    parser.add_argument("--chunk-runs", type=positive(int), default=256, help="runs per chunk (unit of resumption)")
    parser.add_argument(
        "--record-every", type=number(int, minimum=0), default=1, help="record curves every k steps (0: ends only)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    add_threads_option(parser)
    parser.set_defaults(func=run)


def _table(summary: dict[str, Any]) -> str:
    """Final-step table, one block per split (the training split, then the held-out test split
    when the scenario has one), each line saying its split: per behaviour the policy accuracy
    (log pi(y_w|x) > log pi(y_l|x)), the reward accuracy (h > 0), both counting a tie as 1/2,
    the margin (mean ± std across runs) and the loss; numbers with the significant-digit policy
    of :mod:`prefdyn.formatting`. ``prefdyn predict``'s population-limit curves compare with the
    test split."""
    from prefdyn.formatting import plus_minus, sig

    steps = summary["steps"]
    lines = [
        (
            f"{summary['scenario']}: {summary['runs']} runs, {steps[-1]} steps, {summary['device']} "
            f"{summary['dtype']}, seed {summary['seed']}; mean ± std across runs, a tie counts 1/2"
        )
    ]
    splits = ["train"] + (["test"] if "test" in summary["behaviors"][0] else [])
    for split in splits:
        count = "train_samples" if split == "train" else "test_samples"
        title = "training split" if split == "train" else "test split (held-out; compare with `prefdyn predict`)"
        lines.append(f"{title}, final step:")
        lines.append(f"  {'behavior':<20} {'n':>6} {'policy acc.':>19} {'reward acc.':>19} {'margin':>21} {'loss':>10}")
        for b in summary["behaviors"]:
            source = b if split == "train" else b["test"]
            cells = [
                plus_minus(source[m]["mean"][-1], source[m]["std"][-1])
                for m in ("policy_accuracy", "reward_accuracy", "margin")
            ]
            lines.append(
                f"  {b['name']:<20} {b[count]:>6} {cells[0]:>19} {cells[1]:>19} {cells[2]:>21} "
                f"{sig(source['loss']['mean'][-1]):>10}"
            )
    op = summary["weight_change_opnorm"]
    lines.append(f"||W_T - W_ref||_op = {plus_minus(op['mean'][-1], op['std'][-1])}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import torch

    from prefdyn.cli._output import emit_json
    from prefdyn.errors import require
    from prefdyn.numerics.runner import run_scenario
    from prefdyn.numerics.scenario import default_scenario, load_scenario
    from prefdyn.numerics.simulator import DTYPES, resolve_device

    scenario = default_scenario() if args.scenario is None else load_scenario(args.scenario)
    require(not args.resume or args.out is not None, "--resume", "needs --out DIR")
    device = resolve_device(args.device)
    seed = scenario.seed if args.seed is None else args.seed
    from prefdyn.threads import configure_threads, simulation_work

    runs = scenario.runs if args.runs is None else args.runs
    threads = configure_threads(
        args.threads, work=simulation_work(min(runs, args.chunk_runs), scenario.samples, scenario.dim)
    )
    result = run_scenario(
        scenario,
        runs=args.runs,
        seed=seed,
        device=str(device),
        dtype=DTYPES[args.dtype],
        out=args.out,
        resume=args.resume,
        chunk_runs=args.chunk_runs,
        record_every=args.record_every,
        kernel=args.kernel,
    )
    summary = {
        "scenario": scenario.name,
        **result.summary(),
        "device": str(device),
        "dtype": args.dtype,
        "seed": seed,
        "torch": torch.__version__,
        "threads": threads,
        # each behaviour's metrics are the training split's; held-out ones sit under its "test"
        "top_level_split": "train",
    }
    if args.json:
        emit_json(summary)
    else:
        print(_table(summary))
    return 0
