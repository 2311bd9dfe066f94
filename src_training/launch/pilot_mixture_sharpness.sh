#!/usr/bin/env bash
# Pilots of a sharper tissue mixture on demo v9 (src_training/configs/pilots_v9/RECIPE.yaml, whose
# headers fix the verdict and say why): only the sharpness network trained; then the float16 copy,
# the reports it is judged on, the factor it put on held-out inputs (probe_mixture_sharpness.py) and
# the verdict (pilot_verdict.py --question mixture_sharpness), against v9 as shipped.
#   bash src_training/launch/pilot_mixture_sharpness.sh                                  (pilot 1; about 12 minutes)
#   RECIPE=mixture_sharpness_ssim bash src_training/launch/pilot_mixture_sharpness.sh    (pilot 2)
#   RECIPE=mixture_sharpness_input bash src_training/launch/pilot_mixture_sharpness.sh   (pilot 3)
# Pilots 1 and 2 ran with this script's first form, which printed the factor of each preset prompt
# instead of the probe (their records: docs/results/v9_sharpness_2026-12-07/).
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, V7-V9, the stage helpers
RECIPE=${RECIPE:-mixture_sharpness}
RUN=runs/pilot_v9_$RECIPE
OUT=$RUN/verdict
train_stage_fp16 "pilots_v9/$RECIPE" "$RUN"
mkdir -p "$OUT"     # v9's held-out report is the first pilot's (the same cases, a deterministic evaluation)
[ -s "$OUT/v9_cases256.json" ] || cp runs/pilot_v9_mixture_sharpness/verdict/v9_cases256.json "$OUT/" 2>/dev/null || true
bash src_training/launch/eval_number_pilot.sh "$OUT" v9 "$V9" sharp "$RUN/model_fp16"
"$PY" src_training/launch/probe_mixture_sharpness.py "$RUN/model_fp16" --first-case 256 --cases 3
"$PY" src_training/launch/pilot_verdict.py "$OUT" v9 sharp --question mixture_sharpness
