#!/usr/bin/env bash
# Pilot: a second contrast reader, trained twice as long with more brain crops (6,000 steps, 60 % of
# the images cut to a box inside the brain; the shipped reader: 3,000 steps, 40 %, seed 12), then
# judged against the shipped reader by compare_contrast_readers.py, whose verdict (its docstring)
# was fixed before this reader trained. Resumable: run it again after an interruption.
#   bash src_training/launch/pilot_contrast_reader_v2.sh      (about 70 minutes on the 2-core CPU)
#
# Why: most inputs come without tags, and the reader gives them their source prompt. It abstains on
# nibabel's real 2 mm crop (T1-weighted at p 0.71, FLAIR 0.29), where the source prompt raises
# T1w->FLAIR SSIM from 0.668 to 0.780 (evaluation.json, real_anatomy), and on the suite's 2 mm crops
# it names the T1 contrasts with FLAIR at up to p 0.90 in one case of six.
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, V7-V9, the stage helpers
RUN=runs/contrast_reader_v2
[ -s "$RUN/model/model.safetensors" ] || $PY -m napari_evai2i.train.contrast_reader --out "$RUN" --steps 6000 \
    --brain-crop 0.6 --seed 13 --resume > "$RUN.log" 2>&1
reader_verdict "$RUN"
