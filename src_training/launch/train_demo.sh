#!/usr/bin/env bash
# Reproduce the shipped demo checkpoint: train (all stages), evaluate (standard and robustness suites), package.
# Usage: bash src_training/launch/train_demo.sh [OUT]   (from the repository root, venv active or .venv present)
set -euo pipefail
OUT=${1:-runs/demo}
PY=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1
$PY -m napari_evai2i.train --config demo --out "$OUT" --resume
$PY -m napari_evai2i.train.evaluate --suite all --model "$OUT/model" --seeds 1001 1002 --resolution 1 --cases 6 \
    --figure docs/images/robustness_real_t1.png --json "$OUT/eval.json"
$PY src_training/launch/ship_checkpoint.py "$OUT/model" --eval "$OUT/eval.json"
