from __future__ import annotations

import pytest
import torch

from asr.features import FeatureConfig, FeatureStats, LogMel


def test_default_front_end_is_80_mels_25ms_10ms() -> None:
    config = FeatureConfig()
    assert (config.sample_rate, config.n_mels, config.win_length, config.hop_length) == (16000, 80, 400, 160)
    frontend = LogMel(config)
    waves = torch.randn(2, 16000)
    feats = frontend(waves)
    assert feats.shape == (2, config.num_frames(16000), 80)
    assert frontend.lengths(torch.tensor([16000, 8000])).tolist() == [101, 51]
    assert torch.isfinite(frontend(torch.zeros(1, 1600))).all()  # silence stays finite


def test_tone_energy_lands_in_the_right_band() -> None:
    t = torch.arange(16000) / 16000
    low = LogMel(FeatureConfig())(torch.sin(2 * torch.pi * 200 * t).unsqueeze(0))[0].mean(0)
    high = LogMel(FeatureConfig())(torch.sin(2 * torch.pi * 4000 * t).unsqueeze(0))[0].mean(0)
    assert int(low.argmax()) < int(high.argmax())


def test_stats_match_direct_computation() -> None:
    stats = FeatureStats(3)
    a, b = torch.randn(10, 3) * 2 + 1, torch.randn(5, 3)
    stats.update(a)
    stats.update(b)
    mean, std = stats.mean_std()
    both = torch.cat([a, b]).double()
    assert mean == pytest.approx(both.mean(0).tolist(), abs=1e-9)
    assert std == pytest.approx(both.std(0, unbiased=False).tolist(), abs=1e-9)
    with pytest.raises(ValueError):
        FeatureStats(3).mean_std()


def test_window_longer_than_fft_is_refused() -> None:
    with pytest.raises(ValueError, match="n_fft"):
        LogMel(FeatureConfig(win_ms=50.0))
