#!/usr/bin/env bash
# Small from-scratch ablations (model history, "Tried after v4"): the demo recipe at 64-pixel crops
# and 1,500 generator steps, one arm after another (never two trainings at once), each about
# 19 minutes on the 2-core CPU, then the ring phantom, real anatomy and 3 held-out cases per
# setting for each arm. An arm is one change to the data:
#   template      v1's data (simulator: template)
#   randomized    v2/v4's data (the randomized simulator as shipped)
#   physical      randomized without random-contrast sources (random_contrast: 0)
#   prompted      randomized with the source prompt on every item (unknown_source: 0)
#   brain_only    randomized without whole heads (whole_head: 0)
#   fixed_levels  randomized without the sources' gamma and gain (gamma_std: 0, gain: [1, 1])
#   unknown_levels randomized with gamma and gain only on the sources without a prompt
#                 (levels_when_prompted: false)
#   clean_sources randomized without any acquisition effect on the sources (no thick slices,
#                 resolution loss, bias, gamma or gain; SNR 1000)
#   mild_geometry randomized with the template simulator's geometry (rotation 10 degrees, no
#                 scaling, shear or FOV shift, 1 mm pixels, elastic up to 3 mm)
#   template_like the randomized simulator with every change turned back towards v1's data at
#                 once: mild_geometry, no flips, atrophy, lesions, heads, thick slices, gamma,
#                 random-contrast or prompt-less sources; v1's bias, SNR and gain ranges, central slices.
#                 What is left is the simulator's core: its 3-D sampling, its brain-core levels
#   plain_sources template_like's sources in v4's anatomy: every source prompted, physical,
#                 without thick slices, resolution loss or gamma, v1's bias, SNR and gain
#   plain_anatomy template_like's geometry and anatomy (mild geometry, no flips, atrophy,
#                 lesions or heads) with v4's sources
#   bash src_training/launch/ablation_arms.sh [OUT [ARM ...]]   (default runs/ablation, the first three)
# SEED=N repeats the arms with another seed (weights and data) in OUT/ARM_seedN; default the recipe's 0.
# LIST_ARMS=1 prints each arm with the overrides it trains with (tab-separated) and trains nothing.
set -euo pipefail
# all in one function: bash reads a script as it runs, so an edit made meanwhile cannot break it
main() {
    out=${1:-runs/ablation}
    shift || true
    arms=("$@")
    [ ${#arms[@]} -gt 0 ] || arms=(template randomized physical)
    py=${PYTHON:-python}
    common=(crop_size=64 clip_steps=100 init_steps=1500 finetune_steps=0 curriculum_steps=100 max_minutes=25)
    # template_like's two halves, each an arm of its own too
    local plain_anatomy="rotation_deg: 10, scale: [1, 1], shear: 0, shift_mm: 0, position: [0.2, 0.8], pixel_mm: [1, 1], elastic_mm: [0, 3], flip: 0, atrophy: 0, whole_head: 0"
    local plain_sources="thick_probability: 0, resolution_mm: [0.8, 0.8], bias: [0, 0.15], snr: [12, 60], gamma_std: 0, gain: [0.85, 1.15], unknown_source: 0"
    declare -A arm=([template]="simulator=template" [randomized]="simulator=randomized"
                    [physical]="random_contrast=0" [prompted]="randomization={unknown_source: 0}"
                    [brain_only]="randomization={whole_head: 0}"
                    [fixed_levels]="randomization={gamma_std: 0, gain: [1, 1]}"
                    [unknown_levels]="randomization={levels_when_prompted: false}"
                    [clean_sources]="randomization={thick_probability: 0, resolution_mm: [0.8, 0.8], bias: [0, 0], snr: [1000, 1000], gamma_std: 0, gain: [1, 1]}"
                    [mild_geometry]="randomization={rotation_deg: 10, scale: [1, 1], shear: 0, shift_mm: 0, pixel_mm: [1, 1], elastic_mm: [0, 3]}"
                    [template_like]="lesion_probability=0|random_contrast=0|randomization={$plain_anatomy, $plain_sources}"
                    [plain_sources]="random_contrast=0|randomization={$plain_sources}"
                    [plain_anatomy]="lesion_probability=0|randomization={$plain_anatomy}")
    split() { IFS='|' read -ra change <<< "${arm[$1]}"; }     # an arm's overrides, split at |
    if [ -n "${LIST_ARMS:-}" ]; then          # each arm and the overrides it trains with, tab-separated
        for name in "${!arm[@]}"; do
            split "$name"
            printf '%s' "$name"; printf '\t%s' "${common[@]}" "${change[@]}"; printf '\n'
        done
        return
    fi
    for name in "${arms[@]}"; do
        [ -n "${arm[$name]:-}" ] || { echo "unknown arm $name; arms: ${!arm[*]}" >&2; exit 2; }
    done
    seed=${SEED:-0}
    suffix=$([ "$seed" = 0 ] || echo "_seed$seed")
    for name in "${arms[@]}"; do
        if [ ! -f "$out/$name$suffix/model/model.safetensors" ]; then
            split "$name"
            "$py" -m napari_evai2i.train --config demo "${common[@]}" "${change[@]}" seed="$seed" \
                name="ablation_$name$suffix" out="$out/$name$suffix"
        fi
    done
    for name in "${arms[@]}"; do
        "$py" -m napari_evai2i.train.evaluate --suite robustness --model "$out/$name$suffix/model" --cases 3 \
            --json "$out/robustness_$name$suffix.json"
    done
}
main "$@"; exit $?     # on one line: nothing after it is read, so the file may change meanwhile
