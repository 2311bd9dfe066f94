#!/usr/bin/env bash
# Train the GPU demo recipes side by side on one CUDA machine: demo_gpu (tiny, continuing demo
# v2) and demo_gpu_small (the wider generator), each with half the CPU cores making its data,
# then write float16 copies of both models (what would ship) under OUT_ROOT/<run>/model_fp16.
# Both start from demo v2's weights, taken from git (commit 61f9ad0) into runs/demo_v2.
# Usage, from the repository root:
#     bash src_training/launch/train_demo_gpu.sh [OUT_ROOT] [key=value ...]
# key=value overrides reach both runs (a short probe: clip_steps=30 init_steps=60 ...).
# RUNS="name=recipe name=recipe" trains other recipes side by side instead (the ones prepared
# after v4 continue v4: see src_training/configs/demo_gpu_shapes.yaml).
set -uo pipefail
ROOT=${1:-runs}
shift || true
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
mkdir -p "$ROOT"
V2=runs/demo_v2
if [ -z "${RUNS:-}" ] && [ ! -f "$V2/model.safetensors" ]; then     # the default recipes start from v2
    mkdir -p "$V2"
    for f in config.json model.safetensors; do
        git show "61f9ad0:napari_evai2i/weights/demo/$f" >"$V2/$f" || { echo "cannot read demo v2 from git" >&2; exit 2; }
    done
fi
declare -A RECIPES=()
NAMES=()
for pair in ${RUNS:-demo_gpu=demo_gpu demo_gpu_small=src_training/configs/demo_gpu_small.yaml}; do
    RECIPES[${pair%%=*}]=${pair#*=}
    NAMES+=("${pair%%=*}")
done
WORKERS=$(( ($(nproc) - 2) / ${#NAMES[@]} ))
[ "$WORKERS" -ge 1 ] || WORKERS=1
pids=()
for run in "${NAMES[@]}"; do
    "$PY" -m napari_evai2i.train --config "${RECIPES[$run]}" --out "$ROOT/$run" num_workers=$WORKERS "$@" \
        >"$ROOT/$run.log" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for run in "${NAMES[@]}"; do
    tail -n 3 "$ROOT/$run.log"
    [ -f "$ROOT/$run/model/config.json" ] && "$PY" src_training/launch/ship_checkpoint.py "$ROOT/$run/model" \
        --target "$ROOT/$run/model_fp16" || status=1
done
exit $status
