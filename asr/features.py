"""Log-mel filterbank features and the global mean/variance statistics stored with a model."""
# No `from __future__ import annotations`: TorchScript compiles this module's functions and
# needs their annotations as objects, not strings.

import math
from dataclasses import dataclass

import torch
import torchaudio
from torch import nn

from asr.constants import LOG_FLOOR, N_MELS, SAMPLE_RATE

# 25 ms windows every 10 ms, an FFT of the next power of two above the window (400 samples at 16 kHz).
WIN_MS = 25.0
HOP_MS = 10.0
N_FFT = 512


@dataclass(frozen=True)
class FeatureConfig:
    """The front-end a model was trained with; it travels in the model's config.json."""

    sample_rate: int = SAMPLE_RATE  # Hz; audio is resampled to this before features
    n_mels: int = N_MELS  # number of mel bands
    win_ms: float = WIN_MS  # analysis window length
    hop_ms: float = HOP_MS  # frame shift
    n_fft: int = N_FFT  # FFT size, at least the window length

    @property
    def win_length(self) -> int:
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def hop_length(self) -> int:
        return round(self.sample_rate * self.hop_ms / 1000)

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for num_samples of audio (centred windows)."""
        return num_samples // self.hop_length + 1


def feature_lengths(sample_lengths: torch.Tensor, hop_length: int) -> torch.Tensor:
    """Feature frames of each waveform (centred windows): FeatureConfig.num_frames for tensors."""
    return torch.div(sample_lengths, hop_length, rounding_mode="floor") + 1


class LogMel(torch.nn.Module):
    """Waveforms (batch, samples) -> log-mel features (batch, frames, n_mels)."""

    def __init__(self, config: FeatureConfig) -> None:
        super().__init__()
        if config.n_fft < config.win_length:
            raise ValueError(f"n_fft {config.n_fft} is shorter than the window ({config.win_length} samples)")
        self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.hop_length,
            n_mels=config.n_mels,
            power=2.0,
            center=True,
        )

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        # The STFT runs in fp32 even under autocast: low precision power spectra lose quiet bands.
        with torch.autocast(device_type=waveforms.device.type, enabled=False):
            power = self.mel(waveforms.float())
        return torch.log(power + LOG_FLOOR).transpose(1, 2)

    def lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        return feature_lengths(sample_lengths, self.config.hop_length)


class ConvLogMel(nn.Module):
    """The same log-mel features as LogMel (reflect-padded, centred frames, power spectrum, mel
    filterbank, log), computed with a strided convolution instead of an FFT: the form export
    uses, since TorchScript and ONNX express it with plain ops."""

    basis: torch.Tensor
    filterbank: torch.Tensor

    def __init__(self, frontend: LogMel) -> None:
        super().__init__()
        spectrogram = frontend.mel.spectrogram
        n_fft, window = spectrogram.n_fft, spectrogram.window.detach().float()
        left = (n_fft - window.numel()) // 2  # torch.stft centres a shorter window in n_fft
        padded = torch.zeros(n_fft)
        padded[left : left + window.numel()] = window
        bins = n_fft // 2 + 1
        angle = 2 * math.pi * torch.outer(torch.arange(bins, dtype=torch.float64), torch.arange(n_fft, dtype=torch.float64)) / n_fft
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * padded.double()
        self.register_buffer("basis", basis.float().unsqueeze(1))  # (2 * bins, 1, n_fft)
        self.register_buffer("filterbank", frontend.mel.mel_scale.fb.detach().float().clone())  # (bins, n_mels)
        self.bins = bins
        self.half_fft = n_fft // 2
        self.hop = spectrogram.hop_length
        self.log_floor = LOG_FLOOR

    def lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        return feature_lengths(sample_lengths, self.hop)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, frames, n_mels) log-mel."""
        padded = nn.functional.pad(waveforms.unsqueeze(1), (self.half_fft, self.half_fft), mode="reflect")
        spectrum = nn.functional.conv1d(padded, self.basis, stride=self.hop)  # (batch, 2 * bins, frames)
        power = spectrum[:, : self.bins] ** 2 + spectrum[:, self.bins :] ** 2
        return torch.log(torch.matmul(power.transpose(1, 2), self.filterbank) + self.log_floor)


class FeatureStats:
    """Accumulates per-band mean and standard deviation over a training set (in float64)."""

    def __init__(self, n_mels: int) -> None:
        self.total = torch.zeros(n_mels, dtype=torch.float64)
        self.total_sq = torch.zeros(n_mels, dtype=torch.float64)
        self.frames = 0

    def update(self, features: torch.Tensor) -> None:
        """Add (frames, n_mels) features of one utterance."""
        feats = features.detach().to(torch.float64).cpu()
        self.total += feats.sum(dim=0)
        self.total_sq += (feats**2).sum(dim=0)
        self.frames += feats.shape[0]

    def mean_std(self) -> tuple[list[float], list[float]]:
        if self.frames == 0:
            raise ValueError("no frames were seen: cannot compute normalization statistics")
        mean = self.total / self.frames
        var = (self.total_sq / self.frames - mean**2).clamp_min(1e-8)
        return mean.tolist(), var.sqrt().tolist()
