# Steps shared by the confirm_*.sh scripts that judge a candidate against an earlier demo.
# Source it from such a script after `cd` to the repository root; it sets PY and OUT's folder.
# Every step writes one JSON under $OUT and is skipped when that file exists, so a script that
# was stopped resumes where it was.
#   OUT=runs/confirm_x; source src_training/launch/confirm_common.sh
#   "$V5"                                 # runs/demo_v5: demo v5 as shipped (float16, from git, checked
#                                         #   by its hash); made when this file is sourced. The package's
#                                         #   `demo` is v6 now, so v5 is never scored as `demo`.
#   fp16_copy runs/x                      # runs/x/model -> runs/x/model_fp16, as it would ship
#   mean_with_v5 runs/x runs/mean_x       # runs/mean_x/model(_fp16): the mean of v5's and x's weights
#   held_out v5 "$V5" 208                 # $OUT/v5_cases208.json: 24 held-out cases from 208
#   held_out x runs/x/model_fp16 208
#   held_out x0 runs/x/model_fp16 0 6 --no-head-box   # 6 cases from 0, other evaluate options after
#   robustness x runs/x/model_fp16        # $OUT/x_robustness.json: the robustness suite's 6 cases
#   rule_1_prime x 208 [--show ...]       # paired_held_out.py --real-loss against v5_cases208.json
#   rules_2_and_4 x                       # ship_rule.py against v5's evaluation.json
#   real_t1_flair_verdict x below         # nibabel's FLAIR CSF/GM without a prompt below the reference's
#                                         #   (or not-above), every real-T1 tissue order right
#   template_tasks_within x               # $OUT/x_standard.json's template tasks within 0.02 of the reference's
#   ship_checks x runs/x/model_fp16 352   # the five lines above in one: held_out (both), rule_1_prime,
#                                         #   robustness, rules_2_and_4, the standard suite and template_tasks_within
#   inner_dice_verdict JSON v6 x          # FLAIR Dice inside the eroded mask, x against v6 (probe_edge_rim_dice.py)
#   ti_rise_verdict JSON v6 x [y]         # FLAIR follows TI 2210 -> 2500 ms, x (and y) against v6 (probe_flair_inversion_time.py)
#   v4_weights                            # "$V4" (runs/demo_v4): demo v4 as shipped, from git, for the
#                                         #   v4-era scripts (confirm_held_out.sh, confirm_head_box.sh,
#                                         #   confirm_fresh_block.sh)
#   v6_weights                            # "$V6" (runs/demo_v6): demo v6 as shipped, from git
#   v7_weights                            # "$V7" (runs/demo_v7): demo v7 as shipped, from git
#   v8_weights                            # "$V8" (runs/demo_v8): demo v8 as shipped, from git
#   v9_weights                            # "$V9" (runs/demo_v9): demo v9 as shipped, from git
#   v10_weights                           # runs/demo_v10: demo v10 as shipped, from git
# A script that judges against v6 sets REF=v6 before sourcing: rule_1_prime then reads
# $OUT/v6_casesFIRST.json, rules_2_and_4 v6's evaluation.json, and mean_with_ref means with v6.

export HF_HUB_OFFLINE=1
PY=${PYTHON:-$PWD/.venv/bin/python}
mkdir -p "$OUT"
V5=runs/demo_v5
V4=runs/demo_v4
V6=runs/demo_v6
V7=runs/demo_v7
V8=runs/demo_v8
V9=runs/demo_v9
REF=${REF:-v5}
# where each demo shipped, and its weights' sha256 (demo_from_git checks them)
declare -A SHIPPED_AT=([v4]=eed3986 [v5]=8282fb6 [v6]=4e4d66f [v7]=9c36dba [v8]=ce10449 [v9]=8333a3d [v10]=6c03c15)
declare -A SHIPPED_SHA=([v4]=ca35a6fbba97af0f697c719cdad161bb9f8eaa6552ac26431ef9fb66efcb20d8
                        [v5]=b3d9fd39373bc00d974331fae21d732cbdbe2edaaade71b532b63a61989dcb8f
                        [v6]=b85b314613dff0d6c92978f233f63bce1977379a42abbd8ee3e1feab732eb3bc
                        [v7]=29640e82906740e8acef7b41b518510b6bdc995af2c27bc69a194e8834bd4ead
                        [v8]=129982cacfc9c7d34a5ea94ea236c7c7daafe2a826b3787ff8c12a11b447c11f
                        [v9]=ae5e8cf325f5dcd8b62e93c0f916c770d46e44fa78043c86156d15a979fefdb9
                        [v10]=41de146c70d536146643dd88a73a310b4903dea74514f8c0804d2cf45d52e951)

demo_from_git() {   # COMMIT SHA256 DIR: the package's demo as shipped at COMMIT, checked by its hash
    mkdir -p "$3"
    for f in config.json model.safetensors; do
        git show "$1:napari_evai2i/weights/demo/$f" >"$3/$f" 2>/dev/null || rm -f "$3/$f"
    done
    echo "$2  $3/model.safetensors" | sha256sum -c --quiet 2>/dev/null
}

v5_weights() {   # from git; without git history, the copy train_demo.sh's chain made
    demo_from_git "${SHIPPED_AT[v5]}" "${SHIPPED_SHA[v5]}" "$V5" && return
    cp "$V5/model_fp16/config.json" "$V5/model_fp16/model.safetensors" "$V5/" 2>/dev/null || true
    echo "${SHIPPED_SHA[v5]}  $V5/model.safetensors" | sha256sum -c --quiet 2>/dev/null || {
        echo "$V5 is not demo v5 (train_demo.sh makes it)" >&2; return 2; }
}

shipped_from_git() {   # LABEL (v4, v6 to v10): runs/demo_LABEL as shipped, unless it is there; needs the git history
    local dir=runs/demo_$1
    [ -s "$dir/model.safetensors" ] || demo_from_git "${SHIPPED_AT[$1]}" "${SHIPPED_SHA[$1]}" "$dir" || {
        echo "cannot make $dir: demo $1 comes from git history (commit ${SHIPPED_AT[$1]})" >&2; return 2; }
}

v4_weights() { shipped_from_git v4; }
v6_weights() { shipped_from_git v6; }
v7_weights() { shipped_from_git v7; }
v8_weights() { shipped_from_git v8; }
v9_weights() { shipped_from_git v9; }
v10_weights() { shipped_from_git v10; }

fp16_copy() {
    [ -s "$1/model_fp16/model.safetensors" ] || \
        "$PY" src_training/launch/ship_checkpoint.py "$1/model" --target "$1/model_fp16"
}

mean_with_v5() {   # RUN MEAN
    mean_with "$V5" "$1" "$2"
}

mean_with_ref() {   # RUN MEAN: the mean with the reference model ($REF)
    mean_with "runs/demo_$REF" "$1" "$2"
}

mean_with() {   # REFERENCE_DIR RUN MEAN
    fp16_copy "$2"
    [ -s "$3/model/model.safetensors" ] || "$PY" src_training/launch/average_weights.py "$3/model" \
        "$1" "$2/model_fp16"
    fp16_copy "$3"
}

held_out() {   # LABEL MODEL FIRST_CASE [CASES [more evaluate options]]
    local json="$OUT/$1_cases$3.json"
    [ -s "$json" ] || "$PY" -m napari_evai2i.train.evaluate --suite held-out --model "$2" \
        --first-case "$3" --cases "${4:-24}" "${@:5}" --json "$json" > /dev/null
}

robustness() {   # LABEL MODEL
    local json="$OUT/$1_robustness.json"
    [ -s "$json" ] || "$PY" -m napari_evai2i.train.evaluate --suite robustness --model "$2" \
        --cases 6 --json "$json" > /dev/null
}

rule_1_prime() {   # LABEL FIRST_CASE [paired_held_out.py options]; the reference is $OUT/${REF}_casesFIRST.json
    local label=$1 first=$2; shift 2
    echo "== $label against $REF, cases from $first, rule 1'"
    "$PY" src_training/launch/paired_held_out.py --real-loss "$OUT/${REF}_cases$first.json" \
        "$OUT/${label}_cases$first.json" "$@" || true
}

ref_evaluation() {   # $OUT/${REF}_evaluation.json: the reference's shipped evaluation.json, from git (made once)
    [ -s "$OUT/${REF}_evaluation.json" ] || git show \
        "${SHIPPED_AT[$REF]}:napari_evai2i/weights/demo/evaluation.json" >"$OUT/${REF}_evaluation.json"
}

rules_2_and_4() {   # LABEL; the reference's report is its shipped evaluation.json, from git
    echo "== $1 against $REF: rules 1, 2 and 4 on the robustness suite"
    ref_evaluation
    "$PY" src_training/launch/ship_rule.py "$OUT/${REF}_evaluation.json" "$OUT/$1_robustness.json" || true
}

real_t1_flair_verdict() {   # LABEL below|not-above: nibabel's real-T1 FLAIR CSF/GM without a prompt in
                            # $OUT/LABEL_robustness.json below (or not above) $REF's, and every real-T1 tissue order right
    ref_evaluation
    echo "== real T1: nibabel's FLAIR CSF/GM without a prompt ($2 $REF's), and every tissue order"
    "$PY" - "$OUT/${REF}_evaluation.json" "$OUT/$1_robustness.json" "$REF" "$1" "$2" <<'PY'
import json, sys
old, new = (json.load(open(p))["robustness"]["real_t1"] for p in sys.argv[1:3])
ref, label, mode = sys.argv[3:]
scan = next(name for name in old if name.startswith("nibabel"))
ratio = {k: r[scan]["no source prompt"]["FLAIR"]["csf_to_gm"] for k, r in ((ref, old), (label, new))}
orders = all(entry[key][kind]["order_ok"] for name, entry in new.items() if name != "figure"
             for key in ("no source prompt", "source prompt", "source read from the image") for kind in entry[key])
lower = ratio[label] < ratio[ref] if mode == "below" else ratio[label] <= ratio[ref]
print(f"  nibabel FLAIR CSF/GM {ratio[ref]:.3f} -> {ratio[label]:.3f} (partial-volume physics "
      f"{new[scan]['no source prompt']['FLAIR']['csf_to_gm_partial_volume_physics']:.3f}); every order right: "
      f"{orders}: " + ("holds" if lower and orders else "fails"))
PY
}

ship_checks() {   # LABEL MODEL FIRST_CASE: against $REF (runs/demo_$REF), rule 1' on 24 cases from FIRST_CASE,
                  # rules 2 and 4 on the robustness suite, and the standard suite's template tasks within 0.02
    held_out "$REF" "runs/demo_$REF" "$3"
    held_out "$1" "$2" "$3"
    rule_1_prime "$1" "$3"
    robustness "$1" "$2"
    rules_2_and_4 "$1"
    local json="$OUT/$1_standard.json"
    [ -s "$json" ] || "$PY" -m napari_evai2i.train.evaluate --suite standard --model "$2" --seeds 1001 1002 \
        --resolution 1 --json "$json" > /dev/null
    template_tasks_within "$1"
}

ti_rise_verdict() {   # JSON REF_LABEL LABEL...: FLAIR grey-white from TI 2210 to 2500 ms (probe_flair_inversion_time.py),
                     # each LABEL judged on a rise of at least 0.012 with and without the source prompt
    echo "== Q1: FLAIR grey-white from TI 2210 to 2500 ms, cases 6-17 (probe_flair_inversion_time.py)"
    "$PY" - "$@" <<'PY'
import json, sys
path, ref, *labels = sys.argv[1:]
by_ti = json.load(open(path))["by TI"]
low, high = (next(v for k, v in by_ti.items() if k.startswith(ti)) for ti in ("2210 ", "2500 "))
print(f"  truth {high['truth']['GM/WM'] - low['truth']['GM/WM']:+.3f}")
for label in (ref, *labels):
    rises = {s: high[f"{label}, {s}"]["GM/WM"] - low[f"{label}, {s}"]["GM/WM"] for s in ("no source prompt", "source prompt")}
    verdict = "" if label == ref else (" holds" if all(r >= 0.012 for r in rises.values()) else " fails")
    print(f"  {label}: " + ", ".join(f"{s} {r:+.3f}" for s, r in rises.items()) + verdict)
PY
}

inner_dice_verdict() {   # JSON REF_LABEL LABEL: T1w->FLAIR Dice inside the eroded mask (probe_edge_rim_dice.py
                        # --per-case), the verdict on the mean of the case-by-case differences above zero
    "$PY" - "$@" <<'PY'
import json, sys
import numpy as np
path, ref, label = sys.argv[1:]
flair = json.load(open(path))["tasks"]["T1w->FLAIR"]
for key in ("dice_inner", "dice"):
    a, b = (np.array(flair[name]["per_case"][key]) for name in (ref, label))
    d = b - a
    verdict = (" holds" if d.mean() > 0 else " fails") if key == "dice_inner" else " (reported)"
    print(f"  {key}: {ref} {a.mean():.3f} -> {label} {b.mean():.3f} ({d.mean():+.3f} +- {d.std(ddof=1) / np.sqrt(len(d)):.3f}){verdict}")
PY
}

template_tasks_within() {   # LABEL: $OUT/LABEL_standard.json's four template tasks within 0.02 SSIM of the reference's
    echo "== $1: the standard suite's template tasks against $REF (within 0.02)"
    "$PY" - "$OUT/${REF}_evaluation.json" "$OUT/$1_standard.json" <<'PY'
import json, sys
old, new = (json.load(open(p))["tasks"] for p in sys.argv[1:])
rows = [(t, old[t]["model"]["ssim"], new[t]["model"]["ssim"]) for t in ("T1w->T2w", "T1w->FLAIR", "T2w->T1w", "T1w->PDw")]
for task, a, b in rows:
    print(f"  {task:11s} {a:.3f} -> {b:.3f} ({b - a:+.3f})")
print("  holds" if all(b >= a - 0.02 for _, a, b in rows) else "  fails")
PY
}

[ -s "$V5/model.safetensors" ] || v5_weights
[ "$REF" != v6 ] || v6_weights
[ "$REF" != v7 ] || v7_weights
[ "$REF" != v8 ] || v8_weights
[ "$REF" != v9 ] || v9_weights
[ "$REF" != v10 ] || v10_weights
