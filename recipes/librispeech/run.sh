#!/usr/bin/env bash
# LibriSpeech: prepare -> train -> evaluate.
#
#   bash recipes/librispeech/run.sh --corpus /data/LibriSpeech [--config config_960h.yaml] [--stage N] [--stop-stage M]
#
# 1 manifests for every subset found under --corpus (train-clean-100, train-clean-360,
#   train-other-500, dev-clean, dev-other, test-clean, test-other)
# 2 train with the config (resumes from its output_dir)   3 evaluate on dev and test sets
set -euo pipefail
stop_stage=3; corpus=""; config=config_100h.yaml
recipe_option() {
    case $1 in
        --corpus) corpus=$(realpath -m "$2"); shifted=2 ;;
        --config) config=$2; shifted=2 ;;
    esac
}
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

SUBSETS="train-clean-100 train-clean-360 train-other-500 dev-clean dev-other test-clean test-other"
if run_stage 1; then
    [ -d "$corpus" ] || { echo "error: --corpus ${corpus:-(not given)}: not a folder; give the LibriSpeech folder (holding train-clean-100/, dev-clean/, ...)" >&2; exit 2; }
    found=0
    for name in $SUBSETS; do
        [ -d "$corpus/$name" ] || continue
        found=$((found + 1))
        mkdir -p data
        [ -f "data/$name.jsonl" ] || python3 -m asr prepare librispeech "$corpus/$name" -o "data/$name.jsonl"
    done
    [ "$found" -gt 0 ] || { echo "error: $corpus: none of the LibriSpeech subsets ($SUBSETS) is there; give the LibriSpeech folder" >&2; exit 2; }
fi
run_stage 2 && python3 -m asr train "$config"
if run_stage 3; then
    out=$(python3 -c "from asr.train_config import load_train_config as l; print(l('$config').output_dir)")
    sets=$(ls data/dev-*.jsonl data/test-*.jsonl 2>/dev/null)
    # shellcheck disable=SC2086
    python3 -m asr evaluate --model "$out/best" $sets -o "$out/eval"
fi
exit 0
