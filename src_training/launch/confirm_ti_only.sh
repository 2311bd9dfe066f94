#!/usr/bin/env bash
# demo_cpu_v6_ti_only.yaml's verdicts (fixed in its header before the run), on the run's float16
# copy with the head box, against v6 as shipped (from git):
#   Q1: FLAIR's grey-white ratio on the source's classes rises from TI 2210 to 2500 ms by at least
#       0.012, with and without the source prompt (probe_flair_inversion_time.py, cases 6-17);
#   Q2: T1w->FLAIR tissue Dice inside the brain mask eroded by 2 pixels (whole head, no source
#       prompt; probe_edge_rim_dice.py) above v6's on the fresh cases from FIRST (the mean of the
#       case-by-case differences above zero);
#   rule 1' on the same cases, rules 2 and 4 (robustness suite), the standard suite's four template
#   tasks within 0.02 of v6's.
#   bash src_training/launch/confirm_ti_only.sh [OUT_DIR]     (about 12 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_ti_only}
REF=v6
source src_training/launch/confirm_common.sh
RUN=${RUN:-runs/demo_cpu_v6_ti_only}
FIRST=${FIRST:-352}
fp16_copy "$RUN"
CANDIDATE=$RUN/model_fp16

json="$OUT/probe_flair_inversion_time.json"
[ -s "$json" ] || "$PY" src_training/launch/probe_flair_inversion_time.py v6=$V6 run=$CANDIDATE \
    --first-case 6 --cases 12 --tis 2210 2500 --json "$json" > /dev/null
ti_rise_verdict "$json" v6 run

json="$OUT/probe_edge_rim_dice_cases$FIRST.json"
[ -s "$json" ] || "$PY" src_training/launch/probe_edge_rim_dice.py v6=$V6 run=$CANDIDATE \
    --first-case $FIRST --cases 24 --per-case --json "$json" > /dev/null
echo "== Q2: T1w->FLAIR Dice inside the eroded mask, whole head, no source prompt, cases from $FIRST"
inner_dice_verdict "$json" v6 run

ship_checks run "$CANDIDATE" "$FIRST"
