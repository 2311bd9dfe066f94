#!/usr/bin/env bash
# The two arms of the GPU lease (demo_gpu_v5.yaml, demo_gpu_v5_canvas192.yaml) against demo v5,
# by the verdicts fixed in demo_gpu_v5.yaml's header before the lease: rule 1' on held-out cases
# 78-101 (nobody had looked at them), rules 2 and 4 on the robustness suite, all on the float16
# copies as they would ship and with the head box. The standard suite runs afterwards, only for
# an arm that passes these.
#   bash src_training/launch/confirm_gpu_v5.sh [OUT_DIR]     (about 12 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_gpu_v5}
source src_training/launch/confirm_common.sh
ARMS="demo_gpu_v5 demo_gpu_v5_canvas192"
held_out v5 "$V5" 78
for arm in $ARMS; do
    held_out "$arm" "runs/$arm/model_fp16" 78
    robustness "$arm" "runs/$arm/model_fp16"
done
for arm in $ARMS; do
    rule_1_prime "$arm" 78
    rules_2_and_4 "$arm"
done
