#!/usr/bin/env bash
# demo_cpu_v5_mixed_canvas_mean.yaml's verdicts (fixed in its header before the run), on float16
# copies with the head box: question Q, the air probe (cases 6-17) of the mean of v5 and the run
# against v5's record; rule 1' on fresh cases 232-255 against v5; rules 2 and 4. The run alone is
# scored on the same cases, for the record.
#   bash src_training/launch/confirm_mixed_canvas_mean.sh [OUT_DIR]   (about 20 minutes on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_mixed_canvas_mean}
source src_training/launch/confirm_common.sh
RUN=runs/demo_cpu_v5_mixed_canvas_mean
MEAN=runs/mean_v5_mixed_canvas
mean_with_v5 "$RUN" "$MEAN"

[ -s "$OUT/probe_air.json" ] || "$PY" src_training/launch/probe_air_around_head.py \
    mean=$MEAN/model_fp16 run=$RUN/model_fp16 --json "$OUT/probe_air.json" > /dev/null
echo "== Q: air cost (1 mm minus 1 mm in air), cases 6-17; v5 from docs/results/probe_air_around_head.json"
"$PY" - "$OUT/probe_air.json" docs/results/probe_air_around_head.json <<'PY'
import json, sys
probe, record = (json.load(open(p))["models"] for p in sys.argv[1:])
rows = {"v5": record["v5"], **probe}
for label, tasks in rows.items():
    print(f"{label:5s}", "  ".join(f"{t} {s['1 mm'] - s['1 mm in air']:.3f}" for t, s in tasks.items()))
held = all(probe["mean"][t]["1 mm"] - probe["mean"][t]["1 mm in air"] < rows["v5"][t]["1 mm"] - rows["v5"][t]["1 mm in air"]
           for t in probe["mean"])
print("Q:", "holds" if held else "fails")
PY

for label_model in v5=$V5 mean=$MEAN/model_fp16 run=$RUN/model_fp16; do
    held_out "${label_model%%=*}" "${label_model#*=}" 232
done
PDW=(--show "T1w->PDw" "whole head, no source prompt" dice)
rule_1_prime run 232 "${PDW[@]}"
rule_1_prime mean 232 "${PDW[@]}"
robustness mean $MEAN/model_fp16
rules_2_and_4 mean
