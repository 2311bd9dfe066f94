#!/usr/bin/env bash
# Every GPU measurement of docs/performance.md in one command, on a CUDA machine:
#
#     bash benchmarks/run_gpu.sh [OUT_DIR]        (from the repository root, venv active or .venv present)
#
# MAX_SECONDS (default 5) and TRAIN_MAX_SECONDS (default 15) bound each measurement, for a short
# lease. Only the test files that hold CUDA tests are collected, so the viewer's test stack (napari,
# Qt) need not be installed on the GPU machine.
#
# Runs the CUDA-only tests, then the inference benchmark (paper and tiny, 256 x 256,
# batch 1/16/64/256, fp32 and bf16, fast path against the reference path) and the
# training benchmark, writing JSON lines to OUT_DIR (default benchmarks/results-gpu).
set -euo pipefail
OUT=${1:-benchmarks/results-gpu}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
mkdir -p "$OUT"
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'run_gpu.sh: no CUDA GPU visible to torch')"
"$PY" -m pytest -q -m gpu $(grep -rl "mark.gpu" tests --include="test_*.py") 2>&1 | tee "$OUT/gpu_tests.log"
"$PY" benchmarks/bench_inference.py --device cuda --configs paper tiny --batches 1 16 64 256 \
    --dtypes bf16 fp32 --max-seconds ${MAX_SECONDS:-5} | tee "$OUT/inference.jsonl"
"$PY" benchmarks/bench_training.py --device cuda --configs paper tiny --max-seconds ${TRAIN_MAX_SECONDS:-15} | tee "$OUT/training.jsonl"
"$PY" benchmarks/bench_volume.py --device cuda --model demo --precisions auto fp32 --skip-large | tee "$OUT/volume.jsonl"
