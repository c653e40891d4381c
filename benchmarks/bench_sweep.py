"""Benchmark: cells per second of ``prefdyn sweep`` on a 1,000-cell grid, by backend.

Run as a script (never a test; no wall-clock number gates CI)::

    python benchmarks/bench_sweep.py [--cells-eta 25] [--cells-beta 20] [--losses dpo,ipo]
        [--runs 4] [--steps 50] [--naive-cells 100] [--ray] [--json]

The grid is ``losses x beta x eta`` over a small scenario (two behaviours, n = 256, d = 16), no
theory curves, so the number measures training and reduction only. Measured in one process:

* **local batched**: :func:`~prefdyn.numerics.sweep.runner.run_sweep` in this process; cells that
  share their data (same loss) train as one batch;
* **naive loop**: one :func:`prefdyn.numerics.run_scenario` call per cell (sampling included), on
  the first ``--naive-cells`` cells, scaled to cells/s;
* **pool**: ``run_sweep(workers=2)`` (spawned processes; start-up included);
* with ``--ray``: a private Ray instance with 1 and with 2 CPUs (``local:1``, ``local:2``), and
  the per-task overhead: the mean round trip of 200 empty Ray tasks on ``local:2``. Scaling
  efficiency = (cells/s with 2 workers) / (2 x cells/s with 1 worker).

For Ray the grid is split into units of ``--ray-batch`` cells (``max_batch``), so that there are
tasks to spread; the local rows use the default batch size.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from prefdyn.numerics import run_scenario
from prefdyn.numerics.sweep.plan import parse_sweep
from prefdyn.numerics.sweep.runner import run_sweep


def plan_for(args: argparse.Namespace, max_batch: int = 256):
    base = {
        "training": {"steps": args.steps, "samples": 256, "dim": 16, "batch_size": 0},
        "behaviors": [
            {"name": "strong", "weight": 0.5, "distinguishability": 2.0},
            {"name": "weak", "weight": 0.5, "distinguishability": 0.5},
        ],
    }
    folder = Path(args.scratch)
    folder.mkdir(parents=True, exist_ok=True)
    import tomli_w

    (folder / "base.toml").write_text(tomli_w.dumps(base))
    doc = {
        "sweep": {
            "scenario": "base.toml",
            "runs": args.runs,
            "theory": False,
            "record_every": 0,
            "metrics": ["accuracy"],
            "max_batch": max_batch,
        },
        "axes": [
            {"field": "training.loss", "values": args.losses.split(",")},
            {"field": "training.beta", "grid": {"start": 0.1, "stop": 2.0, "num": args.cells_beta, "scale": "log"}},
            {
                "field": "training.learning_rate",
                "grid": {"start": 0.01, "stop": 1.0, "num": args.cells_eta, "scale": "log"},
            },
        ],
    }
    return parse_sweep(doc, folder, name="bench")


def cells_per_second(fn, cells: int) -> tuple[float, float]:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return cells / seconds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells-eta", type=int, default=25)
    parser.add_argument("--cells-beta", type=int, default=20)
    parser.add_argument("--losses", default="dpo,ipo")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--naive-cells", type=int, default=100)
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--ray-batch", type=int, default=50)
    parser.add_argument("--scratch", default="/tmp/prefdyn-bench-sweep")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    plan = plan_for(args)
    cells = len(plan.cells)
    results: dict[str, object] = {"cells": cells, "runs": args.runs, "steps": args.steps}
    rate, seconds = cells_per_second(lambda: run_sweep(plan), cells)
    results["local_batched"] = {"cells_per_s": rate, "seconds": seconds}
    naive = plan.cells[: args.naive_cells]

    def loop() -> None:
        for cell in naive:
            run_scenario(replace(cell, runs=args.runs), seed=plan.seed, record_every=0, progress=False)

    rate_naive, seconds = cells_per_second(loop, len(naive))
    results["naive_loop"] = {"cells_per_s": rate_naive, "seconds": seconds, "cells_timed": len(naive)}
    results["batched_over_naive"] = rate / rate_naive
    rate_pool, seconds = cells_per_second(lambda: run_sweep(plan, workers=2), cells)
    results["pool_2_workers"] = {"cells_per_s": rate_pool, "seconds": seconds}
    if args.ray:
        split = plan_for(args, max_batch=args.ray_batch)
        per_worker = {}
        for workers in (1, 2):
            rate_ray, seconds = cells_per_second(lambda w=workers: run_sweep(split, cluster=f"local:{w}"), cells)
            per_worker[workers] = rate_ray
            results[f"ray_{workers}_workers"] = {"cells_per_s": rate_ray, "seconds": seconds}
        results["ray_scaling_efficiency"] = per_worker[2] / (2 * per_worker[1])
        from prefdyn.cluster import connect

        with connect("local:2") as ray:
            noop = ray.remote(num_cpus=1)(lambda: None)
            ray.get([noop.remote() for _ in range(20)])  # workers started
            start = time.perf_counter()
            for _ in range(200):
                ray.get(noop.remote())
            results["ray_task_overhead_ms"] = (time.perf_counter() - start) / 200 * 1e3
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
