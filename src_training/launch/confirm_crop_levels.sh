#!/usr/bin/env bash
# demo_cpu_v5_crop_levels.yaml's verdicts (fixed in its header before the run), on its float16 copy
# with the head box: question Q on held-out cases 18 and 20 (T2w->T1w crop without a prompt, each
# above 0.5 SSIM; v5 0.09 and 0.12), rule 1' on fresh cases 184-207 against v5, rules 2 and 4.
#   bash src_training/launch/confirm_crop_levels.sh [OUT_DIR]     (about 8 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_crop_levels}
RUN=runs/demo_cpu_v5_crop_levels
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1
PY=${PYTHON:-$PWD/.venv/bin/python}
[ -s "$RUN/model_fp16/model.safetensors" ] || \
    $PY src_training/launch/ship_checkpoint.py "$RUN/model" --target "$RUN/model_fp16"
for label_model in v5=demo crop_levels=$RUN/model_fp16; do
    label=${label_model%%=*}; model=${label_model#*=}
    [ -s "$OUT/${label}_cases18.json" ] || $PY -m napari_evai2i.train.evaluate --suite held-out --model "$model" \
        --first-case 18 --cases 3 --json "$OUT/${label}_cases18.json" > /dev/null
done
echo "== Q: T2w->T1w crop without a prompt, cases 18 and 20 (SSIM)"
$PY - "$OUT" <<'PY'
import json, sys
for label in ("v5", "crop_levels"):
    cell = json.load(open(f"{sys.argv[1]}/{label}_cases18.json"))["held_out"]["held_out_heads"]["T2w->T1w"][
        "crop inside the brain, no source prompt"]["per_case"]["ssim"]
    print(f"{label:12s} case 18 {cell[0]:.3f}  case 20 {cell[2]:.3f}")
PY
for label_model in v5=demo crop_levels=$RUN/model_fp16; do
    label=${label_model%%=*}; model=${label_model#*=}
    [ -s "$OUT/${label}_cases184.json" ] || $PY -m napari_evai2i.train.evaluate --suite held-out --model "$model" \
        --first-case 184 --cases 24 --json "$OUT/${label}_cases184.json" > /dev/null
done
[ -s "$OUT/crop_levels_robustness.json" ] || $PY -m napari_evai2i.train.evaluate --suite robustness \
    --model $RUN/model_fp16 --cases 6 --json "$OUT/crop_levels_robustness.json" > /dev/null
cd src_training/launch
echo "== crop_levels (float16) against v5, cases 184-207, rule 1'"
$PY paired_held_out.py --real-loss "../../$OUT/v5_cases184.json" "../../$OUT/crop_levels_cases184.json" || true
echo "== crop_levels (float16) against v5: rules 1, 2 and 4 on the robustness suite"
$PY ship_rule.py ../../napari_evai2i/weights/demo/evaluation.json "../../$OUT/crop_levels_robustness.json" || true
