# Train one recipe of src_training/configs as a resumable stage, or distil a model's prompt numbers;
# sourced by train_demo.sh, check_v6_reproduction.sh and the pilot scripts after they `cd` to the
# repository root. It also sets what they share, each kept when the caller set it: PY (or PYTHON;
# default .venv's python), an offline Hugging Face hub, and V7, V8, V9, the shipped models' float16
# folders as train_demo.sh leaves them.
#   train_stage RECIPE [OUT_DIR]   # skipped when its model finished before; otherwise trains or
#                                  # resumes it, and exits 3 if the wall-time guard stopped it
#   train_stage_fp16 RECIPE [OUT_DIR]  # train_stage, then OUT_DIR/model_fp16, the float16 copy as it would ship
#   fit_stage DONE_WORD TEACHER OUT_DIR MODEL_JSON RECIPE [ARG...]   # what the three below share
#   distill_numbers_stage TEACHER OUT_DIR   # v8's last stage (distill_prompt_numbers.py), about 5 minutes
#   physics_stage TEACHER OUT_DIR [STEPS]   # TEACHER's style refitted to read each protocol's contrast, 4 min per 6000 steps
#   below_null_stage MODEL BELOW OUT_DIR [RECIPE [ARG...]]   # v9's last stage: MODEL with a correction below
#                                           # the CSF null fitted to BELOW's styles there, on prompts drawn as
#                                           # RECIPE draws them (default v9's, pilots_v8/ti_below_null), about 1 minute;
#                                           # ARGs go to distill_prompt_numbers.py (--near-null-teacher ...)
#   reader_copy SRC DST READ_AT_MM         # a contrast reader's weights with read_at_mm set in its config.json
#   reader_verdict RUN [ARG...]            # a contrast-reader pilot's verdict: RUN/compare.json (the reader the
#                                           # pilots were judged against, RUN/baseline: the shipped weights read
#                                           # without read_at_mm, as before 2026-12-07, against RUN/model;
#                                           # compare_contrast_readers.py, ARGs go to it; made once), then the
#                                           # verdict fixed in that script
export HF_HUB_OFFLINE=1
PY=${PY:-${PYTHON:-$PWD/.venv/bin/python}}
V7=${V7:-runs/demo_v7/model_fp16}
V8=${V8:-runs/demo_v8/model_fp16}
V9=${V9:-runs/demo_v9/model_fp16}
finished() {  # RUN_FOLDER: its model was exported at the end of the schedule, not by the wall-time guard
    [ -s "$1/model/config.json" ] && ! grep -q '"stopped_by"' "$1/model/config.json"
}
train_stage() {  # RECIPE [OUT_DIR]: OUT_DIR defaults to the recipe's own `out`, runs/RECIPE
    local out=${2:-runs/$1}
    if finished "$out"; then
        echo "$1: finished before, skipped"
        return
    fi
    $PY -m napari_evai2i.train --config "src_training/configs/$1.yaml" ${2:+--out "$2"} --resume
    finished "$out" || { echo "$1 stopped at its wall-time guard; run this script again to resume it"; exit 3; }
}
train_stage_fp16() {  # RECIPE [OUT_DIR]: train_stage, then OUT_DIR/model_fp16 (made once)
    local out=${2:-runs/$1}
    train_stage "$@"
    [ -s "$out/model_fp16/model.safetensors" ] || \
        $PY src_training/launch/ship_checkpoint.py "$out/model" --target "$out/model_fp16" > /dev/null
}
fit_stage() {  # DONE_WORD TEACHER OUT_DIR MODEL_JSON RECIPE [ARG...]: OUT_DIR/model(_fp16), distill_prompt_numbers.py
               # TEACHER with the student config MODEL_JSON on RECIPE's prompts (both under src_training/configs),
               # ARGs after; skipped ("OUT_DIR: DONE_WORD before, skipped") when made before
    [ -s "$3/model_fp16/model.safetensors" ] && { echo "$3: $1 before, skipped"; return; }
    mkdir -p "$3"
    $PY src_training/launch/distill_prompt_numbers.py "$2" "$3/model" --model "src_training/configs/$4.json" \
        --recipe "src_training/configs/$5.yaml" --json "$3/distillation.json" "${@:6}" > /dev/null
    $PY src_training/launch/ship_checkpoint.py "$3/model" --target "$3/model_fp16" > /dev/null
}
distill_numbers_stage() {  # TEACHER OUT_DIR: OUT_DIR/model(_fp16), TEACHER's prompt numbers given one path
                           # (distill_prompt_numbers.py with the settings of v8); skipped when made before
    fit_stage distilled "$1" "$2" tiny_prompt_apart demo_cpu_v6_ti_only
}
physics_stage() {  # TEACHER OUT_DIR [STEPS]: OUT_DIR/model(_fp16), TEACHER's whole prompt style refitted by a number
                   # network that reads the contrast each protocol implies (tiny_prompt_physics.json; distill_prompt_numbers.py
                   # with v8's settings but STEPS steps, default 6000, on v9's last stage's prompts), about 4 minutes
                   # per 6000 steps; skipped when made before
    fit_stage fitted "$1" "$2" tiny_prompt_physics demo_cpu_v8_ti_below_null --steps "${3:-6000}"
}
below_null_stage() {  # MODEL BELOW OUT_DIR [RECIPE [ARG...]]: OUT_DIR/model(_fp16), MODEL with below_null_correction
                      # fitted to BELOW's styles (distill_prompt_numbers.py with the settings of v9); skipped when made before
    fit_stage fitted "$1" "$3" tiny_prompt_apart_below_null "${4:-pilots_v8/ti_below_null}" \
        --below-null-teacher "$2" --prompts 30000 "${@:5}"
}
reader_copy() {  # SRC DST READ_AT_MM: the reader SRC's weights in DST, its config.json with read_at_mm set
                 # (a JSON value: 1.0, or null to read as first shipped); each file made once
    mkdir -p "$2"
    [ -s "$2/model.safetensors" ] || cp "$1/model.safetensors" "$2/"
    [ -s "$2/config.json" ] || $PY - "$1/config.json" "$2/config.json" "$3" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["contrast_reader"]["read_at_mm"] = json.loads(sys.argv[3])
json.dump(config, open(sys.argv[2], "w"), indent=1)
PY
}
reader_verdict() {  # RUN [ARG...]: see the header
    reader_copy napari_evai2i/weights/contrast_reader "$1/baseline" null
    [ -s "$1/compare.json" ] || $PY src_training/launch/compare_contrast_readers.py shipped="$1/baseline" \
        candidate="$1/model" --json "$1/compare.json" "${@:2}" > /dev/null
    $PY src_training/launch/compare_contrast_readers.py shipped="$1/baseline" candidate="$1/model" \
        --report "$1/compare.json" --verdict shipped candidate
}
