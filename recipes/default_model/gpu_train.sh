#!/usr/bin/env bash
# Train the default model on a rented GPU machine within a fixed time budget.
#
#   bash recipes/default_model/gpu_train.sh DATA_DIR OUT_DIR BUDGET_SECONDS
#
# DATA_DIR holds the packed manifests (pack.py); one calibration epoch measures the speed, then
# the real run gets as many epochs as fit in the budget, so that its cosine schedule completes.
set -euo pipefail
data=$(realpath "$1"); out=$(realpath -m "$2"); budget=$3
here=$(cd "$(dirname "$0")" && pwd)
start=$(date +%s)
mkdir -p "$out"
manifests="data.train_manifests=[$data/train_real.jsonl,$data/synth.jsonl] data.valid_manifests=[$data/dev_lj.jsonl,$data/dev_libri.jsonl]"
# shellcheck disable=SC2086
python3 -m asr train "$here/config.yaml" $manifests epochs=1 output_dir=/tmp/calibrate log_every_steps=1000 2>&1 | grep -v "it/s" | tee "$out/calibrate.log"
epoch_seconds=$(python3 -c "import csv; print(float(list(csv.DictReader(open('/tmp/calibrate/train_log.csv')))[-1]['seconds']))")
left=$(( budget - ($(date +%s) - start) - 45 ))
epochs=$(python3 -c "print(max(1, min(60, int($left / ($epoch_seconds * 1.05)))))")
echo "calibration: ${epoch_seconds}s per epoch, ${left}s left -> $epochs epochs" | tee -a "$out/calibrate.log"
# shellcheck disable=SC2086
python3 -m asr train "$here/config.yaml" $manifests epochs="$epochs" output_dir=/tmp/exp 2>&1 | grep -v "it/s" | tee "$out/train.log"
cp /tmp/exp/train_log.csv "$out/"
echo "total $(( $(date +%s) - start ))s" | tee -a "$out/train.log"
