"""Benchmark: the CPU thread policy (:mod:`prefdyn.threads`) on an idle and on a loaded machine.

Run as a script (never a test; no wall-clock number gates CI)::

    python benchmarks/bench_threads.py [--runs 64] [--samples 1024] [--dim 16] [--steps 100]
        [--busy N] [--repeats 2] > threads.json

For one ``prefdyn simulate`` workload (a scenario written to a temporary file, run as a
subprocess exactly as a user runs it) it measures the wall-clock time of

* ``policy``: no ``--threads``, no ``OMP_NUM_THREADS`` -- what :func:`prefdyn.threads.configure_threads`
  chooses (the thread count it chose is reported from the JSON output);
* ``one``: ``--threads 1``;
* ``all``: ``--threads`` = every usable core (torch's own default);

first on the machine as it is (``idle``), then while ``--busy`` background processes (default:
one per usable core) spin in a pure-Python busy loop (``loaded``) -- the situation of a shared
machine, where idle OpenMP threads spin and compete with the neighbours' processes. The busy
processes are started by this script, and only they are stopped (by their PIDs) at the end.

Prints one JSON document: the workload, the cores, the load average before each phase, and
per phase and configuration the best time over ``--repeats`` runs and the threads used.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = """
name = "bench-threads"
[training]
loss = "dpo"
beta = 0.1
learning_rate = 1.0
steps = {steps}
samples = {samples}
dim = {dim}
seed = 0
test_fraction = 0.25
runs = {runs}
[[behaviors]]
name = "a"
weight = 0.5
distinguishability = 2.0
[[behaviors]]
name = "b"
weight = 0.5
distinguishability = 0.5
"""

BUSY_LOOP = "while True:\n    pass\n"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def simulate(scenario: Path, threads: int | None) -> tuple[float, int]:
    """Wall-clock seconds of one ``prefdyn simulate`` subprocess and the threads it used."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    args = [sys.executable, "-m", "prefdyn", "simulate", str(scenario), "--json", "--device", "cpu"]
    if threads is not None:
        args += ["--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    seconds = time.perf_counter() - start
    return seconds, int(json.loads(proc.stdout)["threads"])


def measure(scenario: Path, repeats: int) -> dict[str, dict[str, float]]:
    out = {}
    for name, threads in (("policy", None), ("one", 1), ("all", usable_cores())):
        times, used = [], 0
        for _ in range(repeats):
            seconds, used = simulate(scenario, threads)
            times.append(seconds)
        out[name] = {"seconds": round(min(times), 3), "threads": used}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=64)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--busy", type=int, default=usable_cores(), help="busy-loop processes while loaded")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    report: dict[str, object] = {
        "workload": {"runs": args.runs, "samples": args.samples, "dim": args.dim, "steps": args.steps},
        "usable_cores": usable_cores(),
        "busy_processes": args.busy,
    }
    with tempfile.TemporaryDirectory(prefix="prefdyn-bench-threads-") as folder:
        scenario = Path(folder) / "scenario.toml"
        scenario.write_text(SCENARIO.format(runs=args.runs, samples=args.samples, dim=args.dim, steps=args.steps))
        report["load_before_idle"] = os.getloadavg()[0]
        report["idle"] = measure(scenario, args.repeats)
        busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(args.busy)]
        try:
            time.sleep(5)  # let the load average see them
            report["load_before_loaded"] = os.getloadavg()[0]
            report["loaded"] = measure(scenario, args.repeats)
        finally:
            for process in busy:  # only the processes this script started
                process.kill()
                process.wait()
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
