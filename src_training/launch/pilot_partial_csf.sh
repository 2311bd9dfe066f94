#!/usr/bin/env bash
# Pilot: demo v9 continued with pixels of CSF mixed into tissue weighted and the rest held to v9
# (src_training/configs/pilots_v9/partial_csf.yaml, whose header holds the verdict), then the reports
# that verdict reads, against v9 as shipped. Every step writes one file under OUT and is skipped
# when it exists, so a stopped run resumes.
#   bash src_training/launch/pilot_partial_csf.sh [OUT]   (about 15 minutes of training, 10 of evaluation)
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, V9, the stage helpers
RUN=runs/pilot_v9_partial_csf
train_stage_fp16 pilots_v9/partial_csf "$RUN"
OUT=${1:-$RUN/verdict}
REF=v9
source src_training/launch/confirm_common.sh
v9_weights
FIRST=580
held_out v9 "$V9" "$FIRST"
held_out run "$RUN/model_fp16" "$FIRST"
robustness run "$RUN/model_fp16"
echo "== (a) T1w->FLAIR, whole head, source prompt, cases $FIRST-$((FIRST + 23))"
"$PY" - "$OUT/v9_cases$FIRST.json" "$OUT/run_cases$FIRST.json" <<'PY'
import json, sys
old, new = (json.load(open(p))["held_out"] for p in sys.argv[1:])
cell = "whole head, source prompt"
ssim = {name: r["held_out_heads"]["T1w->FLAIR"][cell]["per_case"]["ssim"] for name, r in (("v9", old), ("run", new))}
share = old["case_anatomy"]["partial_csf_share"]
most = sorted(range(len(share)), key=lambda i: share[i], reverse=True)[:4]
mean = {k: sum(v) / len(v) for k, v in ssim.items()}
top = {k: sum(v[i] for i in most) / 4 for k, v in ssim.items()}
ok = mean["run"] >= mean["v9"] + 0.005 and top["run"] >= top["v9"] + 0.02
print(f"  all 24: {mean['v9']:.4f} -> {mean['run']:.4f}; the 4 with most mixed CSF (cases "
      f"{', '.join(str(old['first_case'] + i) for i in most)}): {top['v9']:.4f} -> {top['run']:.4f}: "
      + ("holds" if ok else "fails"))
PY
echo "== (b)"
rule_1_prime run "$FIRST"
echo "== (c)"
real_t1_flair_verdict run below
