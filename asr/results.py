"""Typed transcription results: words with times and confidences, segments, transcripts."""

from __future__ import annotations

from dataclasses import dataclass

from asr.constants import SEGMENT_MAX_SECONDS, SEGMENT_PAUSE_SECONDS


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


def group_segments(
    words: list[Word],
    pause_seconds: float = SEGMENT_PAUSE_SECONDS,
    max_seconds: float = SEGMENT_MAX_SECONDS,
) -> tuple[Segment, ...]:
    """Split words into segments at pauses, and before a segment grows past max_seconds."""
    segments: list[Segment] = []
    current: list[Word] = []
    for word in words:
        if current and (word.start - current[-1].end >= pause_seconds or word.end - current[0].start > max_seconds):
            segments.append(_segment(current))
            current = []
        current.append(word)
    if current:
        segments.append(_segment(current))
    return tuple(segments)


def _segment(words: list[Word]) -> Segment:
    return Segment(start=words[0].start, end=words[-1].end, text=" ".join(w.text for w in words), words=tuple(words))


def make_transcript(words: list[Word], duration: float, alternatives: tuple[Alternative, ...] = ()) -> Transcript:
    return Transcript(text=" ".join(w.text for w in words), segments=group_segments(words), duration=duration, alternatives=alternatives)
