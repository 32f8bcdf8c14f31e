"""Build the default model's real-speech manifests from ../shared/data, dev sets held out.

    python recipes/default_model/prepare.py --data ../shared/data --out data/

Writes (audio paths absolute):
  train_real.jsonl  LJSpeech LJ001, LibriSpeech train-clean-100 sample minus held-out speakers,
                    spoken digits minus one speaker, LibriVox clips
  dev_lj.jsonl      LJSpeech LJ002 (dev.jsonl)
  dev_libri.jsonl   held-out LibriSpeech speakers (speaker-disjoint from training)
  dev_fsdd.jsonl    the held-out spoken-digit speaker (8 kHz)"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from asr.audio import audio_duration
from asr.prepare import Candidate, librispeech

HELD_OUT_FSDD_SPEAKER = "theo"
LIBRI_DEV_EVERY = 10  # every 10th speaker (by sorted id) is held out for dev


def manifest_rows(path: Path) -> Iterator[dict[str, object]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            row["audio_filepath"] = str((path.parent / row["audio_filepath"]).resolve())
            yield row


def librispeech_rows(subset_dir: Path) -> Iterator[tuple[str, dict[str, object]]]:
    """(speaker, row) for every readable utterance of a LibriSpeech-layout subset folder."""
    for item in librispeech(subset_dir):
        if isinstance(item, Candidate):
            row = {"audio_filepath": str(item.audio.resolve()), "duration": round(audio_duration(item.audio), 3), "text": item.text}
            yield item.extra["speaker"], row


def write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    hours = sum(float(r["duration"]) for r in rows) / 3600  # type: ignore[arg-type]
    print(f"{path}: {len(rows)} utterances, {hours:.2f} h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args()
    data: Path = args.data
    if not data.is_dir():
        raise SystemExit(f"error: {data}: shared data folder not found")

    libri = list(librispeech_rows(data / "librispeech-mini" / "LibriSpeech" / "train-clean-100"))
    speakers = sorted({speaker for speaker, _ in libri}, key=int)
    dev_speakers = set(speakers[::LIBRI_DEV_EVERY])
    fsdd = list(manifest_rows(data / "fsdd" / "all.jsonl"))

    train = list(manifest_rows(data / "ljspeech" / "train.jsonl"))
    train += [row for speaker, row in libri if speaker not in dev_speakers]
    train += [row for row in fsdd if row.get("speaker") != HELD_OUT_FSDD_SPEAKER]
    train += list(manifest_rows(data / "librivox" / "all.jsonl"))
    write(args.out / "train_real.jsonl", train)
    write(args.out / "dev_lj.jsonl", list(manifest_rows(data / "ljspeech" / "dev.jsonl")))
    write(args.out / "dev_libri.jsonl", [row for speaker, row in libri if speaker in dev_speakers])
    write(args.out / "dev_fsdd.jsonl", [row for row in fsdd if row.get("speaker") == HELD_OUT_FSDD_SPEAKER])


if __name__ == "__main__":
    main()
