"""LJSpeech manifests: the full corpus (metadata.csv + wavs/) or the sample in ../shared/data.

    python recipes/ljspeech/prepare.py --ljspeech /data/LJSpeech-1.1 --out data   # full corpus
    python recipes/ljspeech/prepare.py --out data                                  # the shared sample

Either way: dev.jsonl is chapter LJ002 and train.jsonl everything else; test.jsonl is LJ001 for
the full corpus (the shared sample has only LJ001, which is then the training set)."""

from __future__ import annotations

import argparse
from pathlib import Path

from asr.manifests import read_manifest_rows, write_manifest_rows
from asr.prepare import ljspeech, write_manifest

SHARED_SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "ljspeech"


def absolute(manifest: Path, target: Path) -> None:
    write_manifest_rows(target, read_manifest_rows(manifest, absolute_paths=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ljspeech", type=Path, default=None, help="an LJSpeech-1.1 folder (metadata.csv + wavs/)")
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args()
    if args.ljspeech is None:
        if not SHARED_SAMPLE.is_dir():
            raise SystemExit(f"error: {SHARED_SAMPLE}: not found; pass --ljspeech with the corpus folder")
        args.out.mkdir(parents=True, exist_ok=True)
        absolute(SHARED_SAMPLE / "train.jsonl", args.out / "train.jsonl")
        absolute(SHARED_SAMPLE / "dev.jsonl", args.out / "dev.jsonl")
        print(f"{args.out}: train.jsonl (LJ001) and dev.jsonl (LJ002) from the shared sample")
        return
    if not (args.ljspeech / "metadata.csv").is_file() or not (args.ljspeech / "wavs").is_dir():
        raise SystemExit(f"error: {args.ljspeech}: not an LJSpeech folder (expected metadata.csv and wavs/ in it, as in LJSpeech-1.1)")
    args.out.mkdir(parents=True, exist_ok=True)
    everything = args.out / "all.jsonl"
    report = write_manifest(ljspeech(args.ljspeech), everything)
    for problem in report.problems:
        print(f"skipped: {problem}")
    if not report.written:
        everything.unlink()
        raise SystemExit(f"error: {args.ljspeech}: no usable utterance (see the skipped lines above)")
    rows = read_manifest_rows(everything)
    splits = {"dev": "LJ002-", "test": "LJ001-"}
    for split, prefix in splits.items():
        write_manifest_rows(args.out / f"{split}.jsonl", [r for r in rows if Path(r["audio_filepath"]).name.startswith(prefix)])
    prefixes = tuple(splits.values())
    write_manifest_rows(args.out / "train.jsonl", [r for r in rows if not Path(r["audio_filepath"]).name.startswith(prefixes)])
    print(f"{args.out}: {report.written} utterances, {report.hours:.2f} h; {len(report.problems)} skipped")


if __name__ == "__main__":
    main()
