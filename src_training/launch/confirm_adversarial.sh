#!/usr/bin/env bash
# demo_cpu_v6_adversarial.yaml's verdicts (fixed in its header before the run): Q1 on FLAIR
# CSF/GM, rule 1' on fresh held-out cases 280-303 (confirm_v6_candidate.sh has the steps).
#   bash src_training/launch/confirm_adversarial.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN=runs/demo_cpu_v6_adversarial MEAN=runs/mean_v6_adversarial FIRST=280 Q_RATIO=CSF/GM \
    exec bash src_training/launch/confirm_v6_candidate.sh "${1:-runs/confirm_adversarial}"
