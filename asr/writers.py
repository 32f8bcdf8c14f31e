"""One writer per output format: txt, json, srt, vtt, tsv. Finished files are written
atomically; the line formats can also grow segment by segment in a .partial file."""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from asr.fileio import atomic_write_bytes
from asr.results import Segment, Transcript


def one_line(text: str) -> str:
    """Text on one line: every run of whitespace (newlines, tabs, U+2028...) becomes one space,
    so that a cue or row never breaks the file's structure."""
    return " ".join(text.split())


def _vtt_escape(text: str) -> str:
    """WebVTT cue text treats & and < as markup, and a line holding "-->" as a timing line."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_timestamp(seconds: float, decimal: str = ".", always_hours: bool = False) -> str:
    """3725.5 -> '01:02:05.500' (srt uses ',' as the decimal mark and always shows hours)."""
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    prefix = f"{hours:02d}:" if always_hours or hours else ""
    return f"{prefix}{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


class ResultWriter(ABC):
    """A file format, written whole once the transcript is complete."""

    extension: str

    def target(self, audio_path: str | Path, output_dir: str | Path) -> Path:
        """OUTPUT_DIR/<audio stem>.<extension>."""
        return Path(output_dir) / f"{Path(audio_path).stem}.{self.extension}"

    def write(self, transcript: Transcript, audio_path: str | Path, output_dir: str | Path) -> Path:
        """Write the whole transcript atomically and return the file's path."""
        target = self.target(audio_path, output_dir)
        atomic_write_bytes(target, self.render(transcript).encode("utf-8"))
        return target

    def open(self, audio_path: str | Path, output_dir: str | Path) -> ResultStream:
        """Start writing a transcript segment by segment (see ResultStream)."""
        return ResultStream(self, audio_path, output_dir)

    @abstractmethod
    def render(self, transcript: Transcript) -> str: ...


class LineWriter(ResultWriter):
    """A line format (txt, srt, vtt, tsv): a header and one cue per segment, so it can also be
    written as segments arrive."""

    def render(self, transcript: Transcript) -> str:
        lines = [line for segment in transcript.segments if (line := self.cue_line(segment))]
        return self.header() + "".join(self.cue(index, start, end, text) for index, (start, end, text) in enumerate(lines, start=1))

    @staticmethod
    def cue_line(segment: Segment) -> tuple[float, float, str] | None:
        """(start, end, one-line text) of a segment, or None when it has no text left."""
        text = one_line(segment.text)
        return (segment.start, segment.end, text) if text else None

    def header(self) -> str:
        return ""

    @abstractmethod
    def cue(self, index: int, start: float, end: float, text: str) -> str:
        """The text of cue number `index` (from 1), including what separates it from the last."""


NAME_MAX_BYTES = 255  # longest file name on common file systems


def partial_path(target: Path) -> Path:
    """<target>.partial, shortened (with a hash to stay unique) when that name would be too long."""
    name = target.name + ".partial"
    if len(os.fsencode(name)) > NAME_MAX_BYTES:
        digest = hashlib.sha1(os.fsencode(target.name)).hexdigest()[:8]
        name = os.fsdecode(os.fsencode(target.name)[: NAME_MAX_BYTES - 32]) + f"-{digest}.partial"
    return target.with_name(name)


class ResultStream:
    """Writes cues to <target>.partial as segments become final, flushing each one, so a long
    recording's transcript survives a crash or Ctrl-C half way through. The partial file is
    created with the first cue (a run that fails before any leaves an older one alone). `close`
    puts the complete file in place atomically and removes the partial one; `abort` keeps it."""

    def __init__(self, writer: ResultWriter, audio_path: str | Path, output_dir: str | Path) -> None:
        self.writer, self.audio_path, self.output_dir = writer, audio_path, output_dir
        target = writer.target(audio_path, output_dir)
        self.partial = partial_path(target)
        self._file: TextIO | None = None
        self._cues = 0

    def add(self, segment: Segment) -> None:
        writer = self.writer
        if not isinstance(writer, LineWriter):
            return  # other formats are written whole, at the end
        line = writer.cue_line(segment)
        if line is None:
            return
        self._cues += 1
        if self._file is None:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.partial.open("w", encoding="utf-8", newline="\n")
            self._file.write(writer.header())
        self._file.write(writer.cue(self._cues, *line))
        self._file.flush()

    def close(self, transcript: Transcript) -> Path:
        """Write the finished transcript and drop the partial file."""
        target = self.writer.write(transcript, self.audio_path, self.output_dir)
        if self._file is not None:
            self._file.close()
            self._file = None
            self.partial.unlink(missing_ok=True)
        return target

    def abort(self) -> Path | None:
        """Stop after a failure; return the partial file when this run wrote one."""
        if self._file is None:
            return None
        self._file.close()
        self._file = None
        return self.partial


def feed_all(streams: list[ResultStream]) -> Callable[[Segment], None]:
    """A segment callback (for Recognizer.transcribe's on_segment) that adds to every stream."""

    def add(segment: Segment) -> None:
        for stream in streams:
            stream.add(segment)

    return add


class TxtWriter(LineWriter):
    extension = "txt"

    def cue(self, index: int, start: float, end: float, text: str) -> str:
        return text + "\n"


class JsonWriter(ResultWriter):
    extension = "json"  # one document: written when the transcript is complete

    def render(self, transcript: Transcript) -> str:
        return json.dumps(asdict(transcript), ensure_ascii=False, indent=2) + "\n"


class SrtWriter(LineWriter):
    extension = "srt"

    def cue(self, index: int, start: float, end: float, text: str) -> str:
        gap = "\n" if index > 1 else ""  # a blank line between cues
        return f"{gap}{index}\n{format_timestamp(start, ',', always_hours=True)} --> {format_timestamp(end, ',', always_hours=True)}\n{text}\n"


class VttWriter(LineWriter):
    extension = "vtt"

    def header(self) -> str:
        return "WEBVTT\n\n"

    def cue(self, index: int, start: float, end: float, text: str) -> str:
        gap = "\n" if index > 1 else ""
        return f"{gap}{format_timestamp(start)} --> {format_timestamp(end)}\n{_vtt_escape(text)}\n"


class TsvWriter(LineWriter):
    """start and end in integer milliseconds, like whisper's tsv output."""

    extension = "tsv"

    def header(self) -> str:
        return "start\tend\ttext\n"

    def cue(self, index: int, start: float, end: float, text: str) -> str:
        return f"{round(start * 1000)}\t{round(end * 1000)}\t{text}\n"


WRITERS: dict[str, type[ResultWriter]] = {w.extension: w for w in (TxtWriter, JsonWriter, SrtWriter, VttWriter, TsvWriter)}


def get_writers(output_format: str) -> list[ResultWriter]:
    """'all' or one of txt, json, srt, vtt, tsv."""
    if output_format == "all":
        return [cls() for cls in WRITERS.values()]
    if output_format not in WRITERS:
        raise ValueError(f"unknown output format {output_format!r}; choose from {', '.join(WRITERS)} or all")
    return [WRITERS[output_format]()]
