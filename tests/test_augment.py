from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asr import augment
from asr.augment import (
    AugmentConfig,
    WaveformAugmenter,
    colored_noise,
    load_rir,
    mix_at_snr,
    reverberate,
    simulated_rir,
    speed_perturb,
    utterance_generator,
)
from asr.data import SpeechDataset
from asr.errors import ConfigError
from asr.features import LogMel
from asr.manifests import read_manifest
from asr.model import CTCModel
from asr.tokenizer import CharTokenizer
from asr.train_config import load_train_config
from asr.train_data import Split, validate
from tests.conftest import SPEECH, SPEECH_MANIFEST, write_config

RATE = 16_000


def _speech() -> np.ndarray:
    return np.asarray(sf.read(SPEECH / "espeak_us_cat.flac", dtype="float32")[0])


def _snr(clean: np.ndarray, noisy: np.ndarray) -> float:
    noise = noisy.astype(np.float64) - clean
    return 10 * math.log10(float(np.mean(clean.astype(np.float64) ** 2)) / float(np.mean(noise**2)))


@pytest.mark.parametrize("snr", [-5.0, 0.0, 12.5, 30.0])
def test_noise_is_mixed_at_the_requested_snr(snr: float) -> None:
    clean = _speech()
    noise = colored_noise(5000, "pink", np.random.default_rng(0))  # shorter than the speech: tiled
    assert _snr(clean, mix_at_snr(clean, noise, snr)) == pytest.approx(snr, abs=0.01)


def test_noise_colors_have_their_spectral_slopes() -> None:
    rng = np.random.default_rng(1)
    for color, slope in (("white", 0.0), ("pink", -1.0), ("brown", -2.0)):
        noise = colored_noise(2**16, color, rng)
        assert float(np.sqrt(np.mean(noise.astype(np.float64) ** 2))) == pytest.approx(1.0, rel=1e-4)
        power = np.abs(np.fft.rfft(noise)) ** 2
        freqs = np.fft.rfftfreq(noise.size)
        band = (freqs > 0.001) & (freqs < 0.4)
        fitted = np.polyfit(np.log10(freqs[band]), np.log10(power[band]), 1)[0]
        assert fitted == pytest.approx(slope, abs=0.1), color


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturbation_scales_length_and_pitch(factor: float) -> None:
    tone = np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE).astype(np.float32)
    out = speed_perturb(tone, factor, RATE)
    assert abs(out.size - RATE / factor) <= 1
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    peak_hz = np.argmax(spectrum) * RATE / out.size
    assert peak_hz == pytest.approx(440 * factor, abs=2)
    assert speed_perturb(tone, 1.0, RATE) is tone


def test_simulated_room_has_its_rt60_and_direct_to_reverberant_ratio() -> None:
    rir = simulated_rir(rt60=0.5, drr_db=6.0, sample_rate=RATE, rng=np.random.default_rng(2))
    assert rir.size == RATE // 2 and rir[0] == 1.0
    assert 10 * math.log10(1.0 / float(np.sum(rir[1:].astype(np.float64) ** 2))) == pytest.approx(6.0, abs=0.01)
    # Energy 100 ms after the start is ~12 dB (60 dB x 0.1 s / 0.5 s) below that just after the direct path.
    early, late = (float(np.mean(rir[s : s + 400].astype(np.float64) ** 2)) for s in (1, 1 + RATE // 10))
    assert 10 * math.log10(early / late) == pytest.approx(12.0, abs=2.5)
    clean = _speech()
    wet = reverberate(clean, rir)
    assert wet.size == clean.size
    assert float(np.sqrt(np.mean(wet**2))) == pytest.approx(float(np.sqrt(np.mean(clean**2))), rel=1e-4)
    assert not np.allclose(wet, clean, atol=1e-3)


def test_augmenter_is_deterministic_per_utterance_and_epoch() -> None:
    config = AugmentConfig(gain_db=6.0, speed_factors=[0.9, 1.0, 1.1], noise_prob=1.0, reverb_prob=1.0)
    augmenter = WaveformAugmenter(config, RATE)
    clean = _speech()
    a = augmenter(clean, utterance_generator(0, 3, 7))
    assert np.array_equal(a, augmenter(clean, utterance_generator(0, 3, 7)))
    assert not np.array_equal(a, augmenter(clean, utterance_generator(0, 4, 7)))
    assert not np.array_equal(a, augmenter(clean, utterance_generator(0, 3, 8)))
    sizes = {augmenter(clean, utterance_generator(0, e, 0)).size for e in range(30)}
    assert len(sizes) == 3 and all(any(abs(size - clean.size / f) <= 1 for f in (0.9, 1.0, 1.1)) for size in sizes)
    assert np.array_equal(WaveformAugmenter(AugmentConfig(), RATE)(clean, utterance_generator(0, 0, 0)), clean)


def test_noise_and_impulse_responses_from_folders(tmp_path: Path) -> None:
    noise_dir, rir_dir = tmp_path / "noise", tmp_path / "rirs"
    noise_dir.mkdir()
    rir_dir.mkdir()
    hum = 0.3 * np.sin(2 * np.pi * 50 * np.arange(3 * 8000) / 8000)  # at 8 kHz: resampled on reading
    sf.write(noise_dir / "hum.wav", hum, 8000)
    echo = np.zeros(800)
    echo[100], echo[500] = 0.5, 0.25  # silence before the direct path is cut
    sf.write(rir_dir / "echo.flac", echo, RATE)
    clean = _speech()
    noisy = WaveformAugmenter(AugmentConfig(noise_prob=1.0, noise_dir=str(noise_dir), snr_db=(10.0, 10.0)), RATE)(clean, utterance_generator(0, 0, 0))
    assert _snr(clean, noisy) == pytest.approx(10.0, abs=0.01)
    residual = np.abs(np.fft.rfft(noisy - clean))
    assert np.argmax(residual) * RATE / clean.size == pytest.approx(50, abs=2)  # the hum, not generated noise
    rir = load_rir(rir_dir / "echo.flac", RATE)
    assert rir[0] == 1.0 and rir[400] == pytest.approx(0.5, abs=1e-3)
    wet = WaveformAugmenter(AugmentConfig(reverb_prob=1.0, rir_dir=str(rir_dir)), RATE)(clean, utterance_generator(0, 0, 0))
    np.testing.assert_allclose(wet, reverberate(clean, rir), atol=1e-6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no audio files"):
        WaveformAugmenter(AugmentConfig(noise_prob=1.0, noise_dir=str(tmp_path / "empty")), RATE)


def test_bad_augmentation_settings_are_config_errors(tmp_path: Path) -> None:
    config = write_config(tmp_path, SPEECH_MANIFEST)
    for override, message in (
        ("augment.noise_prob=1.5", "noise_prob"),
        ("augment.speed_factors=[0.1]", "speed_factors"),
        ("augment.snr_db=[20, 5]", "snr_db"),
        ("augment.noise_colors=[green]", "noise_colors"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_train_config(config, [override])
    with pytest.raises(ConfigError, match="feature_cache_dir cannot be combined with waveform augmentation"):
        load_train_config(config, [f"data.feature_cache_dir={tmp_path}/cache", "augment.speed_factors=[0.9,1.1]"])
    load_train_config(config, [f"data.feature_cache_dir={tmp_path}/cache", "spec_augment.freq_masks=2"])  # features: fine


def test_training_augments_and_validation_never_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = WaveformAugmenter.__call__

    def counting(self: WaveformAugmenter, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        calls.append(waveform.size)
        return original(self, waveform, rng)

    monkeypatch.setattr(augment.WaveformAugmenter, "__call__", counting)
    cfg = load_train_config(write_config(tmp_path, SPEECH_MANIFEST), ["augment.noise_prob=1.0", "augment.speed_factors=[1.1]", "data.num_workers=0"])
    entries = [e for e in read_manifest(SPEECH_MANIFEST)]
    tokenizer = CharTokenizer(cfg.data.alphabet)
    split = Split(entries, [tokenizer.encode(e.text) for e in entries])
    training = SpeechDataset(entries, split.targets, RATE, WaveformAugmenter(cfg.augment, RATE), seed=cfg.seed)
    item = training[0]
    assert calls and abs(item.waveform.numel() - round(calls[0] / 1.1)) <= 1  # type: ignore[union-attr]
    calls.clear()
    validate(CTCModel(cfg.model), LogMel(cfg.features), split, tokenizer, cfg, torch.device("cpu"))
    assert calls == []
