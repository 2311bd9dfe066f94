#!/usr/bin/env bash
# demo_cpu_v6_tissue_contrast.yaml's verdicts (fixed in its header before the run): Q1 on FLAIR
# GM/WM, rule 1' on fresh held-out cases 256-279 (confirm_v6_candidate.sh has the steps).
#   bash src_training/launch/confirm_tissue_contrast.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN=runs/demo_cpu_v6_tissue_contrast MEAN=runs/mean_v6_tissue_contrast FIRST=256 Q_RATIO=GM/WM \
    exec bash src_training/launch/confirm_v6_candidate.sh "${1:-runs/confirm_tissue_contrast}"
