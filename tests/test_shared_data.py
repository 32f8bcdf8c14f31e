"""Checks on the real speech in ../shared/data (skipped where that folder is absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from asr.audio import audio_duration, load_audio
from asr.manifests import read_manifest
from tests.conftest import ROOT, SHARED_DATA, requires_shared

pytestmark = requires_shared


def test_8khz_spoken_digits_load_at_16khz() -> None:
    entry = read_manifest(SHARED_DATA / "fsdd" / "all.jsonl")[0]
    assert audio_duration(entry.audio_filepath) == entry.duration
    audio = load_audio(entry.audio_filepath, 16000)
    assert abs(audio.size - round(entry.duration * 16000)) <= 2
    assert 0.01 < float(np.abs(audio).max()) <= 1.0


def test_every_ljspeech_manifest_entry_is_readable() -> None:
    for name in ("train.jsonl", "dev.jsonl"):
        for entry in read_manifest(SHARED_DATA / "ljspeech" / name):
            assert abs(audio_duration(entry.audio_filepath) - entry.duration) < 0.01


def test_default_model_dev_sets_are_held_out(tmp_path: Path) -> None:
    script = ROOT / "recipes" / "default_model" / "prepare.py"
    subprocess.run([sys.executable, str(script), "--data", str(SHARED_DATA), "--out", str(tmp_path)], check=True, capture_output=True)
    names = ("train_real", "dev_lj", "dev_libri", "dev_fsdd")
    rows = {name: [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()] for name in names}
    train_files = {row["audio_filepath"] for row in rows["train_real"]}
    for dev in ("dev_lj", "dev_libri", "dev_fsdd"):
        assert rows[dev]
        assert not train_files & {row["audio_filepath"] for row in rows[dev]}
    speaker = lambda path: Path(path).name.split("-")[0]  # noqa: E731
    libri_train_speakers = {speaker(p) for p in train_files if "LibriSpeech" in p}
    assert libri_train_speakers
    assert not libri_train_speakers & {speaker(row["audio_filepath"]) for row in rows["dev_libri"]}
    assert {row["speaker"] for row in rows["dev_fsdd"]} == {"theo"}
    assert not any("_theo_" in p for p in train_files)
