"""Pick the model with the lowest mean greedy WER over the dev sets (one number per dev set,
averaged, so that the 500 short digit clips weigh no more than the 21 long LibriSpeech ones).

    python choose_model.py exp_v4/epochs/* exp_v4/average --dev data/dev_*.jsonl --out exp_v4/selected

Prints a table of WER % per dev set and the mean, then copies the winner to --out."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from asr.evaluate import evaluate
from asr.transcribe import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="model directories to compare")
    parser.add_argument("--dev", nargs="+", required=True, help="dev-set manifests")
    parser.add_argument("--out", type=Path, required=True, help="where to copy the best model")
    args = parser.parse_args()
    names = [Path(m).stem.removeprefix("dev_") for m in args.dev]
    print("| model | " + " | ".join(names) + " | mean |")
    print("|---|" + "---|" * (len(names) + 1))
    best: tuple[float, Path] | None = None
    for model in args.models:
        results = evaluate(args.dev, load_model(model))
        wers = [100 * r.score.wer for r in results]
        mean = sum(wers) / len(wers)
        print(f"| {model} | " + " | ".join(f"{w:.1f}" for w in wers) + f" | {mean:.2f} |", flush=True)
        if best is None or mean < best[0]:
            best = (mean, model)
    assert best is not None
    if args.out.exists():
        shutil.rmtree(args.out)
    shutil.copytree(best[1], args.out)
    print(f"{args.out}: copy of {best[1]} (mean WER {best[0]:.2f}%)")


if __name__ == "__main__":
    main()
