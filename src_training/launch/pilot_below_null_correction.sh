#!/usr/bin/env bash
# Pilot: demo v8 with a correction below the CSF null (below_null_correction, model file
# src_training/configs/tiny_prompt_apart_below_null.json): every weight of v8 kept, and a second
# number network, scaled by 1 - TI / null for spin-echo inversion-recovery prompts between 0.5 x the
# null and the null (zero for every other prompt), fitted without images to the styles of
# pilots_v8/ti_below_null.yaml's model on the prompts that recipe draws below the null
# (distill_prompt_numbers.py --below-null-teacher, 30,000 protocols drawn, seed 0, 6,000 steps).
#   bash src_training/launch/pilot_below_null_correction.sh      (about 3 minutes on the 2-core CPU, with the first pilot done)
#
# Why: both earlier pilots learnt FLAIR below the null (CSF/GM error at 1950 ms 0.095 -> 0.002 and
# 0.005), and both failed because they also moved prompts at and above the null: the first every
# protocol (the shared network trained on images), the second FLAIR at the preset's TI, by a
# little that flipped two cases' multi-Otsu split. Here a prompt at or above the null keeps v8's
# style bit for bit, by construction.
#
# Verdict, fixed before it ran: pilots_v8/ti_below_null.yaml's, unchanged, against v8
# (pilot_verdict.py --question ti_below_null; (a1)-(a3), (b)-(e)).
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, V7-V9, the stage helpers
BELOW=runs/pilot_v8_ti_below_null/model_fp16
RUN=runs/pilot_v8_below_null_correction
OUT=$RUN/verdict
[ -s "$BELOW/model.safetensors" ] || bash src_training/launch/pilot_ti_below_null.sh > /dev/null || true
below_null_stage "$V8" "$BELOW" "$RUN"
mkdir -p "$OUT"
# v8's held-out report is the first pilot's (the same cases, a deterministic evaluation)
[ -s "$OUT/v8_cases256.json" ] || cp runs/pilot_v8_ti_below_null/verdict/v8_cases256.json "$OUT/" 2>/dev/null || true
TIS="1700 1950 2210 2500" bash src_training/launch/eval_number_pilot.sh "$OUT" v8 "$V8" corrected "$RUN/model_fp16"
"$PY" src_training/launch/pilot_verdict.py "$OUT" v8 corrected --question ti_below_null
