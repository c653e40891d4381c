"""Benchmark: the simulator's steps against the machine's own memory bandwidth and the per-run loop.

Run as a script (never a test; no wall-clock number gates CI)::

    python benchmarks/bench_simulator.py [--device cpu|cuda|auto] [--runs 256] [--samples 1024]
        [--dim 64] [--steps 20] [--loop-runs 4] [--threads N] [--sweep-settings 256]
        [--sweep-samples 4096] [--sweep-dim 256] [--json]

Everything is measured in one process on the same data, so the ratios hold on a loaded machine.
A step's time is marginal: the time of a run of ``4T`` steps minus that of ``T`` steps, over
``3T`` (setup, recording and the one-off compilation cancel; best of three each; ``null`` when
noise makes the difference non-positive). Reported:

* ``read_GB_per_s``: the machine's read bandwidth, ``torch.sum`` over the same ``R x n x d``
  embeddings (the limit a step that reads them once can reach);
* per step kind (``torch``: two batched products; ``fused``: the compiled single pass of
  :mod:`prefdyn.numerics.kernels`; on CUDA also ``fused_bf16``: bfloat16 storage, float32
  arithmetic): the effective bandwidth with two passes counted, ``2 R n d * 4 bytes / step time``
  (float32-equivalent bytes, so storage precision does not inflate it), its fraction of
  ``read_GB_per_s``, and the speed-up over the per-run loop in sample-steps per second;
* ``loop``: :func:`prefdyn.numerics.train_reference`, one run at a time, autograd through
  ``log_softmax`` and ``torch.optim.SGD``, timed on ``--loop-runs`` runs;
* ``bf16_error``: the largest relative difference of the bfloat16-storage run's final rows from
  the float32 run's, against the float32 rows' largest entry;
* ``sweep``: ``S`` settings of ``(beta, lr)`` over one shared ``n x d`` data set (two GEMMs a
  step, ``4 S n d`` flops), in TFLOP/s, in float32 and (CUDA) with TF32 matmuls, with the TF32
  run's relative error against float32.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch

from prefdyn.numerics import Phase, PreferenceData, TrainConfig, simulate, train_reference
from prefdyn.numerics.kernels import select_step
from prefdyn.numerics.simulator import resolve_device
from prefdyn.theory.losses import get_loss


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
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
        s,
        torch.zeros(n, dtype=torch.long, device=device),
        torch.ones(n, dtype=torch.bool, device=device),
        ("all",),
    )


def config(steps: int) -> TrainConfig:
    return TrainConfig(beta=0.1, learning_rate=0.5, phases=(Phase("train", steps),))


def step_time(run: Callable[[int], object], steps: int, device: torch.device) -> float | None:
    """Marginal seconds per step, ``(time(4T) - time(T)) / 3T``; ``None`` when not positive."""
    extra = timed(lambda: run(4 * steps), device) - timed(lambda: run(steps), device)
    return extra / (3 * steps) if extra > 0 else None


def rate(amount: float, seconds: float | None, unit: float) -> float | None:
    """``amount / seconds`` in ``unit``s, or ``None`` for an unmeasured time."""
    return None if seconds is None else amount / seconds / unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", type=int, default=256)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--loop-runs", type=int, default=4, help="runs timed for the per-run loop")
    parser.add_argument("--sweep-settings", type=int, default=256)
    parser.add_argument("--sweep-samples", type=int, default=4096)
    parser.add_argument("--sweep-dim", type=int, default=256)
    parser.add_argument("--threads", type=int, help="torch (and numba) threads on the CPU")
    parser.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = parser.parse_args()

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    R, n, d, T = args.runs, args.samples, args.dim, args.steps
    fp32_bytes = 2 * R * n * d * 4  # two passes, float32-equivalent

    data = make_data(R, n, d, device, torch.float32)
    read = timed(lambda: data.g.sum(), device, repeats=5)
    read_bandwidth = data.g.numel() * 4 / read / 1e9

    def run_simulate(source: PreferenceData, kernel: str) -> Callable[[int], object]:
        return lambda steps: simulate(source, config(steps), device=device, record_every=0, kernel=kernel)

    fused = select_step(get_loss("dpo"), data.g, torch.float32, "auto", 2**62)  # None: not available
    kinds = {"torch": (data, "torch")} | ({"fused": (data, "fused")} if fused else {})
    if fused and device.type == "cuda":
        kinds["fused_bf16"] = (make_data(R, n, d, device, torch.bfloat16), "fused")
    step = {name: step_time(run_simulate(source, kernel), T, device) for name, (source, kernel) in kinds.items()}

    loop_runs = min(args.loop_runs, R)
    w_ref = torch.zeros(2, d, device=device)

    def loop() -> None:
        for r in range(loop_runs):
            train_reference(data.g[r], data.s[r], data.train, w_ref, config(T))

    loop_rate = loop_runs * n * T / timed(loop, device, repeats=1)
    report: dict[str, object] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "runs": R,
        "samples": n,
        "dim": d,
        "steps": T,
        "read_GB_per_s": read_bandwidth,
        "loop_sample_steps_per_s": loop_rate,
    }
    for name, seconds in step.items():
        if seconds is None:
            report[name] = None
            continue
        effective = fp32_bytes / seconds / 1e9
        report[name] = {
            "step_ms": seconds * 1e3,
            "effective_GB_per_s": effective,
            "fraction_of_read_bandwidth": effective / read_bandwidth,
            "speedup_over_loop": R * n / seconds / loop_rate,
        }
    report["fused_backend"] = fused.backend if fused else None
    if "fused_bf16" in kinds:
        full = simulate(data, config(T), device=device, record_every=0, kernel="fused").rows
        half = simulate(kinds["fused_bf16"][0], config(T), device=device, record_every=0, kernel="fused").rows
        report["bf16_error"] = float((half - full).abs().max() / full.abs().max())

    shared = make_data(None, args.sweep_samples, args.sweep_dim, device, torch.float32)
    S = args.sweep_settings
    betas = torch.logspace(-2, 1, S, dtype=torch.float64)
    lrs = torch.full((S,), 0.1, dtype=torch.float64)

    def sweep(steps: int) -> torch.Tensor:
        return simulate(shared, config(steps), beta=betas, learning_rate=lrs, device=device, record_every=0).rows

    flops = 4 * S * args.sweep_samples * args.sweep_dim
    sweep_report: dict[str, object] = {"settings": S, "samples": args.sweep_samples, "dim": args.sweep_dim}
    sweep_report["fp32_TFLOP_per_s"] = rate(flops, step_time(sweep, T, device), 1e12)
    if device.type == "cuda":
        reference = sweep(T)
        torch.backends.cuda.matmul.allow_tf32 = True
        sweep_report["tf32_TFLOP_per_s"] = rate(flops, step_time(sweep, T, device), 1e12)
        sweep_report["tf32_error"] = float((sweep(T) - reference).abs().max() / reference.abs().max())
        torch.backends.cuda.matmul.allow_tf32 = False
    report["sweep"] = sweep_report
    report["torch_version"] = torch.__version__
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
