#!/usr/bin/env bash
# The mean of the two GPU arms' weights (demo_gpu_v5 and demo_gpu_v5_canvas192, both continued
# from demo v5) against v5 on held-out cases 112-135, which nobody has looked at (100-111 calibrated the contrast reader).
#
# Why: neither arm passed its verdicts on cases 78-101 (confirm_gpu_v5.sh), and they failed on
# different settings. The 128-pixel arm rose by 0.001-0.003 on 8 of the 10 setting means and lost
# whole heads with 2 mm pixels (-0.007: T1w->T2w -0.012, T1w->FLAIR -0.014) and PDw Dice in crops.
# The 192-pixel arm won whole heads with 2 mm pixels (+0.005) and lost every crop setting
# (-0.015 to -0.020). Both start from the same weights, so the mean of their weights is a model
# of that lineage (average_weights.py) that may keep what each learnt.
#
# Fixed before this script ran (2026-12-06), one candidate only:
#  Ship the mean as the new demo only if, on cases 112-135 against v5 (float16 copies, head box),
#  rule 1' holds (paired_held_out.py --real-loss); rules 2 and 4 hold on its robustness suite
#  (ship_rule.py against the shipped evaluation.json); and the standard suite gives each of the four
#  template tasks an SSIM within 0.02 of v5's.
#   bash src_training/launch/confirm_gpu_soup.sh [OUT_DIR]     (about 8 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_gpu_soup}
source src_training/launch/confirm_common.sh
SOUP=runs/soup_gpu_v5
[ -s "$SOUP/model/model.safetensors" ] || "$PY" src_training/launch/average_weights.py "$SOUP/model" \
    runs/demo_gpu_v5/model_fp16 runs/demo_gpu_v5_canvas192/model_fp16
fp16_copy "$SOUP"
for label_model in v5=$V5 soup_gpu_v5=$SOUP/model_fp16; do held_out "${label_model%%=*}" "${label_model#*=}" 112; done
robustness soup_gpu_v5 "$SOUP/model_fp16"
rule_1_prime soup_gpu_v5 112
rules_2_and_4 soup_gpu_v5
