from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from asr import feature_cache
from asr.audio import load_audio
from asr.feature_cache import FeatureCache
from asr.features import FeatureConfig, LogMel
from tests.conftest import SPEECH


def test_cached_features_equal_the_front_end_and_are_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    audio = tmp_path / "clip.flac"
    shutil.copy(SPEECH / "espeak_us_cat.flac", audio)
    config = FeatureConfig()
    cache = FeatureCache(tmp_path / "cache", config)
    feats, samples = cache.features(audio)
    waveform = torch.from_numpy(load_audio(audio, 16000))
    assert samples == waveform.numel()
    assert torch.equal(feats, LogMel(config)(waveform.unsqueeze(0))[0])
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 1

    # A hit reads the stored features and never decodes the audio.
    monkeypatch.setattr(feature_cache, "load_audio", lambda *args: pytest.fail("decoded audio on a cache hit"))
    again, _ = cache.features(audio)
    assert torch.equal(again, feats)


def test_a_changed_file_or_front_end_misses_and_a_damaged_entry_is_recomputed(tmp_path: Path) -> None:
    audio = tmp_path / "clip.flac"
    shutil.copy(SPEECH / "espeak_us_cat.flac", audio)
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    entry = cache.entry_path(audio)
    assert FeatureCache(tmp_path / "cache", FeatureConfig(n_mels=40)).entry_path(audio) != entry
    stat = audio.stat()
    os.utime(audio, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cache.entry_path(audio) != entry
    feats, _ = cache.features(audio)
    damaged = cache.entry_path(audio)
    damaged.write_bytes(damaged.read_bytes()[:50])
    assert cache.load(audio) is None
    recomputed, _ = cache.features(audio)
    assert torch.equal(recomputed, feats)
    assert cache.load(audio) is not None
