#!/usr/bin/env bash
# Spoken digits (FSDD, 8 kHz), speaker-independent: prepare -> train -> evaluate -> peers.
#
#   bash recipes/digits/run.sh [--stage N] [--stop-stage M] [--fsdd DIR]
#
# --fsdd: the Free Spoken Digit Dataset folder (all.jsonl + recordings/; default ../shared/data/fsdd)
# 1 split the corpus by speaker   2 train (resumes)   3 average the last 5 epochs
# 4 evaluate the best epoch and the average   5 score Whisper tiny.en and pocketsphinx (optional packages)
set -euo pipefail
stop_stage=5; corpus=()
recipe_option() {
    case $1 in
        --fsdd) corpus=(--fsdd "$(realpath -m "$2")"); shifted=2 ;;
    esac
}
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

run_stage 1 && python3 prepare.py "${corpus[@]}" --out data
run_stage 2 && python3 -m asr train config.yaml
# Digits are scored with the training normalizer: Whisper's would turn "eight" into "8".
run_stage 3 && python3 -m asr average exp/epochs/epoch-* -o exp/averaged
if run_stage 4; then
    python3 -m asr evaluate --model exp/best --normalizer basic data/test.jsonl -o eval/best
    python3 -m asr evaluate --model exp/averaged --normalizer basic data/test.jsonl -o eval/averaged
fi
run_stage 5 && python3 ../../benchmarks/peers.py data/test.jsonl --model exp/best --normalizer basic -o peers
exit 0
