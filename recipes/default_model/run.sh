#!/usr/bin/env bash
# Reproduce the bundled default model from a clean checkout.
#
#   bash recipes/default_model/run.sh [--stage N] [--stop-stage M] [--device cuda]
#
# Stages (each can be rerun; each skips work that is already done):
#   1  real-speech manifests from ../shared/data, dev sets held out       (prepare.py)
#   2  4 h synthetic multi-voice corpus with espeak-ng + flite             (recipes/synth)
#   3  train (resumes from exp/checkpoint.pt if it exists)                 (asr train)
#   4  export exp/best into asr/default_model as fp16                      (export.py)
#   5  score the exported model on every dev set                           (asr evaluate)
# Needs: apt-get install espeak-ng flite sox (stage 2).
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
    python3 "$root/recipes/synth/generate.py" --out data/synth --hours 4 --format opus --seed 0
fi
if run_stage 3; then
    python3 -m asr train config.yaml device="$device"
fi
if run_stage 4; then
    python3 export.py exp/best "$root/asr/default_model"
fi
if run_stage 5; then
    python3 -m asr evaluate --model "$root/asr/default_model" data/dev_lj.jsonl data/dev_libri.jsonl data/dev_fsdd.jsonl
fi
