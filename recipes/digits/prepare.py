"""Speaker-independent split of the Free Spoken Digit Dataset (8 kHz, 5 speakers).

    python recipes/digits/prepare.py --fsdd ../shared/data/fsdd --out data

test.jsonl: every recording of the test speaker (never seen in training);
dev.jsonl: every 10th recording of the other speakers (for picking the best epoch);
train.jsonl: the rest."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TEST_SPEAKER = "theo"
DEV_EVERY = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fsdd", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data" / "fsdd")
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args()
    manifest = args.fsdd / "all.jsonl"
    if not manifest.is_file():
        raise SystemExit(f"error: {manifest}: not found (expected the FSDD manifest with a speaker field)")
    splits: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for index, line in enumerate(manifest.read_text().splitlines()):
        row = json.loads(line)
        row["audio_filepath"] = str((manifest.parent / row["audio_filepath"]).resolve())
        split = "test" if row["speaker"] == TEST_SPEAKER else "dev" if index % DEV_EVERY == 0 else "train"
        splits[split].append(json.dumps(row))
    args.out.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (args.out / f"{split}.jsonl").write_text("".join(r + "\n" for r in rows))
        print(f"{args.out / split}.jsonl: {len(rows)} utterances")


if __name__ == "__main__":
    main()
