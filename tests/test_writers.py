from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from asr.results import Word, make_transcript
from asr.writers import format_timestamp, get_writers

SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)\n")
VTT_TIME = r"(?:(\d\d):)?(\d\d):(\d\d)\.(\d{3})"
VTT_CUE = re.compile(rf"{VTT_TIME} --> {VTT_TIME}\n(.+)\n")


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    cues = []
    for block in text.strip().split("\n\n"):
        match = SRT_CUE.fullmatch(block + "\n")
        assert match, block
        g = match.groups()
        cues.append((_seconds(*g[1:5]), _seconds(*g[5:9]), g[9]))
    return cues


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for block in text[len("WEBVTT\n\n") :].strip().split("\n\n"):
        match = VTT_CUE.fullmatch(block + "\n")
        assert match, block
        g = match.groups()
        text = g[8].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append((_seconds(*g[0:4]), _seconds(*g[4:8]), text))
    return cues


def sample_transcript():  # type: ignore[no-untyped-def]
    words = [Word("hello", 0.5, 0.9, 0.9), Word("world", 1.0, 1.4, 0.8), Word("again", 3.0, 3.5, 0.7), Word("later", 3725.0, 3725.5, 0.6)]
    return make_transcript(words, duration=3726.0)


def test_segments_split_at_pauses() -> None:
    transcript = sample_transcript()
    assert [s.text for s in transcript.segments] == ["hello world", "again", "later"]
    assert transcript.text == "hello world again later"
    assert len(transcript.words) == 4


def test_timestamps() -> None:
    assert format_timestamp(3725.5) == "01:02:05.500"
    assert format_timestamp(65.25, ",", always_hours=True) == "00:01:05,250"
    assert format_timestamp(5.0) == "00:05.000"


def test_every_format_parses_back(tmp_path: Path) -> None:
    transcript = sample_transcript()
    paths = {w.extension: w.write(transcript, "/audio/meeting.flac", tmp_path) for w in get_writers("all")}
    assert sorted(paths) == ["json", "srt", "tsv", "txt", "vtt"]
    assert all(p.name.startswith("meeting.") for p in paths.values())
    expected = [(s.start, s.end, s.text) for s in transcript.segments]
    assert parse_srt(paths["srt"].read_text()) == expected
    assert parse_vtt(paths["vtt"].read_text()) == expected
    assert paths["txt"].read_text() == "hello world\nagain\nlater\n"
    data = json.loads(paths["json"].read_text())
    assert data["text"] == transcript.text
    assert data["segments"][0]["words"][1] == {"text": "world", "start": 1.0, "end": 1.4, "confidence": 0.8}
    rows = paths["tsv"].read_text().splitlines()
    assert rows[0] == "start\tend\ttext"
    assert rows[1] == "500\t1400\thello world"


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        get_writers("docx")
