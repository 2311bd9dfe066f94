#!/usr/bin/env bash
# The paper recipe on N GPUs of one node with torchrun (data parallel).
# Usage: bash src_training/launch/torchrun_paper.sh MANIFEST [N_GPUS] [OUT]
set -euo pipefail
MANIFEST=${1:?manifest of a real cohort (see docs/data.md)}
N=${2:-8}
OUT=${3:-runs/paper}
torchrun --standalone --nproc_per_node "$N" -m napari_evai2i.train \
    --config paper --out "$OUT" --resume data="$MANIFEST"
