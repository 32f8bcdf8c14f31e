#!/usr/bin/env bash
# Train or fine-tune on a rented GPU machine within a fixed time budget, and pack the result
# into files small enough to bring back.
#
#   bash recipes/default_model/gpu_train.sh CONFIG OUT_DIR BUDGET_SECONDS [KEY=VALUE ...]
#
# The first epoch runs alone and measures the speed (validation included). The rest continues
# from its model (init_from) with as many epochs as fit in the budget, so that its cosine
# schedule completes. KEY=VALUE overrides (e.g. data.train_manifests=[...]) apply to both.
# OUT_DIR gets the logs as they are written, then model.tar.part-* (split at 15 MB): the best
# epoch (best/) and the average of the last epochs (average/), both fp16. Join the parts with
# `cat OUT_DIR/model.tar.part-* | tar x`.
set -euo pipefail
config=$(realpath "$1"); out=$(realpath -m "$2"); budget=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"  # asr from this checkout, installed or not
# A fresh work folder: a run left in a fixed one would be resumed (and nothing trained).
work=${GPU_TRAIN_WORK:-$(mktemp -d /tmp/gpu_train.XXXXXX)}
start=$(date +%s)
mkdir -p "$out" "$work"
log() { echo "$*" | tee -a "$out/run.log"; }
train() {  # train OUTPUT_DIR LOG EXTRA_OVERRIDES...
    local dir=$1 name=$2; shift 2
    # The progress bar redraws its line with carriage returns: each becomes a line end, and the
    # bar's lines are dropped, so that the epoch lines it shares a line with survive.
    python3 -m asr train "$config" "$@" output_dir="$dir" log_every_steps=1000 2>&1 \
        | sed -u 's/\r/\n/g' | grep --line-buffered -v -e "it/s" -e "s/it" | tee "$out/$name"
}
train "$work/first" first_epoch.log "$@" epochs=1
epoch_seconds=$(python3 -c "import csv,sys; print(float(list(csv.DictReader(open(sys.argv[1])))[-1]['seconds']))" "$work/first/train_log.csv")
reserve=40  # averaging, export and packing
left=$(( budget - ($(date +%s) - start) - reserve ))
epochs=$(python3 -c "print(max(1, int($left / ($epoch_seconds * 1.05))))")
log "first epoch: ${epoch_seconds}s; ${left}s left -> $epochs more epochs"
train "$work/rest" train.log "$@" epochs="$epochs" init_from="$work/first/last"
cat "$work/first/train_log.csv" >> "$out/run.log"
cp "$work/rest/train_log.csv" "$out/train_log.csv"
python3 -m asr average "$work"/rest/epochs/* -o "$work/average_fp32" | tee -a "$out/run.log"
python3 "$here/export.py" "$work/rest/best" "$work/pack/best" | tee -a "$out/run.log"
python3 "$here/export.py" "$work/average_fp32" "$work/pack/average" | tee -a "$out/run.log"
(cd "$work/pack" && tar cf - best average) | split -b 15000000 - "$out/model.tar.part-"
log "total $(( $(date +%s) - start ))s"
