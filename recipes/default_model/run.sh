#!/usr/bin/env bash
# Reproduce the bundled default model from a clean checkout.
#
#   bash recipes/default_model/run.sh [--stage N] [--stop-stage M] [--device cuda]
#
# Stages (each can be rerun; each skips work that is already done):
#   1  real-speech manifests from ../shared/data, dev sets held out       (prepare.py)
#   2  synthetic corpora (recipes/synth): 4 h espeak-ng + flite (data/synth), 10 h with the
#      neural voices hibari and Piper as well (data/synth_v1), 4 h that adds festival,
#      pico and MBROLA voices (data/synth_v2), and 3 h of Kokoro voices (data/synth_kokoro)
#   3  train on data/synth + real speech (config.yaml; resumes from exp/checkpoint.pt), continue
#      on data/synth_v1 (config_finetune.yaml -> exp_ft), then twice on a GPU: config_v2.yaml
#      (-> exp_v2, last epochs averaged) and config_v2b.yaml with synth_v2 (-> exp_v2b/average),
#      then on a CPU config_v2c.yaml with the Kokoro voices (-> exp_v2c/best)
#   4  export exp_v2c/best into asr/default_model as fp16                   (export.py)
#   5  score the exported model on every dev set                           (asr evaluate)
# Needs: apt-get install espeak-ng flite sox festival festvox-kallpc16k festvox-kdlpc16k
# festvox-us-slt-hts, and with contrib/non-free festvox-rablpc16k festvox-don libttspico-utils
# mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1; pip install -e ".[synth]" and
# bash recipes/synth/install_kokoro.sh (stage 2).
# Run times: see RESULTS.md (3.5 min on an H200 for config.yaml, about 70 min on a 2-core CPU
# for config_finetune.yaml, 8 and 3 min on an H200 for config_v2.yaml and config_v2b.yaml on
# subsets of 6.9 and 6.7 h; on the whole corpora, 12 and 16 h, expect about twice as long;
# 46 min on a 2-core CPU for config_v2c.yaml).
# config_v2*.yaml load data with 14 processes, for a GPU machine's cores: on a small CPU-only
# machine add data.num_workers=2 to those asr train lines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
stage=1; stop_stage=5; device=auto
while [ $# -gt 0 ]; do
    case $1 in
        --stage) stage=$2; shift 2 ;;
        --stop-stage) stop_stage=$2; shift 2 ;;
        --device) device=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
cd "$here"

if run_stage 1; then
    python3 prepare.py --out data
fi
if run_stage 2; then
    # --exclude keeps the dev transcripts out of the spoken text (the LibriSpeech dev speakers'
    # sentences are in the same text file). The corpora behind default-v1 predate it: see RESULTS.md.
    held_out="--exclude data/dev_lj.jsonl data/dev_libri.jsonl"
    # shellcheck disable=SC2086
    python3 "$root/recipes/synth/generate.py" --out data/synth --hours 4 --format opus --seed 0 $held_out
    # shellcheck disable=SC2086
    python3 "$root/recipes/synth/generate.py" --out data/synth_v1 --hours 10 --format flac --seed 1 --engines espeak-ng,flite,hibari,piper $held_out
    # shellcheck disable=SC2086
    python3 "$root/recipes/synth/generate.py" --out data/synth_v2 --hours 4 --format flac --seed 2 \
        --engines espeak-ng,flite,festival,pico,mbrola,hibari,piper $held_out
    # shellcheck disable=SC2086
    python3 "$root/recipes/synth/generate.py" --out data/synth_kokoro --hours 3 --format flac --seed 4 --engines kokoro $held_out
fi
if run_stage 3; then
    python3 -m asr train config.yaml device="$device"
    python3 -m asr train config_finetune.yaml device="$device"
    python3 -m asr train config_v2.yaml device="$device"
    python3 -m asr average exp_v2/epochs/* -o exp_v2/average
    python3 -m asr train config_v2b.yaml device="$device"
    python3 -m asr average exp_v2b/epochs/* -o exp_v2b/average
    python3 -m asr train config_v2c.yaml device="$device"
fi
if run_stage 4; then
    python3 export.py exp_v2c/best "$root/asr/default_model"
fi
if run_stage 5; then
    python3 -m asr evaluate --model "$root/asr/default_model" data/dev_lj.jsonl data/dev_libri.jsonl data/dev_fsdd.jsonl
fi
