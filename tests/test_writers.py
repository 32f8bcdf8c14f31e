from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from asr.results import Word, make_transcript
from asr.writers import LineWriter, format_timestamp, get_writers

SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+(?:\n.+)?)\n")
VTT_TIME = r"(?:(\d\d):)?(\d\d):(\d\d)\.(\d{3})"
VTT_CUE = re.compile(rf"{VTT_TIME} --> {VTT_TIME}\n(.+(?:\n.+)?)\n")  # one or two lines of text


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue; a two-line cue's lines joined by a newline."""
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


def test_streamed_files_grow_cue_by_cue_and_end_equal_to_the_whole_file(tmp_path: Path) -> None:
    transcript = sample_transcript()
    whole_dir, stream_dir = tmp_path / "whole", tmp_path / "new" / "stream"  # folders made on the first write
    for writer in get_writers("all"):
        expected = writer.write(transcript, "meeting.flac", whole_dir).read_text()
        stream = writer.open("meeting.flac", stream_dir)
        sizes = []
        for segment in transcript.segments:
            stream.add(segment)
            sizes.append(stream.partial.stat().st_size if isinstance(writer, LineWriter) else 0)
        if isinstance(writer, LineWriter):  # each cue is on disk as soon as it is added
            assert sizes == sorted(sizes) and sizes[0] > 0 and len(set(sizes)) == len(sizes)
            assert stream.partial.read_text() == expected
        final = stream.close(transcript)
        assert final.read_text() == expected
        assert not stream.partial.exists()
    assert sorted(p.name for p in stream_dir.iterdir()) == sorted(p.name for p in whole_dir.iterdir())


def test_an_aborted_stream_keeps_what_it_wrote(tmp_path: Path) -> None:
    transcript = sample_transcript()
    (srt,) = get_writers("srt")
    stream = srt.open("meeting.flac", tmp_path)
    stream.add(transcript.segments[0])
    kept = stream.abort()
    assert kept == tmp_path / "meeting.srt.partial"
    assert parse_srt(kept.read_text()) == [(0.5, 1.4, "hello world")]
    assert not (tmp_path / "meeting.srt").exists()
    earlier = tmp_path / "other.srt.partial"
    earlier.write_text("1\n00:00:00,000 --> 00:00:01,000\nfrom a run that crashed\n")
    empty = srt.open("other.flac", tmp_path)
    assert empty.abort() is None  # a run that wrote no cue leaves an earlier partial file alone
    assert "crashed" in earlier.read_text()
    (json_writer,) = get_writers("json")
    assert json_writer.open("meeting.flac", tmp_path).abort() is None


def test_partial_file_names_stay_within_name_max(tmp_path: Path) -> None:
    from asr.writers import partial_path

    assert partial_path(tmp_path / "talk.srt").name == "talk.srt.partial"
    long_a, long_b = tmp_path / ("a" * 250 + "x.txt"), tmp_path / ("a" * 250 + "y.txt")
    assert len(partial_path(long_a).name.encode()) <= 255 and partial_path(long_a).name.endswith(".partial")
    assert partial_path(long_a) != partial_path(long_b)
    partial_path(long_a).write_text("fits")


def long_segment_transcript():  # type: ignore[no-untyped-def]
    """One 9-second segment of 158 characters, as fast speech without a pause gives."""
    text = (
        "so the committee met again on tuesday and after a long discussion about the budget "
        "they decided to postpone the vote until the next meeting in early december."
    )
    words = [Word(word, 0.3 * i, 0.3 * i + 0.25, 0.9) for i, word in enumerate(text.split())]
    return make_transcript(words, duration=9.0)


def test_long_segments_become_cues_of_two_short_lines_split_at_word_times() -> None:
    transcript = long_segment_transcript()
    (segment,) = transcript.segments
    assert len(segment.text) == 158
    starts, ends = {w.start: w for w in segment.words}, {w.end: w for w in segment.words}
    for writer, parse in ((get_writers("srt")[0], parse_srt), (get_writers("vtt")[0], parse_vtt)):
        cues = parse(writer.render(transcript))
        assert len(cues) == 2
        assert " ".join(text.replace("\n", " ") for _, _, text in cues) == segment.text
        for start, end, text in cues:
            lines = text.split("\n")
            assert len(lines) == 2 and all(len(line) <= 42 for line in lines)
            words = text.split()
            assert starts[start].text == words[0] and ends[end].text == words[-1]  # at word times
    assert get_writers("txt")[0].render(transcript) == segment.text + "\n"  # plain text keeps a line per segment


def test_a_cue_that_fits_one_line_stays_on_one_line() -> None:
    from asr.writers import subtitle_cues

    (segment,) = make_transcript([Word("short", 0.0, 0.5, 1.0), Word("cue", 0.6, 0.9, 1.0)], 1.0).segments
    assert subtitle_cues(segment) == [(0.0, 0.9, "short cue")]
    long_word = "x" * 50
    (segment,) = make_transcript([Word(long_word, 0.0, 0.5, 1.0), Word("after", 0.6, 0.9, 1.0)], 1.0).segments
    assert subtitle_cues(segment) == [(0.0, 0.9, f"{long_word}\nafter")]


def test_stdout_streams_print_cue_by_cue() -> None:
    from asr.writers import StdoutStream, TimedTxtWriter

    transcript = sample_transcript()
    for writer in [*get_writers("all"), TimedTxtWriter()]:
        printed: list[str] = []
        stream = StdoutStream(writer, printed.append)
        for segment in transcript.segments:
            stream.add(segment)
        streamed = len(printed)
        stream.close(transcript)
        assert "".join(printed) == writer.render(transcript)
        assert streamed == (0 if writer.extension == "json" else len(transcript.segments) + (writer.extension in ("tsv", "vtt")))
    lines: list[str] = []
    stream = StdoutStream(TimedTxtWriter(), lines.append, prefix="a.wav: ")
    stream.add(transcript.segments[0])
    assert lines == ["a.wav: [00:00.500 --> 00:01.400] hello world\n"]
