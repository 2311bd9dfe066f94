#!/usr/bin/env bash
# Pilot: the shipped contrast reader's recipe (3,000 steps, 40 % brain crops, seed 12) with one
# change: FLAIR protocols are drawn again until grey matter is brighter than white
# (--flair-grey-above-white), then judged against the shipped reader by compare_contrast_readers.py,
# whose verdict (its docstring) is unchanged from pilot_contrast_reader_v2.sh and fixed before this
# reader trained. Resumable: run it again after an interruption.
#   bash src_training/launch/pilot_contrast_reader_grey_above_white.sh      (about 32 minutes)
#
# Why: the second reader (pilot_contrast_reader_v2.sh) read nibabel's real 2 mm T1 crop as FLAIR.
# 12 % of the generator's FLAIR draws have white matter at or above grey (WM/GM up to 1.03; spin-echo
# T1w from 1.16), which clinical FLAIR does not show, and under a gamma and 2 mm partial volume such a
# FLAIR and a T1 crop look alike. Only the reader's data change; the translator's generator does not.
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, V7-V9, the stage helpers
RUN=runs/contrast_reader_grey_above_white
[ -s "$RUN/model/model.safetensors" ] || $PY -m napari_evai2i.train.contrast_reader --out "$RUN" --steps 3000 \
    --brain-crop 0.4 --seed 12 --flair-grey-above-white --resume > "$RUN.log" 2>&1
reader_verdict "$RUN"
