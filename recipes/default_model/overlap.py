"""Find dev utterances whose words were spoken in training, and write the ones that were not.

    python recipes/default_model/overlap.py DEV.jsonl TRAIN.jsonl|TEXT.txt ... -o DEV_clean.jsonl [--ngram 8]

A dev utterance counts as seen when any run of --ngram words of its transcript occurs in a
training transcript (JSONL manifests: the "text" field; other files: one transcript a line).
The synthetic corpora speak LibriSpeech train-clean-100 text, and the LibriSpeech dev speakers
come from that same text, so without `generate.py --exclude` some of their sentences are read
by a TTS voice in training. Seen utterances are listed on stderr; the rest go to -o."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from asr.manifests import read_manifest, read_manifest_rows, write_manifest_rows
from asr.tokenizer import normalize_text


def words(text: str) -> list[str]:
    return normalize_text(text).split()  # as training targets: numbers spelled out


def transcripts(path: Path) -> Iterator[str]:
    if path.suffix == ".jsonl":
        yield from (entry.text for entry in read_manifest(path))
    else:
        yield from (line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dev", type=Path)
    parser.add_argument("train", type=Path, nargs="+")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--ngram", type=int, default=8)
    args = parser.parse_args()
    seen: set[tuple[str, ...]] = set()
    for source in args.train:
        for text in transcripts(source):
            seen |= ngrams(words(text), args.ngram)
    kept, rows = [], read_manifest_rows(args.dev)
    for row in rows:
        shared = ngrams(words(row["text"]), args.ngram) & seen
        if shared:
            print(f"seen: {row['audio_filepath']} ({len(shared)} shared {args.ngram}-grams)", file=sys.stderr)
        else:
            kept.append(row)
    write_manifest_rows(args.output, kept)
    print(f"{args.output}: kept {len(kept)} of {len(rows)} utterances", file=sys.stderr)


if __name__ == "__main__":
    main()
