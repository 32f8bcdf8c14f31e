#!/usr/bin/env bash
# CMU AN4 from scratch: prepare -> train -> average -> language model -> evaluate -> export.
#
#   bash recipes/an4/run.sh [--stage N] [--stop-stage M] [--an4 DIR | --manifest FILE] [--work DIR] [KEY=VALUE ...]
#
#   --an4 DIR        the an4 folder as CMU distributes it (etc/, wav/*.sph): asr prepare an4
#   --manifest FILE  a manifest of AN4's training part with speakers (default:
#                    ../shared/data/an4/train.jsonl, the training part as Opus)
#   --work DIR       where data/, exp/, lm/, eval/ and model/ go (default: this folder)
#   KEY=VALUE        overrides of config.yaml for stages 2 and 3 (e.g. epochs=10)
#
# 1 manifests: speaker-disjoint train/dev split of the training part (split.py), and AN4's test
#   part as test.jsonl when --an4 has it
# 2 train from scratch (config.yaml, exp_scratch/; resumes)
# 3 warm restart from exp_scratch/last: a fresh warm-up and cosine (RESTART below, exp/; resumes)
# 4 average the last 5 epochs                 5 3-gram LM of the training transcripts only
# 6 tune the LM weight and word score on dev  7 evaluate greedy and beam + LM on dev (and test)
# 8 copy the averaged model with its LM to model/ (fp16)
# Scored with the basic normalizer (lower case, no punctuation): AN4's spelled letters and
# number words stay words as transcribed (Whisper's normalizer would turn "FIVE TWO" into "52").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
stop_stage=8; an4=""; manifest="$here/../../../shared/data/an4/train.jsonl"; work="$here"; overrides=()
recipe_option() {
    case $1 in
        --an4) an4=$(realpath "$2"); shifted=2 ;;
        --manifest) manifest=$(realpath "$2"); shifted=2 ;;
        --work) work=$(realpath -m "$2"); shifted=2 ;;
        *=*) overrides+=("$1"); shifted=1 ;;
    esac
}
source "$here/../stages.sh" "$@"
mkdir -p "$work" && cd "$work"

if run_stage 1; then
    if [ -n "$an4" ]; then
        [ -d "$an4/etc" ] || { echo "error: $an4: not an AN4 folder (expected etc/ and wav/)" >&2; exit 1; }
        python3 -m asr prepare an4 "$an4" -o data/an4.jsonl
        manifest=data/an4.jsonl
    fi
    [ -f "$manifest" ] || { echo "error: $manifest: manifest not found (pass --an4 DIR or --manifest FILE)" >&2; exit 1; }
    python3 "$here/split.py" "$manifest" --out data
fi
dev_sets=(data/dev.jsonl)
[ -f data/test.jsonl ] && dev_sets+=(data/test.jsonl)
train() {  # train OUTPUT_DIR [KEY=VALUE ...]: config.yaml on this split, then the user's overrides
    python3 -m asr train "$here/config.yaml" output_dir="$work/$1" "data.train_manifests=[$work/data/train.jsonl]" \
        "data.valid_manifests=[$work/data/dev.jsonl]" "${@:2}" "${overrides[@]}"
}
# The restart's own settings: 40 more epochs from the first run's last model, lr 0.002 (1e-3 did worse: RESULTS.md).
RESTART=(epochs=40 optim.lr=0.002 optim.warmup_steps=100 data.sortagrad=false)
run_stage 2 && train exp_scratch
run_stage 3 && train exp init_from="$work/exp_scratch/last" "${RESTART[@]}"
run_stage 4 && python3 -m asr average exp/epochs/epoch-* -o exp/average
if run_stage 5; then
    python3 -m asr lm build data/train_text.txt --order 3 -o lm/an4_train_3g.arpa
fi
if run_stage 6; then
    rm -rf exp/average_lm
    python3 -m asr lm tune data/dev.jsonl --model exp/average --output exp/average_lm --lm lm/an4_train_3g.arpa --normalizer basic \
        --lm-weights 0.1 0.25 0.5 0.75 1 1.5 --word-scores -2 -1.5 -1 -0.5 0 0.5 1 --beam-sizes 32
fi
if run_stage 7; then
    python3 -m asr evaluate --model exp/average --decoder greedy --normalizer basic "${dev_sets[@]}" -o eval/greedy
    python3 -m asr evaluate --model exp/average_lm --decoder beam --normalizer basic "${dev_sets[@]}" -o eval/beam_lm
fi
run_stage 8 && python3 "$here/../default_model/export.py" exp/average_lm model
exit 0
