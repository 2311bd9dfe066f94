#!/usr/bin/env bash
# Pilot: demo v8's number network trained on images with FLAIR TIs drawn from 0.70 x the CSF null
# (src_training/configs/pilots_v8/ti_below_null.yaml, whose header holds the verdict), then the
# reports that verdict reads and pilot_verdict.py --question ti_below_null.
#   bash src_training/launch/pilot_ti_below_null.sh      (about 13 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, V7-V9, the stage helpers
RUN=runs/pilot_v8_ti_below_null
OUT=$RUN/verdict
train_stage_fp16 pilots_v8/ti_below_null "$RUN"
TIS="1700 1950 2210 2500" bash src_training/launch/eval_number_pilot.sh "$OUT" v8 "$V8" below "$RUN/model_fp16"
"$PY" src_training/launch/pilot_verdict.py "$OUT" v8 below --question ti_below_null
