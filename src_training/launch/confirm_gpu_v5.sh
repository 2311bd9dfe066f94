#!/usr/bin/env bash
# The two arms of the GPU lease (demo_gpu_v5.yaml, demo_gpu_v5_canvas192.yaml) against demo v5,
# by the verdicts fixed in demo_gpu_v5.yaml's header before the lease: rule 1' on held-out cases
# 78-101 (nobody had looked at them), rules 2 and 4 on the robustness suite, all on the float16
# copies as they would ship and with the head box. The standard suite runs afterwards, only for
# an arm that passes these.
#   bash src_training/launch/confirm_gpu_v5.sh [OUT_DIR]     (about 12 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_gpu_v5}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1
PY=${PYTHON:-$PWD/.venv/bin/python}
ARMS="demo_gpu_v5 demo_gpu_v5_canvas192"
for label_model in v5=demo demo_gpu_v5=runs/demo_gpu_v5/model_fp16 \
                   demo_gpu_v5_canvas192=runs/demo_gpu_v5_canvas192/model_fp16; do
    label=${label_model%%=*}; model=${label_model#*=}
    [ -s "$OUT/${label}_cases78.json" ] || $PY -m napari_evai2i.train.evaluate --suite held-out --model "$model" \
        --first-case 78 --cases 24 --json "$OUT/${label}_cases78.json" > /dev/null
    [ "$label" = v5 ] || [ -s "$OUT/${label}_robustness.json" ] || $PY -m napari_evai2i.train.evaluate \
        --suite robustness --model "$model" --cases 6 --json "$OUT/${label}_robustness.json" > /dev/null
done
cd src_training/launch
for arm in $ARMS; do
    echo "== $arm (float16) against v5, cases 78-101, rule 1'"
    $PY paired_held_out.py --real-loss "../../$OUT/v5_cases78.json" "../../$OUT/${arm}_cases78.json" || true
    echo "== $arm (float16) against v5: rules 1, 2 and 4 on the robustness suite"
    $PY ship_rule.py ../../napari_evai2i/weights/demo/evaluation.json "../../$OUT/${arm}_robustness.json" || true
done
