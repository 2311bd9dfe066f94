#!/usr/bin/env bash
# demo_cpu_v5_mixed_canvas.yaml's verdicts (fixed in its header before the run), on its float16
# copy as it would ship, with the head box: rule 1' on held-out cases 136-159 against v5 (nobody
# has looked at them), rules 2 and 4 on the robustness suite, and question Q, the air probe on
# cases 6-17 against v5's record (docs/results/probe_air_around_head.json). The standard suite
# runs afterwards, only if these pass.
#   bash src_training/launch/confirm_mixed_canvas.sh [OUT_DIR]     (about 12 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_mixed_canvas}
source src_training/launch/confirm_common.sh
RUN=runs/demo_cpu_v5_mixed_canvas
fp16_copy "$RUN"
for label_model in v5=$V5 mixed_canvas=$RUN/model_fp16; do held_out "${label_model%%=*}" "${label_model#*=}" 136; done
robustness mixed_canvas "$RUN/model_fp16"
[ -s "$OUT/probe_air.json" ] || "$PY" src_training/launch/probe_air_around_head.py mixed_canvas=$RUN/model_fp16 \
    --json "$OUT/probe_air.json"
rule_1_prime mixed_canvas 136
rules_2_and_4 mixed_canvas
