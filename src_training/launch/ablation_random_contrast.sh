#!/usr/bin/env bash
# A small from-scratch ablation (model card, "Tried after v4: physical sources only"): the demo
# recipe at 64-pixel crops and 1,500 generator steps, three arms one after another (never two
# trainings at once), each about 14 minutes on the 2-core CPU:
#   template    v1's data (simulator: template)
#   randomized  v2/v4's data (random-contrast sources in half the prompt-less items)
#   physical    v2/v4's data without random-contrast sources (random_contrast: 0)
# Then the ring phantom, real anatomy and 3 held-out cases per setting for each arm.
#   bash src_training/launch/ablation_random_contrast.sh [OUT]      (default runs/ablation)
set -euo pipefail
out=${1:-runs/ablation}
py=${PYTHON:-python}
common=(crop_size=64 clip_steps=100 init_steps=1500 finetune_steps=0 curriculum_steps=100 max_minutes=25)
declare -A arm=([template]="simulator=template" [randomized]="simulator=randomized" [physical]="random_contrast=0")
for name in template randomized physical; do
    if [ ! -f "$out/$name/model/model.safetensors" ]; then
        "$py" -m napari_evai2i.train --config demo "${common[@]}" ${arm[$name]} name="ablation_$name" out="$out/$name"
    fi
done
for name in template randomized physical; do
    "$py" -m napari_evai2i.train.evaluate --suite robustness --model "$out/$name/model" --cases 3 \
        --json "$out/robustness_$name.json"
done
