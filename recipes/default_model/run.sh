#!/usr/bin/env bash
# Rebuild the bundled default model (default-v4) from a clean checkout, on the CPU.
#
#   bash recipes/default_model/run.sh [--stage N] [--stop-stage M] [--data DIR] [--device cpu|cuda]
#
# Stages (each can be rerun; measured run times on a 2-core CPU in RESULTS.md):
#   1 prepare  real-speech manifests from --data (default ../shared/data): train_real.jsonl,
#              train_read.jsonl, train_text.txt and six dev sets held out         (prepare.py)
#   2 init     default-v3, the model v4 starts from, out of this repository's history
#              (commit 4e669bd) into exp_v3/; its own recipe is in RESULTS.md and git
#   3 train    config_v4.yaml: v3 on all the real speech, 6 epochs (-> exp_v4; resumes)
#   4 choose   the epoch model with the lowest mean dev WER (greedy)   (choose_model.py -> exp_v4/chosen)
#   5 lm       3-gram of LibriSpeech-100 text plus the training transcripts, every line that
#              reads like a dev transcript left out; bigrams and trigrams seen once pruned (5 MB ARPA)
#   6 tune     the LM weight and word score on all the dev sets together (-> exp_v4/chosen_lm)
#   7 export   exp_v4/chosen_lm into asr/default_model as fp16, with its LM      (export.py)
#   8 evaluate the bundled model on every dev set, greedy and beam + LM (-> eval/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
stop_stage=8; device=auto; data="$root/../shared/data"
recipe_option() {
    case $1 in
        --device) device=$2; shifted=2 ;;
        --data) data=$2; shifted=2 ;;
    esac
}
source "$here/../stages.sh" "$@"
cd "$here"
dev_sets=(data/dev_lj.jsonl data/dev_libri.jsonl data/dev_so762.jsonl data/dev_an4.jsonl data/dev_cv.jsonl data/dev_fsdd.jsonl)
lm_text="$data/../text/librispeech-train-clean-100.txt"
v3_commit=4e669bd

if run_stage 1; then
    [ -d "$data" ] || { echo "error: $data: data folder not found (pass --data)" >&2; exit 1; }
    python3 prepare.py --data "$data" --out data
fi
if run_stage 2; then
    mkdir -p exp_v3
    for file in config.json model.safetensors; do
        git -C "$root" show "$v3_commit:asr/default_model/$file" > "exp_v3/$file"
    done
fi
run_stage 3 && python3 -m asr train config_v4.yaml device="$device"
run_stage 4 && python3 choose_model.py exp_v4/epochs/epoch-* --dev "${dev_sets[@]}" --out exp_v4/chosen
if run_stage 5; then
    [ -f "$lm_text" ] || { echo "error: $lm_text: LibriSpeech-100 text not found" >&2; exit 1; }
    mkdir -p lm
    python3 -m asr lm build "$lm_text" data/train_text.txt --order 3 --prune 0 1 1 --exclude "${dev_sets[@]}" -o lm/default_3g.arpa
fi
if run_stage 6; then
    python3 -m asr lm tune "${dev_sets[@]}" --model exp_v4/chosen --output exp_v4/chosen_lm --lm lm/default_3g.arpa \
        --lm-weights 0.5 1 1.5 2 2.5 --word-scores -2 -1 0 1 2 --beam-sizes 32
fi
run_stage 7 && python3 export.py exp_v4/chosen_lm "$root/asr/default_model"
if run_stage 8; then
    python3 -m asr evaluate --model "$root/asr/default_model" --decoder greedy "${dev_sets[@]}" -o eval/greedy
    python3 -m asr evaluate --model "$root/asr/default_model" --decoder beam "${dev_sets[@]}" -o eval/beam_lm
fi
