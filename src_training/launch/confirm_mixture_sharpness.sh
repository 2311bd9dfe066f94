#!/usr/bin/env bash
# Confirm the mixture-sharpness pilot (pilot_mixture_sharpness.sh) on cases it was not chosen on,
# against demo v9 as shipped (from git, checked by its hash). Every step writes one file under OUT
# and is skipped when it exists.
#   RUN=runs/pilot_v9_mixture_sharpness bash src_training/launch/confirm_mixture_sharpness.sh [OUT]   (about 12 minutes)
# No pilot held, so it has not run.
#
# Verdicts, fixed before the pilot's results were seen:
#  Q1  T1w->FLAIR on fresh held-out cases 424-447 (24): the mean tissue Dice of its 10 settings at
#      least v9's + 0.01, and the mean SSIM of its 10 settings at least v9's.
#  Q2  the ship rule against v9: rule 1' on those 24 cases (paired_held_out.py --real-loss), rules 1,
#      2 and 4 on the robustness suite (ship_rule.py), the template tasks within 0.02 of v9's.
#  Q3  T1w->FLAIR on the real anatomies (the robustness suite's real_anatomy check, 4 anatomies, no
#      source prompt and the preset's): mean SSIM at least v9's.
#  Reported: T1w->PDw Dice, real-T1 FLAIR CSF/GM, and the whole evaluation against v9's.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/confirm_mixture_sharpness}
REF=v9
source src_training/launch/confirm_common.sh
RUN=${RUN:-runs/pilot_v9_mixture_sharpness}
FIRST=${FIRST:-448}    # written for 424-447, which a diagnosis of T 0.7 on v9 spent (model history, "Tried after v9")
[ -s "$RUN/model_fp16/model.safetensors" ] || { echo "$RUN/model_fp16: run its pilot script first" >&2; exit 2; }
CANDIDATE=$RUN/model_fp16

ship_checks run "$CANDIDATE" "$FIRST"
echo "== Q1: T1w->FLAIR over its held-out settings, cases $FIRST-$((FIRST + 23))"
"$PY" - "$OUT/v9_cases$FIRST.json" "$OUT/run_cases$FIRST.json" <<'PY'
import json, sys
old, new = (json.load(open(p))["held_out"]["held_out_heads"] for p in sys.argv[1:])
for task in ("T1w->FLAIR", "T1w->PDw"):
    mean = {m: {name: sum(c[m] for c in heads[task].values()) / len(heads[task]) for name, heads in (("v9", old), ("run", new))}
            for m in ("dice", "ssim")}
    line = f"  {task}: Dice {mean['dice']['v9']:.4f} -> {mean['dice']['run']:.4f}, SSIM {mean['ssim']['v9']:.4f} -> {mean['ssim']['run']:.4f}"
    if task == "T1w->FLAIR":
        ok = mean["dice"]["run"] >= mean["dice"]["v9"] + 0.01 and mean["ssim"]["run"] >= mean["ssim"]["v9"]
        line += ": " + ("holds" if ok else "fails")
    print(line + ("" if task == "T1w->FLAIR" else " (reported)"))
PY
echo "== Q3: T1w->FLAIR on the real anatomies (robustness suite)"
"$PY" - "$OUT/v9_evaluation.json" "$OUT/run_robustness.json" <<'PY'
import json, sys
def scores(path):
    data = json.load(open(path))
    anatomy = data.get("robustness", data)["real_anatomy"]
    return {(name, key): cells["T1w->FLAIR"][key]["ssim"] for name, cells in anatomy.items()
            for key in ("no source prompt", "source prompt")}
old, new = scores(sys.argv[1]), scores(sys.argv[2])
for cell in old:
    print(f"  {cell[0]}, {cell[1]}: {old[cell]:.4f} -> {new[cell]:.4f}")
a, b = sum(old.values()) / len(old), sum(new.values()) / len(new)
print(f"  mean {a:.4f} -> {b:.4f}: " + ("holds" if b >= a else "fails"))
PY
