#!/usr/bin/env bash
# Pilot: demo v9 with its prompt style refitted by a number network that also reads the tissue
# contrast each prompt's protocol implies by the signal equations (physics_stage: tiny_prompt_physics.json,
# distill_prompt_numbers.py with v8's settings on v9's last stage's prompts; for a prompt that states
# a whole protocol the text tower reads no weighting word). No image is rendered; no other weight
# changes. Then the reports its verdict reads, against v9 as shipped. Every step writes one file
# under OUT and is skipped when it exists, so a stopped run resumes.
#   bash src_training/launch/pilot_prompt_physics.sh [OUT [STEPS [FIRST_CASE]]]
#        (4 minutes of fitting per 6000 steps, about 12 of evaluation)
#
# Why: zero-shot STIR (TI about 0.1 x the CSF null, a sequence training never shows) scores 9.06 dB,
# below both baselines: v9 reads its prompt by its words and draws CSF dark. In the brain a STIR's
# contrast is close to a T2w's (the true STIR and T2w images of a template subject: SSIM 0.91), a
# contrast training shows often.
#
# Verdict, fixed before the full evaluation ran (the fit's design was chosen by its style error on
# unseen prompts and by zero-shot STIR on the standard suite's seed 1001; model_history.md):
#  (a) zero-shot STIR on the standard suite (seeds 1001 and 1002) beats the identity and histogram
#      matching in both PSNR and SSIM;
#  (b) rule 1' against v9 on 24 fresh held-out cases (652-675): no cell broken;
#  (c) rules 1, 2 and 4 of ship_rule.py on the robustness suite, and the template tasks within 0.02;
#  (d) the other zero-shot tasks (TE 60 ms, TI 2000 ms) each within 0.01 SSIM of v9's, and T2w's
#      CSF/GM still rising with TE.
# Run 1 (6000 steps, cases 652-675; docs/results/prompt_physics_2026-12-07/pilot_6000_steps) passed
# (a), (b) and (d) and failed (c): rule 1 broke in one cell of the suite's 6 cases (T1w->FLAIR, 2 mm
# crop, source read: Dice 0.623 -> 0.587; on cases 652-675 the same cell moved -0.003). Its fit left
# a style error of 0.0235 on unseen prompts (0.029 at the FLAIR preset; v8's fit 0.0164). Run 2,
# fixed before it ran: the same fit for 20000 steps, the same verdict, (b) on cases 676-699:
#   bash src_training/launch/pilot_prompt_physics.sh runs/pilot_prompt_physics_20k 20000 676
set -euo pipefail
cd "$(dirname "$0")/../.."
source src_training/launch/train_stage.sh   # PY, the stage helpers
OUT=${1:-runs/pilot_prompt_physics}
REF=v9
source src_training/launch/confirm_common.sh
v9_weights
physics_stage runs/demo_v9 "$OUT" "${2:-6000}"
ship_checks run "$OUT/model_fp16" "${3:-652}"
[ -s "$OUT/v9_standard.json" ] || "$PY" -m napari_evai2i.train.evaluate --suite standard --model runs/demo_v9 \
    --seeds 1001 1002 --resolution 1 --json "$OUT/v9_standard.json" > /dev/null
echo "== (a) and (d): zero-shot tasks of the standard suite, v9 -> run"
"$PY" - "$OUT/v9_standard.json" "$OUT/run_standard.json" <<'PY'
import json, sys
old, new = (json.load(open(p)) for p in sys.argv[1:])
stir = new["tasks"]["T1w->STIR (held out)"]
beats = all(stir["model"][m] > stir[b][m] for b in ("identity", "histogram_matching") for m in ("psnr", "ssim"))
print(f"  (a) STIR {old['tasks']['T1w->STIR (held out)']['model']} -> {stir['model']}; identity {stir['identity']}, "
      f"histogram matching {stir['histogram_matching']}: " + ("holds" if beats else "fails"))
within = True
for task in ("T1w->T2w TE 60 (held out)", "T1w->FLAIR TI 2000 (held out)"):
    a, b = old["tasks"][task]["model"]["ssim"], new["tasks"][task]["model"]["ssim"]
    within &= b >= a - 0.01
    print(f"  {task}: SSIM {a:.4f} -> {b:.4f}")
rising = new["te_sweep"]["monotonic"]
print(f"  T2w CSF/GM with TE: {[round(v, 2) for k, v in new['te_sweep'].items() if k != 'monotonic']} (rising: {rising})")
print("  (d) " + ("holds" if within and rising else "fails"))
PY
