"""Build the default model's real-speech manifests from ../shared/data, dev sets held out.

    python recipes/default_model/prepare.py --data ../shared/data --out data/

Writes (audio paths absolute):
  train_real.jsonl     every real utterance not in a dev set: LJSpeech LJ001, LibriSpeech
                       train-clean-100 sample minus the dev speakers, spoken digits minus one
                       speaker, LibriVox, speechocean762 train, AN4 minus the dev speakers,
                       Common Voice minus the dev clips, kathleen (ARCTIC), asterisk prompts
  train_read.jsonl     the LibriSpeech-like read speech of train_real (LJSpeech, LibriSpeech,
                       LibriVox), which the config lists more than once to weigh it up
  dev_lj.jsonl         LJSpeech LJ002 (dev.jsonl)
  dev_libri.jsonl      held-out LibriSpeech speakers (every 10th by sorted id; 20 speakers)
  dev_fsdd.jsonl       the held-out spoken-digit speaker (8 kHz)
  dev_so762.jsonl      speechocean762 dev.jsonl (10 speakers, disjoint from its train.jsonl)
  dev_an4.jsonl        AN4 speakers held out as in recipes/an4 (asr.prepare.AN4_DEV_EVERY)
  dev_cv.jsonl         50 Common Voice 'rigved' clips (each from another speaker; the first 50
                       by SHA-1 of the file name); the 'pg' clips (6 speakers) all train
  train_text.txt       the transcripts of train_real.jsonl, one a line (language-model text)"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asr.audio import audio_duration
from asr.manifests import read_manifest_rows, write_manifest_rows
from asr.prepare import AN4_DEV_EVERY, Candidate, held_out_speakers, librispeech

HELD_OUT_FSDD_SPEAKER = "theo"
LIBRI_DEV_EVERY = 10  # every 10th speaker (by sorted id) is held out for dev
CV_DEV_CLIPS = 50


def manifest_rows(path: Path) -> list[dict[str, Any]]:
    return read_manifest_rows(path, absolute_paths=True)


def librispeech_rows(subset_dir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(speaker, row) for every readable utterance of a LibriSpeech-layout subset folder."""
    for item in librispeech(subset_dir):
        if isinstance(item, Candidate):
            row = {"audio_filepath": str(item.audio.resolve()), "duration": round(audio_duration(item.audio), 3), "text": item.text}
            yield item.extra["speaker"], row


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    write_manifest_rows(path, rows)
    hours = sum(float(r["duration"]) for r in rows) / 3600
    print(f"{path}: {len(rows)} utterances, {hours:.2f} h")


def commonvoice_dev(rows: list[dict[str, Any]]) -> set[str]:
    rigved = sorted(str(r["audio_filepath"]) for r in rows if Path(str(r["audio_filepath"])).name.startswith("rigved_"))
    return set(sorted(rigved, key=lambda p: hashlib.sha1(Path(p).name.encode()).hexdigest())[:CV_DEV_CLIPS])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args()
    data: Path = args.data
    if not data.is_dir():
        raise SystemExit(f"error: {data}: shared data folder not found (pass --data)")

    libri = list(librispeech_rows(data / "librispeech-mini" / "LibriSpeech" / "train-clean-100"))
    dev_speakers = held_out_speakers((speaker for speaker, _ in libri), LIBRI_DEV_EVERY)
    fsdd = list(manifest_rows(data / "fsdd" / "all.jsonl"))
    an4 = list(manifest_rows(data / "an4" / "train.jsonl"))
    an4_dev = held_out_speakers((str(r["speaker"]) for r in an4), AN4_DEV_EVERY)
    cv = list(manifest_rows(data / "commonvoice" / "all.jsonl"))
    cv_dev = commonvoice_dev(cv)

    read = list(manifest_rows(data / "ljspeech" / "train.jsonl"))
    read += [row for speaker, row in libri if speaker not in dev_speakers]
    read += list(manifest_rows(data / "librivox" / "all.jsonl"))
    train = list(read)
    train += [row for row in fsdd if row.get("speaker") != HELD_OUT_FSDD_SPEAKER]
    train += list(manifest_rows(data / "speechocean762" / "train.jsonl"))
    train += [row for row in an4 if row["speaker"] not in an4_dev]
    train += [row for row in cv if row["audio_filepath"] not in cv_dev]
    train += list(manifest_rows(data / "kathleen" / "all.jsonl"))
    train += list(manifest_rows(data / "asterisk" / "all.jsonl"))
    write(args.out / "train_real.jsonl", train)
    (args.out / "train_text.txt").write_text("".join(f"{row['text']}\n" for row in train), encoding="utf-8")
    write(args.out / "train_read.jsonl", read)
    write(args.out / "dev_lj.jsonl", list(manifest_rows(data / "ljspeech" / "dev.jsonl")))
    write(args.out / "dev_libri.jsonl", [row for speaker, row in libri if speaker in dev_speakers])
    write(args.out / "dev_fsdd.jsonl", [row for row in fsdd if row.get("speaker") == HELD_OUT_FSDD_SPEAKER])
    write(args.out / "dev_so762.jsonl", list(manifest_rows(data / "speechocean762" / "dev.jsonl")))
    write(args.out / "dev_an4.jsonl", [row for row in an4 if row["speaker"] in an4_dev])
    write(args.out / "dev_cv.jsonl", [row for row in cv if row["audio_filepath"] in cv_dev])


if __name__ == "__main__":
    main()
