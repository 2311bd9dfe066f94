#!/usr/bin/env bash
# Retrain v6's last stage from demo v5 (from git) and check that the mean it makes is the shipped
# demo's weights, tensor for tensor. About 37 minutes on the 2-core CPU; resumable (run it again).
#
# Why: train_demo.sh claims to reproduce v6; every stage is deterministic on a CPU, but stage 6
# (mixed canvases) had only been checked by a test, never by rerunning its recipe to the end.
#
#   bash src_training/launch/check_v6_reproduction.sh [OUT_DIR]      (default runs/repro_v6)
# Prints check_reproduction.py's comparison of the two training logs, then one line per check;
# exit status 1 when the weights differ.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/repro_v6}
source src_training/launch/confirm_common.sh   # "$V5": v5 from git, hash-checked (stage 6's init_from)
source src_training/launch/train_stage.sh
STAGE6=demo_cpu_v5_mixed_canvas_mean
train_stage "$STAGE6" "$OUT/stage6"
"$PY" src_training/launch/check_reproduction.py "docs/results/v6_2026-12-06/${STAGE6}_metrics.jsonl" \
    "$OUT/stage6/metrics.jsonl" || true
fp16_copy "$OUT/stage6"
[ -s "$OUT/mean/model/model.safetensors" ] || \
    "$PY" src_training/launch/average_weights.py "$OUT/mean/model" "$V5" "$OUT/stage6/model_fp16"
fp16_copy "$OUT/mean"
sha256sum napari_evai2i/weights/demo/model.safetensors "$OUT/mean/model_fp16/model.safetensors"
"$PY" - "$OUT/mean/model_fp16/model.safetensors" <<'PYTHON'
import sys
import torch
from safetensors.torch import load_file
shipped = load_file("napari_evai2i/weights/demo/model.safetensors")
rerun = load_file(sys.argv[1])
differ = [name for name in shipped if name not in rerun or not torch.equal(shipped[name], rerun[name])]
extra = sorted(set(rerun) - set(shipped))
print(f"tensors: {len(shipped)} shipped, {len(rerun)} rerun; differing: {len(differ)}; "
      f"only in the rerun: {len(extra)}")
print("v6 reproduced: " + ("yes, every tensor equal" if not differ and not extra else
                           "NO: " + ", ".join((differ + extra)[:5])))
sys.exit(1 if differ or extra else 0)
PYTHON
