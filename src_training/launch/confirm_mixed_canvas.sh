#!/usr/bin/env bash
# demo_cpu_v5_mixed_canvas.yaml's verdicts (fixed in its header before the run), on its float16
# copy as it would ship, with the head box: rule 1' on held-out cases 136-159 against v5 (nobody
# has looked at them), rules 2 and 4 on the robustness suite, and question Q, the air probe on
# cases 6-17 against v5's record (docs/results/probe_air_around_head.json). The standard suite
# runs afterwards, only if these pass.
#   bash src_training/launch/confirm_mixed_canvas.sh [OUT_DIR]     (about 12 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_mixed_canvas}
RUN=runs/demo_cpu_v5_mixed_canvas
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1
PY=${PYTHON:-$PWD/.venv/bin/python}
[ -s "$RUN/model_fp16/model.safetensors" ] || \
    $PY src_training/launch/ship_checkpoint.py "$RUN/model" --target "$RUN/model_fp16"
for label_model in v5=demo mixed_canvas=$RUN/model_fp16; do
    label=${label_model%%=*}; model=${label_model#*=}
    [ -s "$OUT/${label}_cases136.json" ] || $PY -m napari_evai2i.train.evaluate --suite held-out --model "$model" \
        --first-case 136 --cases 24 --json "$OUT/${label}_cases136.json" > /dev/null
done
[ -s "$OUT/mixed_canvas_robustness.json" ] || $PY -m napari_evai2i.train.evaluate --suite robustness \
    --model $RUN/model_fp16 --cases 6 --json "$OUT/mixed_canvas_robustness.json" > /dev/null
[ -s "$OUT/probe_air.json" ] || $PY src_training/launch/probe_air_around_head.py mixed_canvas=$RUN/model_fp16 \
    --json "$OUT/probe_air.json"
cd src_training/launch
echo "== mixed_canvas (float16) against v5, cases 136-159, rule 1'"
$PY paired_held_out.py --real-loss "../../$OUT/v5_cases136.json" "../../$OUT/mixed_canvas_cases136.json" || true
echo "== mixed_canvas (float16) against v5: rules 1, 2 and 4 on the robustness suite"
$PY ship_rule.py ../../napari_evai2i/weights/demo/evaluation.json "../../$OUT/mixed_canvas_robustness.json" || true
