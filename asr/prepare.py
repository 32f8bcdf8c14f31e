"""Building JSONL manifests from common corpus layouts. Bad rows are reported and skipped.

- LibriSpeech: <subset>/<speaker>/<chapter>/*.flac with <speaker>-<chapter>.trans.txt
- LJSpeech: metadata.csv (id|text|normalized text) and wavs/<id>.wav
- a folder: any audio file with a same-named .txt transcript beside it
- Common Voice: a TSV (path, sentence, client_id, ...) and its clips/ folder
- CMU AN4: etc/an4_{train,test}.{transcription,fileids} and wav/<part folder>/<speaker>/*.sph"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from asr.audio import audio_duration
from asr.errors import AsrError
from asr.manifests import write_manifest_rows

AUDIO_SUFFIXES = (".flac", ".wav", ".mp3", ".ogg", ".opus")
# AN4 has no dev set of its own: every 7th training speaker (sorted ids, from the first; 11 of
# 74) is held out, the same split in recipes/an4 and recipes/default_model.
AN4_DEV_EVERY = 7


def held_out_speakers(speakers: Iterable[str], every: int) -> set[str]:
    """Every `every`-th distinct speaker in sorted order (numeric ids as numbers), from the first:
    a speaker-disjoint split."""

    def order(speaker: str) -> tuple[int, int, str]:
        return (0, int(speaker), "") if speaker.isdigit() else (1, 0, speaker)

    return set(sorted(set(speakers), key=order)[::every])


@dataclass(frozen=True)
class Candidate:
    audio: Path
    text: str
    extra: dict[str, str] = field(default_factory=dict)  # e.g. speaker


@dataclass
class PrepareReport:
    written: int = 0
    hours: float = 0.0
    problems: list[str] = field(default_factory=list)


def librispeech(root: Path) -> Iterator[Candidate | str]:
    """Every *.trans.txt below root (a subset folder or the LibriSpeech folder)."""
    transcripts = sorted(root.rglob("*.trans.txt"))
    if not transcripts:
        yield f"{root}: no *.trans.txt files (expected LibriSpeech/<subset>/<speaker>/<chapter>/)"
    for transcript in transcripts:
        for number, line in enumerate(transcript.read_text(encoding="utf-8").splitlines(), start=1):
            utt_id, _, text = line.strip().partition(" ")
            if not utt_id:
                continue
            if not text.strip():
                yield f"{transcript}:{number}: empty transcript for {utt_id}"
                continue
            yield Candidate(transcript.parent / f"{utt_id}.flac", text.strip(), {"speaker": utt_id.split("-")[0]})


def ljspeech(root: Path) -> Iterator[Candidate | str]:
    """metadata.csv rows 'id|raw text|normalized text'; the normalized text is used when present."""
    metadata = root / "metadata.csv"
    if not metadata.is_file():
        yield f"{metadata}: not found (expected an LJSpeech folder with metadata.csv and wavs/)"
        return
    for number, line in enumerate(metadata.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("|")
        if len(fields) < 2 or not fields[0]:
            yield f"{metadata}:{number}: expected 'id|text|normalized text'"
            continue
        text = (fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]).strip()
        if not text:
            yield f"{metadata}:{number}: empty transcript for {fields[0]}"
            continue
        yield Candidate(root / "wavs" / f"{fields[0]}.wav", text)


def folder(root: Path) -> Iterator[Candidate | str]:
    """Audio files with a transcript in a same-named .txt file."""
    audio_files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not audio_files:
        yield f"{root}: no audio files found"
    for audio in audio_files:
        transcript = audio.with_suffix(".txt")
        if not transcript.is_file():
            yield f"{audio}: no transcript {transcript.name}"
            continue
        text = " ".join(transcript.read_text(encoding="utf-8").split())
        if not text:
            yield f"{transcript}: empty transcript"
            continue
        yield Candidate(audio, text)


def commonvoice(tsv: Path) -> Iterator[Candidate | str]:
    """A Common Voice TSV (train.tsv, dev.tsv, ...); clips are in clips/ beside it."""
    if not tsv.is_file():
        yield f"{tsv}: not found (expected a Common Voice TSV such as train.tsv)"
        return
    with tsv.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=2):
            path, sentence = (row.get("path") or "").strip(), (row.get("sentence") or "").strip()
            if not path or not sentence:
                yield f"{tsv}:{number}: missing path or sentence"
                continue
            yield Candidate(tsv.parent / "clips" / path, sentence, {"speaker": row.get("client_id") or ""})


def an4(root: Path) -> Iterator[Candidate | str]:
    """CMU AN4 as distributed (root holds etc/ and wav/): both parts that are present, each row
    with its speaker and part (train or test). The text is kept as transcribed: upper case,
    spelled letters as one-letter words, numbers as words."""
    parts = [part for part in ("train", "test") if (root / "etc" / f"an4_{part}.transcription").is_file()]
    if not parts:
        yield f"{root}: no etc/an4_train.transcription or etc/an4_test.transcription (expected the an4 folder with etc/ and wav/)"
    for part in parts:
        yield from _an4_part(root, part)


def _an4_part(root: Path, part: str) -> Iterator[Candidate | str]:
    fileids = root / "etc" / f"an4_{part}.fileids"
    if not fileids.is_file():
        yield f"{fileids}: not found"
        return
    paths = {Path(line.strip()).name: root / "wav" / f"{line.strip()}.sph" for line in fileids.read_text(encoding="utf-8").splitlines() if line.strip()}
    transcription = root / "etc" / f"an4_{part}.transcription"
    for number, line in enumerate(transcription.read_text(encoding="utf-8").splitlines(), start=1):
        text, _, utt_id = line.strip().rstrip(")").rpartition("(")
        words = [w for w in text.split() if w not in ("<s>", "</s>")]
        if not utt_id or utt_id not in paths:
            yield f"{transcription}:{number}: no file id for {line.strip()[:60]!r} in {fileids.name}"
        elif not words:
            yield f"{transcription}:{number}: empty transcript for {utt_id}"
        else:
            yield Candidate(paths[utt_id], " ".join(words), {"speaker": paths[utt_id].parent.name, "part": part})


class Layout(NamedTuple):
    read: Callable[[Path], Iterator[Candidate | str]]
    source: str  # what the corpus argument of `asr prepare LAYOUT SOURCE` names


LAYOUTS: dict[str, Layout] = {
    "librispeech": Layout(librispeech, "a subset folder"),
    "ljspeech": Layout(ljspeech, "the folder with metadata.csv"),
    "folder": Layout(folder, "any folder"),
    "commonvoice": Layout(commonvoice, "a .tsv"),
    "an4": Layout(an4, "the an4 folder with etc/ and wav/ (both parts, rows marked with speaker and part)"),
}


def write_manifest(candidates: Iterable[Candidate | str], output: Path) -> PrepareReport:
    """Read each audio file's duration from its header and write the manifest (audio paths
    relative to the manifest's folder when possible). Unreadable audio is reported, not written."""
    report = PrepareReport()
    rows = []
    base = output.parent.resolve()
    for item in candidates:
        if isinstance(item, str):
            report.problems.append(item)
            continue
        try:
            duration = audio_duration(item.audio)
        except AsrError as exc:
            report.problems.append(str(exc))
            continue
        if duration <= 0:
            report.problems.append(f"{item.audio}: zero-length audio")
            continue
        audio = item.audio.resolve()
        path = str(audio.relative_to(base)) if audio.is_relative_to(base) else str(audio)
        rows.append({"audio_filepath": path, "duration": round(duration, 3), "text": item.text, **item.extra})
        report.written += 1
        report.hours += duration / 3600
    write_manifest_rows(output, rows)
    return report
