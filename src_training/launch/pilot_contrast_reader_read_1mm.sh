#!/usr/bin/env bash
# Pilot: the shipped contrast reader, unchanged, reading every slice whose pixels are coarser than
# 1 mm upsampled to 1 mm (`read_at_mm: 1.0` in a copy of its config.json), judged against the shipped
# reader by compare_contrast_readers.py's verdict (its docstring, fixed before the reader pilots ran),
# with the fresh block moved to cases 472-483: a scratch probe of the idea (scipy's zoom, not the
# engine's resampling) had already looked at cases 0-5, 100-111 and 460-471.
#   bash src_training/launch/pilot_contrast_reader_read_1mm.sh      (about 5 minutes)
#
# Why: given nibabel's 2 mm crop upsampled to 1 mm, the shipped reader was surer it is T1-weighted
# (p 0.71 -> 0.78-0.81), and in the scratch probe it used more of the held-out 2 mm crops.
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, V7-V9, the stage helpers
RUN=runs/contrast_reader_read_1mm
reader_copy napari_evai2i/weights/contrast_reader "$RUN/model" 1.0
reader_verdict "$RUN" --fresh-first-case 472
