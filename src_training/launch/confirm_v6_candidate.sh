#!/usr/bin/env bash
# The verdicts of a run that continued v6 (fixed in its recipe's header before it ran), on float16
# copies with the head box, against v6 as shipped (from git): Q, probe_tissue_contrast.py on cases
# 6-17; rule 1' on fresh held-out cases from FIRST; rules 2 and 4; the standard suite's four
# template tasks within 0.02 of v6's. Candidate A is the run alone, B the mean of v6 and the run.
# The recipes' own wrappers set the four names:
#   RUN=runs/x MEAN=runs/mean_x FIRST=280 Q_RATIO=CSF/GM bash src_training/launch/confirm_v6_candidate.sh OUT_DIR
# (about 25 minutes on the 2-core CPU). Q1: T1w->FLAIR's Q_RATIO with the source prompt at least
# 0.03 nearer the truth than v6's; Q2: no ratio of any task and setting further from the truth, as
# |ratio/truth - 1|, than v6's by more than 0.05.
# With Q=flair_ti (demo_cpu_v6_prompt_numbers.yaml) the question is another:
#   RUN=runs/x MEAN=runs/mean_x FIRST=304 Q=flair_ti bash src_training/launch/confirm_v6_candidate.sh OUT_DIR
# Q1: FLAIR's grey-white ratio on the source's classes rises from TI 2210 to 2500 ms by at least
# 0.012, with and without the source prompt (probe_flair_inversion_time.py, cases 6-17); Q2:
# T1w->FLAIR tissue Dice, whole head without a source prompt, above v6's on the fresh cases.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$1
REF=v6
source src_training/launch/confirm_common.sh
mean_with_ref "$RUN" "$MEAN"

Q=${Q:-contrast}
if [ "$Q" = contrast ]; then
[ -s "$OUT/probe_tissue_contrast.json" ] || "$PY" src_training/launch/probe_tissue_contrast.py v6=$V6 \
    run=$RUN/model_fp16 mean=$MEAN/model_fp16 --first-case 6 --cases 12 --json "$OUT/probe_tissue_contrast.json" > /dev/null
echo "== Q: tissue contrast in pure tissue, cases 6-17 (probe_tissue_contrast.py), Q1 on FLAIR $Q_RATIO"
"$PY" - "$OUT/probe_tissue_contrast.json" "$Q_RATIO" <<'PY'
import json, sys
tasks, q_ratio = json.load(open(sys.argv[1]))["tasks"], sys.argv[2]
def error(task, row, ratio):
    return abs(tasks[task][row][ratio] / tasks[task]["truth"][ratio] - 1)
for label in ("run", "mean"):
    flair = "T1w->FLAIR"
    gain = (abs(tasks[flair]["v6, source prompt"][q_ratio] - tasks[flair]["truth"][q_ratio])
            - abs(tasks[flair][f"{label}, source prompt"][q_ratio] - tasks[flair]["truth"][q_ratio]))
    worse = [f"{task} {setting} {ratio} {error(task, f'v6, {setting}', ratio):.3f} -> "
             f"{error(task, f'{label}, {setting}', ratio):.3f}"
             for task in tasks for setting in ("no source prompt", "source prompt") for ratio in ("GM/WM", "CSF/GM")
             if error(task, f"{label}, {setting}", ratio) > error(task, f"v6, {setting}", ratio) + 0.05]
    print(f"{label}: Q1 FLAIR {q_ratio} {gain:+.3f} nearer the truth ({'holds' if gain >= 0.03 else 'fails'}); "
          f"Q2 {'holds' if not worse else 'fails: ' + '; '.join(worse)}")
PY
else
[ -s "$OUT/probe_flair_inversion_time.json" ] || "$PY" src_training/launch/probe_flair_inversion_time.py v6=$V6 \
    run=$RUN/model_fp16 mean=$MEAN/model_fp16 --first-case 6 --cases 12 --tis 2210 2500 \
    --json "$OUT/probe_flair_inversion_time.json" > /dev/null
ti_rise_verdict "$OUT/probe_flair_inversion_time.json" v6 run mean
fi

for label_model in v6=$V6 run=$RUN/model_fp16 mean=$MEAN/model_fp16; do
    held_out "${label_model%%=*}" "${label_model#*=}" "$FIRST"
done
if [ "$Q" = flair_ti ]; then
    echo "== Q2: T1w->FLAIR tissue Dice, whole head without a source prompt, cases from $FIRST, against v6"
    "$PY" - "$OUT" "$FIRST" <<'PY'
import sys
import numpy as np
sys.path.insert(0, "src_training/launch")
from paired_held_out import paired_cells
from summarize_ablation import read_report
out, first = sys.argv[1:]
task, setting = "T1w->FLAIR", "whole head, no source prompt"
v6 = read_report(f"{out}/v6_cases{first}.json")
before = np.mean(v6["held_out_heads"][task][setting]["per_case"]["dice"])
for label in ("run", "mean"):
    d = paired_cells(v6, read_report(f"{out}/{label}_cases{first}.json"))[task, setting, "dice"]
    se = d.std(ddof=1) / np.sqrt(len(d))
    print(f"  {label}: {before:.3f} -> {before + d.mean():.3f} ({d.mean():+.3f} +- {se:.3f}) "
          + ("holds" if d.mean() > 0 else "fails"))
PY
fi
rule_1_prime run "$FIRST"
rule_1_prime mean "$FIRST"
for label in run mean; do
    model=$RUN/model_fp16; [ $label = run ] || model=$MEAN/model_fp16
    robustness $label $model
    rules_2_and_4 $label
    json="$OUT/${label}_standard.json"
    [ -s "$json" ] || "$PY" -m napari_evai2i.train.evaluate --suite standard --model $model --seeds 1001 1002 \
        --resolution 1 --json "$json" > /dev/null
    template_tasks_within $label
done
