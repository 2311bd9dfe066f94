#!/usr/bin/env bash
# The reports a prompt-number pilot is judged on (pilot_verdict.py), for a model LABEL against REF:
# held-out cases 256-261 for both, the T2w TE probe (45, 60, 75 ms, cases 6-17) and the FLAIR edge
# probe (cases 256-261); with TIS set, the FLAIR TI probe at those TIs too (cases 6-17). Each report
# is skipped when it exists, so a stopped evaluation resumes.
#   bash src_training/launch/eval_number_pilot.sh OUT REF_LABEL REF_MODEL LABEL MODEL   (about 5 minutes)
#   TIS="1700 1950 2210 2500" bash src_training/launch/eval_number_pilot.sh ...
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$1; REF=$2; REF_MODEL=$3; LABEL=$4; MODEL=$5
export HF_HUB_OFFLINE=1
PY=${PYTHON:-$PWD/.venv/bin/python}
mkdir -p "$OUT"
for pair in "$REF=$REF_MODEL" "$LABEL=$MODEL"; do
    json="$OUT/${pair%%=*}_cases256.json"
    [ -s "$json" ] || "$PY" -m napari_evai2i.train.evaluate --suite held-out --model "${pair#*=}" --first-case 256 \
        --cases 6 --json "$json" > /dev/null
done
json="$OUT/probe_te_cases6.json"
[ -s "$json" ] || "$PY" src_training/launch/probe_protocol_sweep.py "$REF=$REF_MODEL" "$LABEL=$MODEL" --target T2W \
    --quantity te --values 45 60 75 --first-case 6 --cases 12 --json "$json" > /dev/null
json="$OUT/probe_edge_rim_dice_cases256.json"
[ -s "$json" ] || "$PY" src_training/launch/probe_edge_rim_dice.py "$REF=$REF_MODEL" "$LABEL=$MODEL" --first-case 256 \
    --cases 6 --per-case --json "$json" > /dev/null
json="$OUT/probe_ti_cases6.json"
[ -z "${TIS:-}" ] || [ -s "$json" ] || "$PY" src_training/launch/probe_flair_inversion_time.py "$REF=$REF_MODEL" \
    "$LABEL=$MODEL" --first-case 6 --cases 12 --tis $TIS --json "$json" > /dev/null
