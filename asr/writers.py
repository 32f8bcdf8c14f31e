"""One writer per output format: txt, json, srt, vtt, tsv. Finished files are written
atomically; the line formats can also grow segment by segment in a .partial file."""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Protocol, TextIO

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


Cue = tuple[float, float, str]  # start, end, text (one line, or two for subtitles)


class LineWriter(ResultWriter):
    """A line format (txt, srt, vtt, tsv): a header and one cue per segment (subtitles: one or
    more), so it can also be written as segments arrive."""

    def render(self, transcript: Transcript) -> str:
        cues = [cue for segment in transcript.segments for cue in self.cues(segment)]
        return self.header() + "".join(self.cue(index, start, end, text) for index, (start, end, text) in enumerate(cues, start=1))

    def cues(self, segment: Segment) -> list[Cue]:
        """The cues of a segment: its text on one line, or none when it has no text left."""
        text = one_line(segment.text)
        return [(segment.start, segment.end, text)] if text else []

    def header(self) -> str:
        return ""

    @abstractmethod
    def cue(self, index: int, start: float, end: float, text: str) -> str:
        """The text of cue number `index` (from 1), including what separates it from the last."""


# Subtitle conventions (e.g. the BBC's and Netflix's guidelines): about 42 characters a line,
# at most two lines on screen at once.
SUBTITLE_LINE_CHARS = 42
SUBTITLE_CUE_LINES = 2

TimedToken = tuple[str, float, float]  # one word of a cue's text, with its start and end


def timed_tokens(segment: Segment) -> list[TimedToken]:
    """The words of a segment's text with their times: from its Words when they spell the text,
    else spread over the segment in proportion to their length."""
    tokens = one_line(segment.text).split(" ") if one_line(segment.text) else []
    from_words = [(token, w.start, w.end) for w in segment.words for token in one_line(w.text).split(" ") if token]
    if [token for token, _, _ in from_words] == tokens:
        return from_words
    total = sum(len(token) + 1 for token in tokens)
    span, done, timed = segment.end - segment.start, 0, []
    for token in tokens:
        start = segment.start + span * done / total
        done += len(token) + 1
        timed.append((token, start, segment.start + span * done / total))
    return timed


def _length(tokens: list[TimedToken]) -> int:
    return sum(len(token) for token, _, _ in tokens) + len(tokens) - 1


def _balanced_lines(tokens: list[TimedToken], line_chars: int) -> str:
    """A cue's words on one line when they fit, else on two lines as even as the limit allows."""
    if _length(tokens) <= line_chars or len(tokens) == 1:
        return " ".join(token for token, _, _ in tokens)

    def longer_line(cut: int) -> int:
        first, second = _length(tokens[:cut]), _length(tokens[cut:])
        fits = (first <= line_chars or cut == 1) and (second <= line_chars or cut == len(tokens) - 1)
        return max(first, second) if fits else 10**9

    cut = min(range(1, len(tokens)), key=longer_line)
    return " ".join(t for t, _, _ in tokens[:cut]) + "\n" + " ".join(t for t, _, _ in tokens[cut:])


def subtitle_cues(segment: Segment, line_chars: int = SUBTITLE_LINE_CHARS) -> list[Cue]:
    """A segment as cues of at most two lines (SUBTITLE_CUE_LINES) of at most `line_chars`
    characters (a longer word gets a line of its own), split at word times."""
    groups: list[list[TimedToken]] = []
    line_count, line_length = 0, 0
    for token in timed_tokens(segment):
        if groups and line_length and line_length + 1 + len(token[0]) <= line_chars:
            groups[-1].append(token)
            line_length += 1 + len(token[0])
            continue
        if not groups or line_count == SUBTITLE_CUE_LINES:
            groups.append([])
            line_count = 0
        groups[-1].append(token)
        line_count, line_length = line_count + 1, len(token[0])
    return [(group[0][1], group[-1][2], _balanced_lines(group, line_chars)) for group in groups]


class SubtitleWriter(LineWriter):
    """srt and vtt: long segments become several cues of at most two short lines."""

    def cues(self, segment: Segment) -> list[Cue]:
        return subtitle_cues(segment)


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
        for cue in writer.cues(segment):
            self._cues += 1
            if self._file is None:
                self.partial.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.partial.open("w", encoding="utf-8", newline="\n")
                self._file.write(writer.header())
            self._file.write(writer.cue(self._cues, *cue))
        if self._file is not None:
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


class SegmentSink(Protocol):
    def add(self, segment: Segment) -> None: ...


def feed_all(streams: Sequence[SegmentSink]) -> Callable[[Segment], None]:
    """A segment callback (for Recognizer.transcribe's on_segment) that adds to every stream."""

    def add(segment: Segment) -> None:
        for stream in streams:
            stream.add(segment)

    return add


class StdoutStream:
    """A transcript written to a text stream (stdout) instead of a file: a line format cue by
    cue as segments arrive, each line after `prefix`; other formats whole, at the end."""

    def __init__(self, writer: ResultWriter, write: Callable[[str], None], prefix: str = "") -> None:
        self.writer, self.write, self.prefix = writer, write, prefix
        self._cues = 0

    def add(self, segment: Segment) -> None:
        writer = self.writer
        if not isinstance(writer, LineWriter):
            return
        for cue in writer.cues(segment):
            if self._cues == 0 and writer.header():
                self.write(writer.header())
            self._cues += 1
            self.write("".join(self.prefix + line + "\n" for line in writer.cue(self._cues, *cue).split("\n")[:-1]))

    def close(self, transcript: Transcript) -> None:
        if not isinstance(self.writer, LineWriter):
            self.write(self.writer.render(transcript))
        elif self._cues == 0 and self.writer.header():
            self.write(self.writer.header())

    def abort(self) -> None:
        """Nothing to keep: what was written is already out."""


class TxtWriter(LineWriter):
    extension = "txt"

    def cue(self, index: int, start: float, end: float, text: str) -> str:
        return text + "\n"


class TimedTxtWriter(LineWriter):
    """One segment a line after its times, as whisper's command line prints them:
    '[00:01.000 --> 00:04.500] text'."""

    extension = "txt"

    def cue(self, index: int, start: float, end: float, text: str) -> str:
        return f"[{format_timestamp(start)} --> {format_timestamp(end)}] {text}\n"


class JsonWriter(ResultWriter):
    extension = "json"  # one document: written when the transcript is complete

    def render(self, transcript: Transcript) -> str:
        return json.dumps(asdict(transcript), ensure_ascii=False, indent=2) + "\n"


class SrtWriter(SubtitleWriter):
    extension = "srt"

    def cue(self, index: int, start: float, end: float, text: str) -> str:
        gap = "\n" if index > 1 else ""  # a blank line between cues
        return f"{gap}{index}\n{format_timestamp(start, ',', always_hours=True)} --> {format_timestamp(end, ',', always_hours=True)}\n{text}\n"


class VttWriter(SubtitleWriter):
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
OUTPUT_FORMATS = (*WRITERS, "all")


def get_writers(output_format: str) -> list[ResultWriter]:
    """One of OUTPUT_FORMATS: a writer's extension (txt, json, srt, vtt, tsv), or 'all'."""
    if output_format == "all":
        return [cls() for cls in WRITERS.values()]
    if output_format not in WRITERS:
        raise ValueError(f"unknown output format {output_format!r}; choose from {', '.join(WRITERS)} or all")
    return [WRITERS[output_format]()]
