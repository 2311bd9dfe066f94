#!/usr/bin/env bash
# Reproduce the shipped demo (v10) on the 2-core CPU: five recipes, each continuing the model of the
# one before, then the mean of the last three models' weights (v5); v5's float16 copy trained on
# with mixed canvases, and the mean of v5 and that run (v6); v6's float16 copy with a map of the
# prompt's inversion time, only that map trained (v7); v7's prompt numbers given one path, a small
# network fitted to v7's own styles with no image rendered (v8); v8's number network trained on
# images with FLAIR TIs from 0.70 x the CSF null (stage 9a), and v8 with a correction below the
# null fitted to that model's styles there, no image rendered (v9); v9's whole prompt style refitted
# by a number network that also reads the tissue contrast each protocol implies, no image rendered
# (v10); evaluate (standard and robustness suites) and package. About 7 hours in all (docs/model_card.md, "How it was trained"),
# so it spans sessions: run the script again after an interruption. A stage whose model finished is
# skipped, an unfinished one resumes from its last checkpoint (bit-identical on a CPU).
# Usage: bash src_training/launch/train_demo.sh      (from the repository root, venv active or .venv present)
#        V9_FROM_GIT=1 bash src_training/launch/train_demo.sh
#                         starts from v9 as shipped (its files from git, checked by hash): stage 10,
#                         evaluation and packaging, about 15 minutes
#        V8_FROM_GIT=1 bash src_training/launch/train_demo.sh
#                         starts from v8 as shipped: stages 9 and 10, about 30 minutes
#        V7_FROM_GIT=1 bash src_training/launch/train_demo.sh
#                         starts from v7 as shipped: stages 8 to 10, about 45 minutes
#        V6_FROM_GIT=1 bash src_training/launch/train_demo.sh
#                         starts from v6 as shipped: stages 7 to 10, about 70 minutes
#        V5_FROM_GIT=1 bash src_training/launch/train_demo.sh
#                         starts from v5 as shipped: stages 6 to 10, about 110 minutes
# The recipe `demo` alone (python -m napari_evai2i.train --config demo) reproduces v2, v4's start.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-$PWD/.venv/bin/python}
export HF_HUB_OFFLINE=1
CHAIN=(demo_cpu_plain_sources demo_cpu_plain_sources_unprompted demo_cpu_plain_sources_longer
       demo_cpu_plain_sources_unknown_gamma demo_cpu_plain_sources_coarse)
source src_training/launch/train_stage.sh   # train_stage RECIPE: skip, train or resume one stage
from_git() {   # LABEL (v5 to v9): runs/demo_LABEL/model_fp16 as shipped, its files from git (checked by hash)
    [ -s "runs/demo_$1/model_fp16/model.safetensors" ] && return
    OUT=runs/demo_$1; REF=$1; source src_training/launch/confirm_common.sh   # makes runs/demo_LABEL
    mkdir -p "runs/demo_$1/model_fp16" && cp "runs/demo_$1/config.json" "runs/demo_$1/model.safetensors" "runs/demo_$1/model_fp16/"
}
for version in 5 6 7 8 9; do
    flag=V${version}_FROM_GIT
    [ "${!flag:-0}" != 1 ] || from_git "v$version"
done
if [ ! -s runs/demo_v9/model_fp16/model.safetensors ]; then   # stages 1-9 (v9), unless it is there
if [ ! -s runs/demo_v8/model_fp16/model.safetensors ]; then
    if [ ! -s runs/demo_v7/model_fp16/model.safetensors ]; then
        if [ ! -s runs/demo_v6/model_fp16/model.safetensors ]; then
            if [ ! -s runs/demo_v5/model_fp16/model.safetensors ]; then
                for recipe in "${CHAIN[@]}"; do train_stage "$recipe"; done
                $PY src_training/launch/average_weights.py runs/demo_v5/model runs/demo_cpu_plain_sources_longer/model \
                    runs/demo_cpu_plain_sources_unknown_gamma/model runs/demo_cpu_plain_sources_coarse/model
                $PY src_training/launch/ship_checkpoint.py runs/demo_v5/model --target runs/demo_v5/model_fp16
            fi
            cp runs/demo_v5/model_fp16/config.json runs/demo_v5/model_fp16/model.safetensors runs/demo_v5/   # init_from of stage 6
            STAGE6=demo_cpu_v5_mixed_canvas_mean
            train_stage "$STAGE6"
            $PY src_training/launch/ship_checkpoint.py "runs/$STAGE6/model" --target "runs/$STAGE6/model_fp16"
            $PY src_training/launch/average_weights.py runs/demo_v6/model runs/demo_v5 "runs/$STAGE6/model_fp16"
            $PY src_training/launch/ship_checkpoint.py runs/demo_v6/model --target runs/demo_v6/model_fp16
        fi
        cp runs/demo_v6/model_fp16/config.json runs/demo_v6/model_fp16/model.safetensors runs/demo_v6/   # init_from of stage 7
        STAGE7=demo_cpu_v6_ti_only
        train_stage "$STAGE7"
        $PY src_training/launch/ship_checkpoint.py "runs/$STAGE7/model" --target runs/demo_v7/model_fp16
    fi
    distill_numbers_stage runs/demo_v7/model_fp16 runs/demo_v8                  # stage 8
fi
STAGE9=demo_cpu_v8_ti_below_null                                             # stage 9a
train_stage_fp16 "$STAGE9"
below_null_stage runs/demo_v8/model_fp16 "runs/$STAGE9/model_fp16" runs/demo_v9   # stage 9b
fi
physics_stage runs/demo_v9/model_fp16 runs/demo_v10 20000                   # stage 10
$PY -m napari_evai2i.train.evaluate --suite robustness --model runs/demo_v10/model_fp16 --cases 6 \
    --figure docs/images/robustness_real_t1.png --json runs/demo_v10/robustness.json
$PY -m napari_evai2i.train.evaluate --suite standard --model runs/demo_v10/model_fp16 --seeds 1001 1002 \
    --resolution 1 --json runs/demo_v10/standard.json
$PY - <<'PYTHON'
import json
standard = json.load(open("runs/demo_v10/standard.json"))
joined = {k: standard[k] for k in ("model", "seeds", "resolution_mm", "tasks", "te_sweep", "te_response")}
joined["robustness"] = json.load(open("runs/demo_v10/robustness.json"))["robustness"]
json.dump(joined, open("runs/demo_v10/evaluation.json", "w"), indent=2)
PYTHON
$PY src_training/launch/ship_checkpoint.py runs/demo_v10/model --eval runs/demo_v10/evaluation.json
