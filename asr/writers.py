"""One writer per output format: txt, json, srt, vtt, tsv. Files are written atomically."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path

from asr.fileio import atomic_write_bytes
from asr.results import Transcript


def one_line(text: str) -> str:
    """Text on one line: every run of whitespace (newlines, tabs, U+2028...) becomes one space,
    so that a cue or row never breaks the file's structure."""
    return " ".join(text.split())


def _vtt_escape(text: str) -> str:
    """WebVTT cue text treats & and < as markup, and a line holding "-->" as a timing line."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lines(transcript: Transcript) -> list[tuple[float, float, str]]:
    """(start, end, one-line text) of each segment that has text left."""
    return [(s.start, s.end, line) for s in transcript.segments if (line := one_line(s.text))]


def format_timestamp(seconds: float, decimal: str = ".", always_hours: bool = False) -> str:
    """3725.5 -> '01:02:05.500' (srt uses ',' as the decimal mark and always shows hours)."""
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    prefix = f"{hours:02d}:" if always_hours or hours else ""
    return f"{prefix}{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


class ResultWriter(ABC):
    extension: str

    def write(self, transcript: Transcript, audio_path: str | Path, output_dir: str | Path) -> Path:
        """Write OUTPUT_DIR/<audio stem>.<extension> and return its path."""
        target = Path(output_dir) / f"{Path(audio_path).stem}.{self.extension}"
        atomic_write_bytes(target, self.render(transcript).encode("utf-8"))
        return target

    @abstractmethod
    def render(self, transcript: Transcript) -> str: ...


class TxtWriter(ResultWriter):
    extension = "txt"

    def render(self, transcript: Transcript) -> str:
        return "".join(text + "\n" for _, _, text in _lines(transcript))


class JsonWriter(ResultWriter):
    extension = "json"

    def render(self, transcript: Transcript) -> str:
        return json.dumps(asdict(transcript), ensure_ascii=False, indent=2) + "\n"


class SrtWriter(ResultWriter):
    extension = "srt"

    def render(self, transcript: Transcript) -> str:
        cues = []
        for index, (start, end, text) in enumerate(_lines(transcript), start=1):
            cues.append(f"{index}\n{format_timestamp(start, ',', always_hours=True)} --> {format_timestamp(end, ',', always_hours=True)}\n{text}\n")
        return "\n".join(cues)


class VttWriter(ResultWriter):
    extension = "vtt"

    def render(self, transcript: Transcript) -> str:
        cues = [f"{format_timestamp(start)} --> {format_timestamp(end)}\n{_vtt_escape(text)}\n" for start, end, text in _lines(transcript)]
        return "WEBVTT\n\n" + "\n".join(cues)


class TsvWriter(ResultWriter):
    """start and end in integer milliseconds, like whisper's tsv output."""

    extension = "tsv"

    def render(self, transcript: Transcript) -> str:
        rows = [f"{round(start * 1000)}\t{round(end * 1000)}\t{text}" for start, end, text in _lines(transcript)]
        return "start\tend\ttext\n" + "".join(row + "\n" for row in rows)


WRITERS: dict[str, type[ResultWriter]] = {w.extension: w for w in (TxtWriter, JsonWriter, SrtWriter, VttWriter, TsvWriter)}


def get_writers(output_format: str) -> list[ResultWriter]:
    """'all' or one of txt, json, srt, vtt, tsv."""
    if output_format == "all":
        return [cls() for cls in WRITERS.values()]
    if output_format not in WRITERS:
        raise ValueError(f"unknown output format {output_format!r}; choose from {', '.join(WRITERS)} or all")
    return [WRITERS[output_format]()]
