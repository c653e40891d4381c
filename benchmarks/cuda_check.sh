#!/usr/bin/env bash
# The CUDA check, in one go on a machine with an NVIDIA GPU (a few minutes on an H100/H200):
# the CUDA-vs-CPU tests of the fused Triton step and the simulator, then the benchmark at sizes
# that fill the GPU (R = 65536 runs of 1024 x 64 float32 embeddings: 17 GB; a 4096-setting sweep
# over 32768 x 4096). Results go to ${OUT:-.}/cuda-tests.txt and ${OUT:-.}/bench-cuda.json.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-.}"
python -m pytest -q -p no:cacheprovider tests/numerics/test_kernels.py tests/numerics/test_simulator.py \
    tests/numerics/test_evaluate.py -k "cuda or fused" 2>&1 | tail -6 | tee "$out/cuda-tests.txt"
python benchmarks/bench_simulator.py --device cuda --runs 65536 --samples 1024 --dim 64 --steps 10 \
    --loop-runs 2 --sweep-settings 4096 --sweep-samples 32768 --sweep-dim 4096 --json | tee "$out/bench-cuda.json"
