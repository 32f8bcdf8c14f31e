"""Typed transcription results: words with times and confidences, segments, transcripts."""

from __future__ import annotations

from dataclasses import dataclass

# Subtitles: a new segment starts after a pause this long or when one grows too long.
SEGMENT_PAUSE_SECONDS = 0.8
SEGMENT_MAX_SECONDS = 10.0


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the start of the audio
    end: float  # seconds; end > start
    confidence: float  # in [0, 1]


@dataclass(frozen=True)
class Segment:
    """A run of words between pauses: one subtitle cue."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Alternative:
    """One entry of a beam search's n-best list."""

    text: str
    score: float  # total log score: acoustic + lm_weight * LM + word_score * words (+ hotword boosts)


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[Segment, ...]
    duration: float  # seconds of audio transcribed
    alternatives: tuple[Alternative, ...] = ()  # n-best list of a beam search, best first (empty for greedy)

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(word for segment in self.segments for word in segment.words)


class SegmentBuilder:
    """Groups words into segments as they arrive: a new segment starts at a pause, or before a
    segment would grow past max_seconds. A segment is final once the next one has begun, so a
    long recording's cues can be written while later audio is still being transcribed."""

    def __init__(self, pause_seconds: float = SEGMENT_PAUSE_SECONDS, max_seconds: float = SEGMENT_MAX_SECONDS) -> None:
        self.pause_seconds = pause_seconds
        self.max_seconds = max_seconds
        self._current: list[Word] = []

    def add(self, word: Word) -> Segment | None:
        """Take the next word; return the segment it closed, if any."""
        current, closed = self._current, None
        if current and (word.start - current[-1].end >= self.pause_seconds or word.end - current[0].start > self.max_seconds):
            closed = _segment(current)
            self._current = []
        self._current.append(word)
        return closed

    def finish(self) -> Segment | None:
        """The last, still open segment (None when no word is pending)."""
        closed = _segment(self._current) if self._current else None
        self._current = []
        return closed


def group_segments(
    words: list[Word],
    pause_seconds: float = SEGMENT_PAUSE_SECONDS,
    max_seconds: float = SEGMENT_MAX_SECONDS,
) -> tuple[Segment, ...]:
    """Split words into segments at pauses, and before a segment grows past max_seconds."""
    builder = SegmentBuilder(pause_seconds, max_seconds)
    segments = [segment for word in words if (segment := builder.add(word)) is not None]
    last = builder.finish()
    return tuple([*segments, last] if last is not None else segments)


def _segment(words: list[Word]) -> Segment:
    return Segment(start=words[0].start, end=words[-1].end, text=" ".join(w.text for w in words), words=tuple(words))


def make_transcript(words: list[Word], duration: float, alternatives: tuple[Alternative, ...] = ()) -> Transcript:
    return Transcript(text=" ".join(w.text for w in words), segments=group_segments(words), duration=duration, alternatives=alternatives)
