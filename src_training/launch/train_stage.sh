# Train one recipe of src_training/configs as a resumable stage; sourced by train_demo.sh and
# check_v6_reproduction.sh after they set PY and `cd` to the repository root.
#   train_stage RECIPE [OUT_DIR]   # skipped when its model finished before; otherwise trains or
#                                  # resumes it, and exits 3 if the wall-time guard stopped it
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
