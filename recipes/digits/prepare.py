"""Speaker-independent split of the Free Spoken Digit Dataset (8 kHz, 5 speakers).

    python recipes/digits/prepare.py --fsdd ../shared/data/fsdd --out data

test.jsonl: every recording of the test speaker (never seen in training);
dev.jsonl: every 10th recording of the other speakers (for picking the best epoch);
train.jsonl: the rest."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from asr.manifests import read_manifest_rows, write_manifest_rows

TEST_SPEAKER = "theo"
DEV_EVERY = 10


def split_rows(manifest: Path) -> dict[str, list[dict[str, Any]]]:
    """train/dev/test rows (audio paths made absolute); an error when the manifest is not the
    FSDD one or its audio files are not beside it."""
    if not manifest.is_file():
        raise SystemExit(f"error: {manifest}: not found; pass --fsdd with the FSDD folder (all.jsonl + recordings/)")
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "dev": [], "test": []}
    missing = 0
    for index, row in enumerate(read_manifest_rows(manifest, absolute_paths=True)):
        missing += not Path(row["audio_filepath"]).is_file()
        split = "test" if row.get("speaker") == TEST_SPEAKER else "dev" if index % DEV_EVERY == 0 else "train"
        splits[split].append(row)
    if missing:
        raise SystemExit(f"error: {manifest}: {missing} of its audio files are missing (expected them under {manifest.parent})")
    empty = [split for split, rows in splits.items() if not rows]
    if empty:
        expected = f"expected FSDD rows with a speaker field; {TEST_SPEAKER!r} is the test speaker"
        raise SystemExit(f"error: {manifest}: no utterances for {', '.join(empty)} ({expected})")
    return splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fsdd", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data" / "fsdd", help="the FSDD folder (all.jsonl)")
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args()
    splits = split_rows(args.fsdd / "all.jsonl")
    args.out.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        write_manifest_rows(args.out / f"{split}.jsonl", rows)
        print(f"{args.out / split}.jsonl: {len(rows)} utterances")


if __name__ == "__main__":
    main()
