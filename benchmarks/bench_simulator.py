"""Benchmark: batched closed-form simulator vs the per-run autograd loop, and the sweep GEMMs.

Run as a script (never a test; no wall-clock number gates CI)::

    python benchmarks/bench_simulator.py [--device cpu|cuda|auto] [--runs 256] [--samples 1024]
        [--dim 64] [--steps 20] [--loop-runs 4] [--sweep-settings 256] [--tf32] [--threads N]

Reported, measured in the same process on the same data:

* sample-steps/s = R n T / time for the batched simulator (:func:`prefdyn.numerics.simulate`,
  full-batch GD, DPO) and for the plain loop (:func:`prefdyn.numerics.train_reference`, one run at
  a time, autograd through ``log_softmax``, ``torch.optim.SGD``), and their ratio;
* effective bandwidth of the simulator, counting the algorithm's two passes over the
  ``R x n x d`` embeddings per step: 2 R n d (bytes per element) T / time;
* on the CPU, the speed-up of processing runs in cache-sized blocks
  (:data:`prefdyn.numerics.simulator.CPU_BLOCK_BYTES`) over one block of all runs;
* the sweep mode (S settings of (beta, lr) over one shared ``n x d`` data set): 4 S n d T flops
  per T steps, in TFLOP/s.
"""

from __future__ import annotations

import argparse
import json
import time
from unittest.mock import patch

import torch

from prefdyn.numerics import (
    Phase,
    PreferenceData,
    TrainConfig,
    simulate,
    simulator,
    train_reference,
)
from prefdyn.numerics.simulator import DTYPES, resolve_device


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, repeats: int = 3) -> float:
    """Best of ``repeats`` wall-clock times after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def make_data(runs: int | None, n: int, d: int, device: torch.device, dtype: torch.dtype) -> PreferenceData:
    gen = torch.Generator(device=device).manual_seed(0)
    shape = (n, d) if runs is None else (runs, n, d)
    g = torch.randn(shape, generator=gen, device=device, dtype=torch.float32) / d**0.5
    s = torch.where(torch.rand(shape[:-1], generator=gen, device=device) < 0.5, -1.0, 1.0)
    g = g + 0.5 * s.unsqueeze(-1) * torch.ones(d, device=device) / d**0.5
    return PreferenceData(
        g.to(dtype),
        s.to(dtype if dtype != torch.bfloat16 else torch.float32),
        torch.zeros(n, dtype=torch.long, device=device),
        torch.ones(n, dtype=torch.bool, device=device),
        ("all",),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--runs", type=int, default=256)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--loop-runs", type=int, default=4, help="runs timed for the autograd loop")
    parser.add_argument("--sweep-settings", type=int, default=256)
    parser.add_argument("--sweep-samples", type=int, default=4096)
    parser.add_argument("--sweep-dim", type=int, default=256)
    parser.add_argument("--tf32", action="store_true", help="allow TF32 matmuls (CUDA)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (CPU)")
    args = parser.parse_args()

    device = resolve_device(args.device)
    dtype = DTYPES[args.dtype]
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    config = TrainConfig(beta=0.1, learning_rate=0.5, phases=(Phase("train", args.steps),))
    R, n, d, T = args.runs, args.samples, args.dim, args.steps

    data = make_data(R, n, d, device, dtype)
    fast = timed(lambda: simulate(data, config, device=device, record_every=0), device)
    fast_rate = R * n * T / fast
    bytes_per = torch.finfo(dtype).bits // 8
    gbps = 2 * R * n * d * bytes_per * T / fast / 1e9
    with patch.object(simulator, "CPU_BLOCK_BYTES", 2**62):  # every run in one block: two passes
        unblocked = timed(lambda: simulate(data, config, device=device, record_every=0), device)

    loop_runs = min(args.loop_runs, R)
    g_loop = data.g[:loop_runs].to(torch.float32)
    w_ref = torch.zeros(2, d, device=device)

    def loop() -> None:
        for r in range(loop_runs):
            train_reference(g_loop[r], data.s[r], data.train, w_ref, config)

    slow = timed(loop, device, repeats=1)
    slow_rate = loop_runs * n * T / slow

    shared = make_data(None, args.sweep_samples, args.sweep_dim, device, dtype)
    S = args.sweep_settings
    betas = torch.logspace(-2, 1, S, dtype=torch.float64)
    lrs = torch.full((S,), 0.1, dtype=torch.float64)
    sweep_time = timed(
        lambda: simulate(shared, config, beta=betas, learning_rate=lrs, device=device, record_every=0), device
    )
    tflops = 4 * S * args.sweep_samples * args.sweep_dim * T / sweep_time / 1e12

    report = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)",
        "dtype": args.dtype,
        "runs": R,
        "samples": n,
        "dim": d,
        "steps": T,
        "tf32": args.tf32,
        "batched_sample_steps_per_s": fast_rate,
        "loop_sample_steps_per_s": slow_rate,
        "ratio": fast_rate / slow_rate,
        "effective_GB_per_s": gbps,
        "cache_blocking_speedup": unblocked / fast,
        "sweep": {"settings": S, "samples": args.sweep_samples, "dim": args.sweep_dim, "TFLOP_per_s": tflops},
        "torch": torch.__version__,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
