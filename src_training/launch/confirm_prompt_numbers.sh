#!/usr/bin/env bash
# demo_cpu_v6_prompt_numbers.yaml's verdicts (fixed in its header before the run): Q1 on FLAIR
# following TI, Q2 on FLAIR tissue Dice, rule 1' on fresh held-out cases 304-327
# (confirm_v6_candidate.sh has the steps).
#   bash src_training/launch/confirm_prompt_numbers.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN=runs/demo_cpu_v6_prompt_numbers MEAN=runs/mean_v6_prompt_numbers FIRST=304 Q=flair_ti \
    exec bash src_training/launch/confirm_v6_candidate.sh "${1:-runs/confirm_prompt_numbers}"
