# Steps shared by the confirm_*.sh scripts that judge a candidate against demo v5 (shipped until v6).
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
#   robustness x runs/x/model_fp16        # $OUT/x_robustness.json: the robustness suite's 6 cases
#   rule_1_prime x 208 [--show ...]       # paired_held_out.py --real-loss against v5_cases208.json
#   rules_2_and_4 x                       # ship_rule.py against v5's evaluation.json
# The scripts that judged v4-era candidates (confirm_held_out.sh, confirm_head_box.sh,
# confirm_fresh_block.sh) spell their steps out and score v4 as `demo`, as it was when they ran.

export HF_HUB_OFFLINE=1
PY=${PYTHON:-$PWD/.venv/bin/python}
mkdir -p "$OUT"
V5=runs/demo_v5

v5_weights() {
    local sha256=b3d9fd39373bc00d974331fae21d732cbdbe2edaaade71b532b63a61989dcb8f
    mkdir -p "$V5"
    for f in config.json model.safetensors; do   # v5 was shipped at 8282fb6; without git history, the chain's own copy
        git show "8282fb6:napari_evai2i/weights/demo/$f" >"$V5/$f" 2>/dev/null || \
            cp "$V5/model_fp16/$f" "$V5/$f"
    done
    echo "$sha256  $V5/model.safetensors" | sha256sum -c --quiet || {
        echo "$V5 is not demo v5 (train_demo.sh makes it)" >&2; return 2; }
}

fp16_copy() {
    [ -s "$1/model_fp16/model.safetensors" ] || \
        "$PY" src_training/launch/ship_checkpoint.py "$1/model" --target "$1/model_fp16"
}

mean_with_v5() {   # RUN MEAN
    fp16_copy "$1"
    [ -s "$2/model/model.safetensors" ] || "$PY" src_training/launch/average_weights.py "$2/model" \
        "$V5" "$1/model_fp16"
    fp16_copy "$2"
}

held_out() {   # LABEL MODEL FIRST_CASE [CASES]
    local json="$OUT/$1_cases$3.json"
    [ -s "$json" ] || "$PY" -m napari_evai2i.train.evaluate --suite held-out --model "$2" \
        --first-case "$3" --cases "${4:-24}" --json "$json" > /dev/null
}

robustness() {   # LABEL MODEL
    local json="$OUT/$1_robustness.json"
    [ -s "$json" ] || "$PY" -m napari_evai2i.train.evaluate --suite robustness --model "$2" \
        --cases 6 --json "$json" > /dev/null
}

rule_1_prime() {   # LABEL FIRST_CASE [paired_held_out.py options]; the reference is $OUT/v5_casesFIRST.json
    local label=$1 first=$2; shift 2
    echo "== $label against v5, cases from $first, rule 1'"
    "$PY" src_training/launch/paired_held_out.py --real-loss "$OUT/v5_cases$first.json" \
        "$OUT/${label}_cases$first.json" "$@" || true
}

rules_2_and_4() {   # LABEL; v5's report is its shipped evaluation.json, from git (8282fb6)
    echo "== $1 against v5: rules 1, 2 and 4 on the robustness suite"
    [ -s "$OUT/v5_evaluation.json" ] || \
        git show 8282fb6:napari_evai2i/weights/demo/evaluation.json >"$OUT/v5_evaluation.json"
    "$PY" src_training/launch/ship_rule.py "$OUT/v5_evaluation.json" "$OUT/$1_robustness.json" || true
}

[ -s "$V5/model.safetensors" ] || v5_weights
