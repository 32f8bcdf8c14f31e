"""Training-time data augmentation, all off by default and never applied in evaluation.

Waveform level (in the DataLoader workers, one utterance at a time): speed perturbation,
reverberation with a room impulse response, additive noise at a random SNR, and gain. Feature
level (on the training device, per batch): SpecAugment.

Every random draw for an utterance comes from a generator seeded by (seed, epoch, utterance
index), so the augmented audio is the same whatever the number of workers or processes, and
a resumed run sees exactly what an uninterrupted one would have."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import soxr
import torch

from asr.audio import FloatArray, load_audio, prepare_array
from asr.config import PATH
from asr.errors import AudioError, ConfigError

NoiseColor = Literal["white", "pink", "brown"]
# Power spectral density ~ 1 / f**exponent.
COLOR_EXPONENTS: dict[str, float] = {"white": 0.0, "pink": 1.0, "brown": 2.0}
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
RIR_MAX_SECONDS = 1.0  # a simulated impulse response is cut here (and at its RT60)
DECAY_60_DB = math.log(1000.0)  # amplitude decay factor exponent for -60 dB


@dataclass(frozen=True)
class SpecAugmentConfig:
    freq_masks: int = 0  # number of frequency masks per utterance (0 turns SpecAugment off)
    freq_width: int = 15  # widest frequency mask, in mel bands
    time_masks: int = 0  # number of time masks per utterance
    time_width: int = 40  # widest time mask, in frames
    time_ratio: float = 0.1  # a time mask covers at most this fraction of the utterance

    @property
    def enabled(self) -> bool:
        return self.freq_masks > 0 or self.time_masks > 0


@dataclass(frozen=True)
class AugmentConfig:
    """Waveform augmentation of training utterances (each step is off at its default)."""

    gain_db: float = 0.0  # random gain per utterance, uniform in [-gain_db, +gain_db] dB (0 turns it off)
    speed_factors: list[float] = field(default_factory=list)  # e.g. [0.9, 1.0, 1.1]: one drawn per utterance (empty: off)
    noise_prob: float = 0.0  # chance that an utterance gets additive noise (0 turns it off)
    noise_dir: str | None = field(default=None, metadata=PATH)  # folder of noise recordings (searched recursively); none: generated coloured noise
    noise_colors: list[NoiseColor] = field(default_factory=lambda: ["white", "pink", "brown"])  # for generated noise
    snr_db: tuple[float, float] = (5.0, 30.0)  # signal-to-noise ratio range, uniform
    reverb_prob: float = 0.0  # chance that an utterance is reverberated (0 turns it off)
    rir_dir: str | None = field(default=None, metadata=PATH)  # folder of room impulse responses; none: simulated (exponentially decaying noise)
    rt60: tuple[float, float] = (0.2, 0.8)  # reverberation time range of simulated rooms, seconds
    drr_db: tuple[float, float] = (0.0, 10.0)  # direct-to-reverberant energy ratio range of simulated rooms

    def __post_init__(self) -> None:
        if self.gain_db < 0:
            raise ValueError(f"gain_db must be >= 0, got {self.gain_db}")
        if any(not 0.5 <= f <= 2.0 for f in self.speed_factors):
            raise ValueError(f"speed_factors must lie in [0.5, 2], got {self.speed_factors}")
        for name in ("noise_prob", "reverb_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("snr_db", "rt60", "drr_db"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name} must be (low, high), got {(low, high)}")
        if self.rt60[0] <= 0:
            raise ValueError(f"rt60 must be positive, got {self.rt60}")
        if self.noise_prob > 0 and self.noise_dir is None and not self.noise_colors:
            raise ValueError("noise_colors is empty and no noise_dir is given")

    @property
    def enabled(self) -> bool:
        return bool(self.gain_db or self.speed_factors or self.noise_prob or self.reverb_prob)


def utterance_generator(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random stream of one utterance in one epoch, independent of workers and ranks."""
    return np.random.default_rng([seed, epoch, index])


def speed_perturb(waveform: FloatArray, factor: float, sample_rate: int) -> FloatArray:
    """Play the audio `factor` times faster (pitch moves with it, as in Kaldi's recipe): the
    samples are treated as recorded at sample_rate * factor and resampled to sample_rate."""
    if factor == 1.0:
        return waveform
    return np.asarray(soxr.resample(waveform, sample_rate * factor, sample_rate, quality="HQ"), dtype=np.float32)


def colored_noise(num_samples: int, color: str, rng: np.random.Generator) -> FloatArray:
    """Gaussian noise with a 1/f**k power spectrum (white k=0, pink k=1, brown k=2), unit RMS."""
    white = rng.standard_normal(num_samples)
    exponent = COLOR_EXPONENTS[color]
    if exponent and num_samples > 2:
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(num_samples)
        freqs[0] = freqs[1]  # no infinite gain at DC
        white = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=num_samples)
    rms = math.sqrt(float(np.mean(white**2))) or 1.0
    return (white / rms).astype(np.float32)


def mix_at_snr(signal: FloatArray, noise: FloatArray, snr_db: float) -> FloatArray:
    """signal + noise scaled so that 10 log10(P_signal / P_noise) = snr_db (powers as mean
    squares over the whole utterance). Noise is tiled or cut to the signal's length."""
    if noise.size == 0:
        return signal
    if noise.size < signal.size:
        noise = np.tile(noise, math.ceil(signal.size / noise.size))
    noise = noise[: signal.size].astype(np.float64)
    signal_power = float(np.mean(signal.astype(np.float64) ** 2))
    noise_power = float(np.mean(noise**2))
    if signal_power == 0.0 or noise_power == 0.0:
        return signal  # silence has no SNR to aim at; a silent noise file adds nothing
    scale = math.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (signal + scale * noise).astype(np.float32)


def simulated_rir(rt60: float, drr_db: float, sample_rate: int, rng: np.random.Generator) -> FloatArray:
    """A crude room: a unit direct path followed by exponentially decaying Gaussian noise that
    falls 60 dB in rt60 seconds, its energy set by the direct-to-reverberant ratio."""
    length = max(2, int(min(rt60, RIR_MAX_SECONDS) * sample_rate))
    t = np.arange(1, length) / sample_rate
    tail = rng.standard_normal(length - 1) * np.exp(-DECAY_60_DB * t / rt60)
    tail *= math.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(tail**2)), 1e-12))
    rir: FloatArray = np.concatenate([[1.0], tail]).astype(np.float32)
    return rir


def reverberate(waveform: FloatArray, rir: FloatArray) -> FloatArray:
    """Convolve with an impulse response (FFT), keep the original length and RMS level."""
    size = waveform.size + rir.size - 1
    nfft = 1 << (size - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(waveform, nfft) * np.fft.rfft(rir, nfft), nfft)[: waveform.size]
    dry_rms = math.sqrt(float(np.mean(waveform.astype(np.float64) ** 2)))
    wet_rms = math.sqrt(float(np.mean(wet**2)))
    return (wet * (dry_rms / wet_rms) if wet_rms > 0 else wet).astype(np.float32)


def _audio_files(folder: str, what: str) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{what} {folder}: not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise ConfigError(f"{what} {folder}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in it")
    return files


def read_noise_segment(path: Path, num_samples: int, sample_rate: int, rng: np.random.Generator) -> FloatArray:
    """A random stretch of a (possibly long) noise recording, read without decoding all of it."""
    try:
        with sf.SoundFile(str(path)) as handle:
            wanted = math.ceil(num_samples * handle.samplerate / sample_rate) + 1
            start = int(rng.integers(0, max(1, handle.frames - wanted + 1)))
            handle.seek(start)
            raw = handle.read(wanted, dtype="float32", always_2d=True)
            return prepare_array(raw, handle.samplerate, sample_rate, layout="frames_first")
    except (sf.LibsndfileError, RuntimeError, AudioError) as exc:
        raise AudioError(path, f"unreadable noise file ({exc})") from exc


def load_rir(path: Path, sample_rate: int) -> FloatArray:
    """An impulse response file, starting at its direct path (the peak), peak-normalized."""
    rir = load_audio(path, sample_rate)
    peak = int(np.argmax(np.abs(rir)))
    rir = rir[peak:]
    return (rir / max(float(np.abs(rir[0])), 1e-12)).astype(np.float32)


class WaveformAugmenter:
    """Applies the configured waveform augmentations, in the order a recording would see them:
    speed (the talker), reverberation (the room), noise (the room's other sources), gain (the
    microphone level)."""

    def __init__(self, config: AugmentConfig, sample_rate: int) -> None:
        self.config = config
        self.sample_rate = sample_rate
        self.noise_files = _audio_files(config.noise_dir, "augment.noise_dir") if config.noise_prob and config.noise_dir else []
        self.rir_files = _audio_files(config.rir_dir, "augment.rir_dir") if config.reverb_prob and config.rir_dir else []

    def __call__(self, waveform: FloatArray, rng: np.random.Generator) -> FloatArray:
        cfg = self.config
        # Draw every decision up front, in a fixed order, so that turning one step on or off
        # does not change the random values the others get.
        speed = float(rng.choice(cfg.speed_factors)) if cfg.speed_factors else 1.0
        reverb = rng.random() < cfg.reverb_prob
        noise = rng.random() < cfg.noise_prob
        gain_db = float(rng.uniform(-cfg.gain_db, cfg.gain_db)) if cfg.gain_db else 0.0
        step_rng = np.random.default_rng(rng.integers(0, 2**63, size=2))

        out = speed_perturb(waveform, speed, self.sample_rate)
        if reverb:
            if self.rir_files:
                rir = load_rir(self.rir_files[int(step_rng.integers(len(self.rir_files)))], self.sample_rate)
            else:
                rir = simulated_rir(float(step_rng.uniform(*cfg.rt60)), float(step_rng.uniform(*cfg.drr_db)), self.sample_rate, step_rng)
            out = reverberate(out, rir)
        if noise:
            if self.noise_files:
                path = self.noise_files[int(step_rng.integers(len(self.noise_files)))]
                noise_signal = read_noise_segment(path, out.size, self.sample_rate, step_rng)
            else:
                noise_signal = colored_noise(out.size, str(step_rng.choice(cfg.noise_colors)), step_rng)
            out = mix_at_snr(out, noise_signal, float(step_rng.uniform(*cfg.snr_db)))
        if gain_db:
            out = (out * 10 ** (gain_db / 20)).astype(np.float32)
        return out


def spec_augment(feats: torch.Tensor, lengths: torch.Tensor, fill: torch.Tensor, cfg: SpecAugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Frequency and time masks (Park et al., 2019), filled with the feature mean so that a
    masked region is zero after normalization. The generator makes it reproducible."""
    batch, frames, bands = feats.shape
    mask = torch.zeros(batch, frames, bands, dtype=torch.bool)

    def rand(high: int) -> int:
        return int(torch.randint(0, max(high, 0) + 1, (1,), generator=generator))

    for row in range(batch):
        for _ in range(cfg.freq_masks):
            width = rand(cfg.freq_width)
            start = rand(bands - width)
            mask[row, :, start : start + width] = True
        length = int(lengths[row])
        for _ in range(cfg.time_masks):
            width = rand(min(cfg.time_width, int(cfg.time_ratio * length)))
            start = rand(length - width)
            mask[row, start : start + width, :] = True
    mask = mask.to(feats.device)
    return torch.where(mask, fill.to(feats.dtype), feats)
