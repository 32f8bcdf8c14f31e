"""Split an AN4 manifest into speaker-disjoint train and dev manifests (and test, when present).

    python recipes/an4/split.py MANIFEST --out data/

Every 7th speaker of the training part in sorted order (asr.prepare.AN4_DEV_EVERY; 11 of the 74)
becomes the dev split, the other 63 train. Rows need a 'speaker' field; rows whose 'part' is
'test' (`asr prepare an4` marks each row's part; ../shared has the training part only) go to
test.jsonl, AN4's official test set. Audio paths are written absolute. train_text.txt holds the
training transcripts, one a line, for the language model."""

from __future__ import annotations

import argparse
from pathlib import Path

from asr.manifests import read_manifest_rows, write_manifest_rows
from asr.prepare import AN4_DEV_EVERY, held_out_speakers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args()
    manifest: Path = args.manifest
    if not manifest.is_file():
        raise SystemExit(f"error: {manifest}: manifest not found")
    rows = read_manifest_rows(manifest, absolute_paths=True)
    if not rows or any("speaker" not in row for row in rows):
        raise SystemExit(f"error: {manifest}: expected AN4 rows with a 'speaker' field")
    training = [row for row in rows if row.get("part", "train") == "train"]
    dev = held_out_speakers((row["speaker"] for row in training), AN4_DEV_EVERY)
    splits = {"train": [r for r in training if r["speaker"] not in dev], "dev": [r for r in training if r["speaker"] in dev]}
    test = [row for row in rows if row.get("part") == "test"]
    if test:
        splits["test"] = test
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in splits.items():
        write_manifest_rows(args.out / f"{name}.jsonl", part)
        speakers = len({r["speaker"] for r in part})
        print(f"{args.out / name}.jsonl: {len(part)} utterances, {speakers} speakers, {sum(r['duration'] for r in part) / 3600:.2f} h")
    (args.out / "train_text.txt").write_text("".join(row["text"] + "\n" for row in splits["train"]), encoding="utf-8")


if __name__ == "__main__":
    main()
