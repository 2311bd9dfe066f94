#!/usr/bin/env bash
# Pilot: demo v9 continued with a gain of 0.9-1.1 on the inputs that come with their prompt
# (src_training/configs/pilots_v9/prompted_gain.yaml, whose header holds the verdict), then the
# reports that verdict reads, against v9 as shipped. Every step writes one file under OUT and is
# skipped when it exists, so a stopped run resumes.
#   bash src_training/launch/pilot_prompted_gain.sh [OUT]   (about 15 minutes of training, 15 of evaluation)
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, V9, the stage helpers
RUN=runs/pilot_v9_prompted_gain
train_stage_fp16 pilots_v9/prompted_gain "$RUN"
OUT=${1:-$RUN/verdict}
REF=v9
source src_training/launch/confirm_common.sh
v9_weights
FIRST=628
held_out v9 "$V9" "$FIRST"
held_out run "$RUN/model_fp16" "$FIRST"
robustness run "$RUN/model_fp16"
for label in v9 run; do
    model=$V9; [ "$label" = run ] && model=$RUN/model_fp16
    [ -s "$OUT/${label}_levels_cases$FIRST.json" ] || "$PY" src_training/launch/probe_levels_anatomy.py \
        "$label=$model" --first-case "$FIRST" --cases 24 --json "$OUT/${label}_levels_cases$FIRST.json" > /dev/null
done
echo "== (a) T1w->FLAIR, whole head, source prompt, cases $FIRST-$((FIRST + 23))"
"$PY" - "$OUT/v9_cases$FIRST.json" "$OUT/run_cases$FIRST.json" <<'PY'
import json, sys
old, new = (json.load(open(p))["held_out"]["held_out_heads"]["T1w->FLAIR"]["whole head, source prompt"]["ssim"]
            for p in sys.argv[1:])
print(f"  {old:.4f} -> {new:.4f}: " + ("holds" if new >= old + 0.005 else "fails"))
PY
echo "== (b)"
rule_1_prime run "$FIRST"
echo "== (c)"
real_t1_flair_verdict run not-above
echo "== reported: the engine's rule against the training level (probe_levels_anatomy.py, cases $FIRST-$((FIRST + 23)))"
"$PY" - "$OUT/v9_levels_cases$FIRST.json" "$OUT/run_levels_cases$FIRST.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    (label, tasks), = json.load(open(path))["models"].items()
    for task, cells in tasks.items():
        print(f"  {label:4} {task:11} " + "; ".join(
            f"{setting}: {c['ssim']:.4f} (rule) / {c['ssim_source_at_training_level']:.4f} (training level)"
            for setting, c in cells.items()))
PY
