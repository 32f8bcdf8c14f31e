from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.prepare import commonvoice, folder, librispeech, ljspeech, write_manifest
from tests.conftest import SHARED_DATA, requires_shared


def _wav(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(16000 * seconds)) + 0.01, 16000)


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@requires_shared
def test_librispeech_layout_from_the_shared_sample(tmp_path: Path) -> None:
    subset = SHARED_DATA / "librispeech-mini" / "LibriSpeech" / "dev-clean-2"
    report = write_manifest(librispeech(subset), tmp_path / "dev.jsonl")
    rows = _rows(tmp_path / "dev.jsonl")
    assert report.written == len(rows) == 10 and not report.problems
    assert rows[0]["text"] == "THE TWO STRAY KITTENS GRADUALLY MAKE THEMSELVES AT HOME"
    assert rows[0]["speaker"] == "1988"
    assert Path(str(rows[0]["audio_filepath"])).name == "1988-24833-0000.flac"
    assert rows[0]["duration"] == round(sf.info(str(rows[0]["audio_filepath"])).duration, 3)


def test_librispeech_bad_rows_are_reported(tmp_path: Path) -> None:
    chapter = tmp_path / "LibriSpeech" / "train" / "11" / "22"
    _wav(chapter / "11-22-0000.flac")
    (chapter / "11-22-0002.flac").write_bytes(b"junk")
    (chapter / "11-22.trans.txt").write_text("11-22-0000 HELLO WORLD\n11-22-0001 MISSING AUDIO\n11-22-0002 CORRUPT AUDIO\n11-22-0003\n")
    report = write_manifest(librispeech(tmp_path / "LibriSpeech"), tmp_path / "out" / "m.jsonl")
    assert report.written == 1
    assert len(report.problems) == 3
    assert any("11-22-0001.flac: file not found" in p for p in report.problems)
    assert any("11-22-0002.flac" in p for p in report.problems)
    assert any("empty transcript for 11-22-0003" in p for p in report.problems)


def test_ljspeech_layout_prefers_normalized_text(tmp_path: Path) -> None:
    _wav(tmp_path / "wavs" / "LJ001-0001.wav", 1.25)
    _wav(tmp_path / "wavs" / "LJ001-0002.wav")
    (tmp_path / "metadata.csv").write_text("LJ001-0001|In 1850 it rose|In eighteen fifty it rose\nLJ001-0002|Raw only|\nbroken line\n")
    report = write_manifest(ljspeech(tmp_path), tmp_path / "lj.jsonl")
    rows = _rows(tmp_path / "lj.jsonl")
    assert [r["text"] for r in rows] == ["In eighteen fifty it rose", "Raw only"]
    assert rows[0] == {"audio_filepath": "wavs/LJ001-0001.wav", "duration": 1.25, "text": "In eighteen fifty it rose"}
    assert report.problems == [f"{tmp_path / 'metadata.csv'}:3: expected 'id|text|normalized text'"]


def test_folder_of_audio_with_transcripts(tmp_path: Path) -> None:
    _wav(tmp_path / "a" / "one.wav")
    (tmp_path / "a" / "one.txt").write_text("  hello\nthere ")
    _wav(tmp_path / "b" / "two.flac")
    report = write_manifest(folder(tmp_path), tmp_path / "m.jsonl")
    assert [r["text"] for r in _rows(tmp_path / "m.jsonl")] == ["hello there"]
    assert report.problems == [f"{tmp_path / 'b' / 'two.flac'}: no transcript two.txt"]


def test_commonvoice_tsv(tmp_path: Path) -> None:
    _wav(tmp_path / "clips" / "c1.mp3")  # soundfile writes WAV data; the name is what the TSV gives
    (tmp_path / "train.tsv").write_text('client_id\tpath\tsentence\tup_votes\nabc\tc1.mp3\t"Quoted" words\t2\nabd\tc2.mp3\tGone\t1\nabe\t\t\t0\n')
    report = write_manifest(commonvoice(tmp_path / "train.tsv"), tmp_path / "cv.jsonl")
    rows = _rows(tmp_path / "cv.jsonl")
    assert rows == [{"audio_filepath": "clips/c1.mp3", "duration": 0.5, "text": '"Quoted" words', "speaker": "abc"}]
    assert len(report.problems) == 2
