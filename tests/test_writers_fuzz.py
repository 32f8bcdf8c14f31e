"""Property tests for the writers: any transcript text comes back exactly from json, as one
line per segment (whitespace runs made single spaces) from txt and tsv, and in cues of at most
two short lines from srt and vtt."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from asr.results import Segment, Transcript, Word
from asr.writers import WRITERS, one_line
from tests.test_writers import parse_srt, parse_vtt

FUZZ = settings(max_examples=200, deadline=None, database=None)

TIMES = st.floats(min_value=0, max_value=200_000, allow_nan=False)
WORD_TEXT = st.text(min_size=1, max_size=12) | st.sampled_from(["-->", "<b>", "&amp;", "1\n00:00:01,000 --> 00:00:02,000", "\t", "\u2028", "WEBVTT", ""])


@st.composite
def transcripts(draw: st.DrawFn) -> Transcript:
    segments = []
    for _ in range(draw(st.integers(0, 5))):
        start, end = sorted((draw(TIMES), draw(TIMES)))
        words = tuple(Word(draw(WORD_TEXT), start, end, draw(st.floats(0, 1))) for _ in range(draw(st.integers(0, 4))))
        text = draw(st.text(max_size=40)) if draw(st.booleans()) else " ".join(w.text for w in words)
        segments.append(Segment(start, end, text, words))
    return Transcript(" ".join(s.text for s in segments), tuple(segments), draw(TIMES))


def _expected(transcript: Transcript) -> list[tuple[float, float, str]]:
    return [(s.start, s.end, one_line(s.text)) for s in transcript.segments if one_line(s.text)]


def _close(parsed: list[tuple[float, float, str]], expected: list[tuple[float, float, str]]) -> None:
    assert [text for _, _, text in parsed] == [text for _, _, text in expected]
    for (start, end, _), (want_start, want_end, _) in zip(parsed, expected, strict=True):
        assert abs(start - want_start) <= 0.0005 + 1e-9 and abs(end - want_end) <= 0.0005 + 1e-9  # millisecond timestamps


def _fit_on_screen(cues: list[tuple[float, float, str]], expected: list[tuple[float, float, str]]) -> None:
    """Subtitle cues hold the segments' text in order, each at most two lines of at most 42
    characters (or one word), and each within its segment's times."""
    assert " ".join(text.replace("\n", " ") for _, _, text in cues) == " ".join(text for _, _, text in expected)
    for _, _, text in cues:
        lines = text.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 or " " not in line for line in lines)
    low, high = min((s for s, _, _ in expected), default=0.0), max((e for _, e, _ in expected), default=0.0)
    assert all(low - 0.0005 <= start <= end + 1e-9 <= high + 0.0005 + 1e-9 for start, end, _ in cues)


def _parse_tsv(text: str) -> list[tuple[float, float, str]]:
    header, *rows = text.split("\n")
    assert header == "start\tend\ttext" and rows[-1] == ""
    return [(int(a) / 1000, int(b) / 1000, t) for a, b, t in (row.split("\t", 2) for row in rows[:-1])]


@FUZZ
@given(transcripts())
def test_json_round_trips_exactly(transcript: Transcript) -> None:
    data = json.loads(WRITERS["json"]().render(transcript))
    assert data["text"] == transcript.text and data["duration"] == transcript.duration
    assert [(s["start"], s["end"], s["text"]) for s in data["segments"]] == [(s.start, s.end, s.text) for s in transcript.segments]
    words = [Word(**w) for s in data["segments"] for w in s["words"]]
    assert words == list(transcript.words)


@FUZZ
@given(transcripts())
@example(Transcript("a --> b", (Segment(1.0, 2.0, "a --> b <i>x</i> &amp;", ()),), 3.0))
@example(Transcript("", (Segment(1.0, 2.0, "first\n\n2\n00:00:05,000 --> 00:00:06,000\nforged", ()), Segment(3.0, 4.0, " \n\t ", ())), 5.0))
def test_subtitles_and_tables_parse_back(transcript: Transcript) -> None:
    expected = _expected(transcript)
    for cues in (parse_srt(WRITERS["srt"]().render(transcript)) if expected else [], parse_vtt(WRITERS["vtt"]().render(transcript)) if expected else []):
        _fit_on_screen(cues, expected)
    _close(_parse_tsv(WRITERS["tsv"]().render(transcript)), expected)
    assert WRITERS["txt"]().render(transcript).split("\n") == [*(text for _, _, text in expected), ""]
    assert "-->" not in "".join(line for line in WRITERS["vtt"]().render(transcript).split("\n") if not line[:1].isdigit())
