#!/usr/bin/env bash
# LJSpeech (single speaker): prepare -> train -> evaluate -> peers.
#
#   bash recipes/ljspeech/run.sh [--stage N] [--stop-stage M] [--ljspeech /data/LJSpeech-1.1]
#
# Without --ljspeech it uses the 186 + 80 clip sample in ../shared/data/ljspeech.
# 1 manifests   2 train (resumes)   3 average the last 5 epochs
# 4 evaluate the best epoch and the average on dev (LJ002)   5 score Whisper tiny.en and pocketsphinx (optional)
set -euo pipefail
stop_stage=5; corpus=()
recipe_option() {
    case $1 in
        --ljspeech) corpus=(--ljspeech "$(realpath -m "$2")"); shifted=2 ;;
    esac
}
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

run_stage 1 && python3 prepare.py "${corpus[@]}" --out data
run_stage 2 && python3 -m asr train config.yaml
run_stage 3 && python3 -m asr average exp/epochs/epoch-* -o exp/averaged
if run_stage 4; then
    python3 -m asr evaluate --model exp/best data/dev.jsonl -o eval/best
    python3 -m asr evaluate --model exp/averaged data/dev.jsonl -o eval/averaged
fi
run_stage 5 && python3 ../../benchmarks/peers.py data/dev.jsonl --model exp/best -o peers
exit 0
