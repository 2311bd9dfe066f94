#!/usr/bin/env bash
# The mean of v6 and demo_cpu_v6_prompt_numbers (runs/mean_v6_prompt_numbers, made by
# confirm_prompt_numbers.sh) judged again on FLAIR Dice inside the brain mask eroded by 2 pixels,
# on fresh held-out cases 328-351. Model history, "Tried after v6: FLAIR's inversion time".
# Why: the mean followed TI (Q1) and held rules 1', 2 and 4 and the template tasks, but failed Q2,
# whole-mask FLAIR Dice on cases 304-327 (0.667 -> 0.660, -0.007 +- 0.004). The edge probe then
# showed that whole-mask FLAIR Dice rewards v6's rim, drawn darker than the truth: inside the
# eroded mask the run and v6 were level (0.547 and 0.543). Changing a verdict after seeing it fail
# needs cases nobody has looked at, so this is a new verdict on a new block, fixed here before it ran.
# Verdict: Q2' holds if the mean's T1w->FLAIR Dice inside the eroded mask (whole head, no source
# prompt; probe_edge_rim_dice.py) is above v6's on cases 328-351 (the mean of the case-by-case
# differences above zero), and rule 1' holds against v6 on the same cases. If both hold, the mean is
# a candidate to ship as v7 (its Q1, rules 2 and 4 and template tasks held in confirm_prompt_numbers.sh);
# if not, it is not.
#   bash src_training/launch/confirm_inner_dice.sh [OUT_DIR]     (about 10 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_inner_dice}
REF=v6
source src_training/launch/confirm_common.sh
MEAN=runs/mean_v6_prompt_numbers
FIRST=328
[ -s "$MEAN/model_fp16/model.safetensors" ] || { echo "make $MEAN first: bash src_training/launch/confirm_prompt_numbers.sh" >&2; exit 2; }
held_out v6 "$V6" $FIRST
held_out mean "$MEAN/model_fp16" $FIRST
rule_1_prime mean $FIRST
json="$OUT/probe_edge_rim_dice_cases$FIRST.json"
[ -s "$json" ] || "$PY" src_training/launch/probe_edge_rim_dice.py v6=$V6 mean=$MEAN/model_fp16 \
    --first-case $FIRST --cases 24 --per-case --json "$json" > /dev/null
echo "== Q2': T1w->FLAIR Dice inside the eroded mask, whole head, no source prompt, cases from $FIRST"
inner_dice_verdict "$json" v6 mean
