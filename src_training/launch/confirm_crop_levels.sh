#!/usr/bin/env bash
# demo_cpu_v5_crop_levels.yaml's verdicts (fixed in its header before the run), on its float16 copy
# with the head box: question Q on held-out cases 18 and 20 (T2w->T1w crop without a prompt, each
# above 0.5 SSIM; v5 0.09 and 0.12), rule 1' on fresh cases 184-207 against v5, rules 2 and 4.
#   bash src_training/launch/confirm_crop_levels.sh [OUT_DIR]     (about 8 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_crop_levels}
source src_training/launch/confirm_common.sh
RUN=runs/demo_cpu_v5_crop_levels
fp16_copy "$RUN"
for label_model in v5=$V5 crop_levels=$RUN/model_fp16; do held_out "${label_model%%=*}" "${label_model#*=}" 18 3; done
echo "== Q: T2w->T1w crop without a prompt, cases 18 and 20 (SSIM)"
"$PY" - "$OUT" <<'PY'
import json, sys
for label in ("v5", "crop_levels"):
    cell = json.load(open(f"{sys.argv[1]}/{label}_cases18.json"))["held_out"]["held_out_heads"]["T2w->T1w"][
        "crop inside the brain, no source prompt"]["per_case"]["ssim"]
    print(f"{label:12s} case 18 {cell[0]:.3f}  case 20 {cell[2]:.3f}")
PY
for label_model in v5=$V5 crop_levels=$RUN/model_fp16; do held_out "${label_model%%=*}" "${label_model#*=}" 184; done
robustness crop_levels "$RUN/model_fp16"
rule_1_prime crop_levels 184
rules_2_and_4 crop_levels
