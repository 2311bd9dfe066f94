#!/usr/bin/env bash
# demo_cpu_v5_control.yaml's verdicts (fixed in its header before the run), on float16 copies with
# the head box: question Q on cases 136-159 and 184-207 against v5's recorded reports, then rule 1'
# on fresh cases 208-231 and rules 2 and 4 for the control and for the mean of v5 and the control.
#   bash src_training/launch/confirm_v5_control.sh prepare    (before training: runs/demo_v5)
#   bash src_training/launch/confirm_v5_control.sh [OUT_DIR]  (after it; about 20 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = prepare ]; then
    OUT=runs; source src_training/launch/confirm_common.sh; exit 0     # sourcing makes runs/demo_v5
fi
OUT=${1:-runs/confirm_v5_control}
source src_training/launch/confirm_common.sh
RUN=runs/demo_cpu_v5_control
mean_with_v5 "$RUN" runs/mean_v5_control

PDW=(--show "T1w->PDw" "whole head, no source prompt" dice)
cp docs/results/mixed_canvas_2026-12-06/v5_cases136.json docs/results/crop_levels_2026-12-06/v5_cases184.json "$OUT/"
for first in 136 184; do held_out control "$RUN/model_fp16" $first; done
echo "== Q: T1w->PDw whole head without a prompt, Dice, the control against v5"
for first in 136 184; do rule_1_prime control $first "${PDW[@]}" | grep -E "^cases|^cell"; done

for label_model in v5=$V5 control=$RUN/model_fp16 mean=runs/mean_v5_control/model_fp16; do
    held_out "${label_model%%=*}" "${label_model#*=}" 208
done
for label_model in control=$RUN/model_fp16 mean=runs/mean_v5_control/model_fp16; do
    robustness "${label_model%%=*}" "${label_model#*=}"
    rule_1_prime "${label_model%%=*}" 208 "${PDW[@]}"
    rules_2_and_4 "${label_model%%=*}"
done
