#!/usr/bin/env bash
# Pilot: v9's correction below the CSF null refitted to a deeper teacher
# (src_training/configs/pilots_v9/ti_deep_below_null.yaml, whose header fixes the verdict and says
# why): the teacher trained, its float16 copy, v8 with the correction fitted to its styles below the
# null (below_null_stage, prompts drawn by the pilot's recipe), the FLAIR TI probe against v9, and the
# verdict (pilot_verdict.py --question ti_deep_below_null).
#   bash src_training/launch/pilot_ti_deep_below_null.sh      (about 20 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, V7-V9, the stage helpers
TEACHER=runs/pilot_v9_ti_deep_below_null
RUN=runs/pilot_v9_ti_deep_corrected
OUT=$RUN/verdict
train_stage_fp16 pilots_v9/ti_deep_below_null "$TEACHER"
below_null_stage "$V8" "$TEACHER/model_fp16" "$RUN" pilots_v9/ti_deep_below_null
mkdir -p "$OUT"
json="$OUT/probe_ti_cases6.json"
[ -s "$json" ] || "$PY" src_training/launch/probe_flair_inversion_time.py "v9=$V9" "deep=$RUN/model_fp16" "teacher=$TEACHER/model_fp16" \
    --first-case 6 --cases 12 --tis 1700 1950 2210 2500 --json "$json" > /dev/null
"$PY" src_training/launch/pilot_verdict.py "$OUT" v9 deep --question ti_deep_below_null
