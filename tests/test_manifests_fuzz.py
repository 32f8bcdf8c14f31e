"""Property tests for manifest and hypothesis parsing: arbitrary bytes give entries or
ManifestError, never another exception; valid rows always come back exactly."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from asr.errors import ManifestError
from asr.evaluate import read_hypotheses
from asr.manifests import ManifestEntry, iter_manifest, read_manifest

FUZZ = settings(max_examples=150, deadline=None, database=None)

# Lines that look almost like manifest rows, so that the parser's deeper branches get exercised.
NEAR_ROWS = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda value, key: json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": "t", key: value}),
        st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10), lambda inner: st.lists(inner, max_size=3), max_leaves=5),
        st.sampled_from(["audio_filepath", "duration", "text"]),
    ),
    st.just("[" * 50_000),  # deeper than the JSON parser's recursion limit
)
PATH_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)
VALID_ROW = st.fixed_dictionaries(
    {
        "audio_filepath": PATH_TEXT,
        "duration": st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
        "text": st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),
    }
)


def _manifest(data: bytes) -> Path:
    folder = Path(tempfile.mkdtemp())
    path = folder / "m.jsonl"
    path.write_bytes(data)
    return path


@FUZZ
@given(st.binary(max_size=300) | st.lists(NEAR_ROWS, max_size=5).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")))
def test_any_bytes_give_entries_or_manifest_errors(data: bytes) -> None:
    path = _manifest(data)
    try:
        items = list(iter_manifest(path))
    except ManifestError:
        return  # not UTF-8 text: the whole file is refused
    for item in items:
        assert isinstance(item, (ManifestEntry, ManifestError))
        if isinstance(item, ManifestEntry):
            assert item.duration > 0 and math.isfinite(item.duration)
            assert isinstance(item.text, str)
    try:
        assert read_manifest(path) == [i for i in items if isinstance(i, ManifestEntry)]
    except ManifestError:
        assert any(isinstance(i, ManifestError) for i in items)


@FUZZ
@given(st.lists(VALID_ROW, max_size=6), st.booleans(), st.sampled_from(["\n", "\r\n"]))
@example([{"audio_filepath": "a.wav", "duration": 1.0, "text": "line\u2028separator \x85 next line"}], False, "\n")
def test_valid_rows_come_back_exactly(rows: list[dict[str, object]], ascii_only: bool, newline: str) -> None:
    path = _manifest((newline.join(json.dumps(row, ensure_ascii=ascii_only) for row in rows) + newline).encode("utf-8"))
    entries = read_manifest(path)
    assert [e.text for e in entries] == [row["text"] for row in rows]
    assert [e.duration for e in entries] == [row["duration"] for row in rows]
    assert [e.audio_filepath for e in entries] == [path.parent / str(row["audio_filepath"]) for row in rows]


@FUZZ
@given(
    st.binary(max_size=300) | st.lists(NEAR_ROWS, max_size=5).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")),
    st.sampled_from([".jsonl", ".tsv"]),
)
def test_hypothesis_files_of_any_bytes_give_hypotheses_or_manifest_errors(data: bytes, suffix: str) -> None:
    path = _manifest(data).with_suffix(suffix)
    path.write_bytes(data)
    entries = [ManifestEntry(path.parent / "a.wav", 1.0, "reference")]
    try:
        hypotheses = read_hypotheses(path, entries)
    except ManifestError:
        return
    assert len(hypotheses) == 1
    assert isinstance(hypotheses[0].hypothesis, str)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"), min_size=1, max_size=20),
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
        ),
        max_size=5,
        unique_by=lambda row: row[0],
    )
)
def test_valid_jsonl_hypotheses_come_back_exactly(rows: list[tuple[str, str]]) -> None:
    path = _manifest((("\n".join(json.dumps({"audio_filepath": key, "text": text}, ensure_ascii=False) for key, text in rows)) + "\n").encode("utf-8"))
    path = path.rename(path.with_suffix(".jsonl"))
    entries = [ManifestEntry(path.parent / key, 1.0, "ref") for key, _ in rows]
    assert [h.hypothesis for h in read_hypotheses(path, entries)] == [text for _, text in rows]
