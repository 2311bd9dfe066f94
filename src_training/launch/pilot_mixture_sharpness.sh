#!/usr/bin/env bash
# Pilot: demo v9 with the tissue mixture's sharpness read from the prompt, only that small network
# trained (src_training/configs/pilots_v9/mixture_sharpness.yaml, whose header fixes the verdict and
# says why); then its float16 copy, the reports it is judged on, the factor it puts on held-out inputs
# (probe_mixture_sharpness.py),
# and the verdict (pilot_verdict.py --question mixture_sharpness), against v9 as shipped.
#   RECIPE=mixture_sharpness_input bash src_training/launch/pilot_mixture_sharpness.sh   (the third)
#   bash src_training/launch/pilot_mixture_sharpness.sh      (about 15 minutes on the 2-core CPU)
#   RECIPE=mixture_sharpness_ssim bash src_training/launch/pilot_mixture_sharpness.sh   (the second pilot)
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1
PY=${PYTHON:-$PWD/.venv/bin/python}
V9=${V9:-runs/demo_v9/model_fp16}
RECIPE=${RECIPE:-mixture_sharpness}
RUN=runs/pilot_v9_$RECIPE
OUT=$RUN/verdict
source src_training/launch/train_stage.sh
train_stage "pilots_v9/$RECIPE" "$RUN"
mkdir -p "$OUT"     # v9's held-out report is the first pilot's (the same cases, a deterministic evaluation)
[ -s "$OUT/v9_cases256.json" ] || cp runs/pilot_v9_mixture_sharpness/verdict/v9_cases256.json "$OUT/" 2>/dev/null || true
[ -s "$RUN/model_fp16/model.safetensors" ] || \
    "$PY" src_training/launch/ship_checkpoint.py "$RUN/model" --target "$RUN/model_fp16" > /dev/null
bash src_training/launch/eval_number_pilot.sh "$OUT" v9 "$V9" sharp "$RUN/model_fp16"
"$PY" src_training/launch/probe_mixture_sharpness.py "$RUN/model_fp16" --first-case 256 --cases 3
"$PY" src_training/launch/pilot_verdict.py "$OUT" v9 sharp --question mixture_sharpness
