"""JSONL manifests: entries for training and evaluation, raw rows for recipes, and a module that
loads no training code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asr.errors import ManifestError
from asr.manifests import iter_manifest, read_manifest, read_manifest_rows, write_manifest_rows


def test_relative_paths_resolve_against_the_manifest_folder(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text(
        '{"audio_filepath": "a/b.wav", "duration": 1.5, "text": "hi"}\n\n{"audio_filepath": "/x.wav", "duration": 2, "text": "yo"}\n'
    )
    entries = read_manifest(tmp_path / "m.jsonl")
    assert [e.audio_filepath for e in entries] == [tmp_path / "a" / "b.wav", Path("/x.wav")]
    assert entries[1].duration == 2.0


def test_broken_lines_come_out_as_errors_with_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text(
        '{"audio_filepath": "a.wav", "duration": 1, "text": "ok"}\n[1]\n{"audio_filepath": "a.wav", "duration": -1, "text": "x"}\n'
    )
    items = list(iter_manifest(tmp_path / "m.jsonl"))
    assert not isinstance(items[0], ManifestError)
    assert isinstance(items[1], ManifestError) and ":2: expected a JSON object" in str(items[1])
    assert isinstance(items[2], ManifestError) and "duration" in str(items[2])
    with pytest.raises(ManifestError, match=":2:"):
        read_manifest(tmp_path / "m.jsonl")
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "none.jsonl")


def test_rows_keep_every_field_and_can_be_made_absolute(tmp_path: Path) -> None:
    rows = [{"audio_filepath": "a/b.wav", "duration": 1.5, "text": "café", "speaker": "7"}, {"audio_filepath": "/x.wav", "duration": 2, "text": "yo"}]
    write_manifest_rows(tmp_path / "sub" / "m.jsonl", rows)
    assert (tmp_path / "sub" / "m.jsonl").read_text(encoding="utf-8").splitlines()[0] == json.dumps(rows[0], ensure_ascii=False)
    assert read_manifest_rows(tmp_path / "sub" / "m.jsonl") == rows
    absolute = read_manifest_rows(tmp_path / "sub" / "m.jsonl", absolute_paths=True)
    assert [row["audio_filepath"] for row in absolute] == [str((tmp_path / "sub" / "a" / "b.wav").resolve()), "/x.wav"]
    assert absolute[0]["speaker"] == "7"
    (tmp_path / "bad.jsonl").write_text('{"audio_filepath": "a.wav"}\n\n[1]\n')
    with pytest.raises(ManifestError, match=":3: expected a JSON object"):
        read_manifest_rows(tmp_path / "bad.jsonl")


def test_reading_manifests_loads_no_training_code() -> None:
    """Evaluation, `asr lm` and the recipes read manifests without the training dataset, its
    augmentation or the feature cache."""
    code = "import sys, asr.manifests, asr.evaluate, asr.lm_tune; print(sorted(m for m in sys.modules if m.startswith('asr.')))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.replace("'", '"'))
    assert not {"asr.data", "asr.augment", "asr.feature_cache", "asr.train", "asr.train_data"} & set(loaded)
