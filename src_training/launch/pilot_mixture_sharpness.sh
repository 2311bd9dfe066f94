#!/usr/bin/env bash
# Pilot: demo v9 with the tissue mixture's sharpness read from the prompt, only that small network
# trained (src_training/configs/pilots_v9/mixture_sharpness.yaml, whose header fixes the verdict and
# says why); then its float16 copy, the reports it is judged on, the factor each preset prompt gets,
# and the verdict (pilot_verdict.py --question mixture_sharpness), against v9 as shipped.
#   bash src_training/launch/pilot_mixture_sharpness.sh      (about 15 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1
PY=${PYTHON:-$PWD/.venv/bin/python}
V9=${V9:-runs/demo_v9/model_fp16}
RUN=runs/pilot_v9_mixture_sharpness
OUT=$RUN/verdict
source src_training/launch/train_stage.sh
train_stage pilots_v9/mixture_sharpness "$RUN"
[ -s "$RUN/model_fp16/model.safetensors" ] || \
    "$PY" src_training/launch/ship_checkpoint.py "$RUN/model" --target "$RUN/model_fp16" > /dev/null
bash src_training/launch/eval_number_pilot.sh "$OUT" v9 "$V9" sharp "$RUN/model_fp16"
"$PY" - "$RUN/model_fp16" <<'PYEOF'
import sys, torch
from napari_evai2i import load_model
from napari_evai2i.data.physics import PRESETS
model = load_model(sys.argv[1], "cpu").model
with torch.no_grad():
    for kind, protocol in PRESETS.items():
        style = model.prompt_styles([protocol.prompt()], "cpu")
        print(f"sharpness factor, {kind} preset: {model.generator.sharpness(style).item():.3f}")
PYEOF
"$PY" src_training/launch/pilot_verdict.py "$OUT" v9 sharp --question mixture_sharpness
