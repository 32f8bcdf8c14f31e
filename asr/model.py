"""The acoustic model: convolutional subsampling, a (bi)LSTM stack, and a CTC output layer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from asr.constants import DEFAULT_ALPHABET, N_MELS

# Limits that keep an untrusted config.json from allocating absurd amounts of memory.
MAX_PARAMETERS = 500_000_000
SUBSAMPLING_FACTORS = (1, 2, 4)


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network. Every field is stored in the model directory's config.json."""

    n_mels: int = N_MELS  # input feature size; must equal the front-end's n_mels
    subsampling: int = 4  # time reduction of the convolutional front-end: 1, 2 or 4
    conv_channels: int = 32  # channels of each convolution layer
    lstm_layers: int = 4  # number of stacked LSTM layers
    hidden_size: int = 320  # LSTM units per direction
    bidirectional: bool = True  # False gives a streaming-friendly unidirectional model
    dropout: float = 0.1  # dropout between LSTM layers and before the output layer
    vocab_size: int = len(DEFAULT_ALPHABET) + 1  # output symbols including the CTC blank

    def __post_init__(self) -> None:
        if self.subsampling not in SUBSAMPLING_FACTORS:
            raise ValueError(f"subsampling must be one of {SUBSAMPLING_FACTORS}, got {self.subsampling}")
        for name in ("n_mels", "conv_channels", "lstm_layers", "hidden_size", "vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        count = self.num_parameters()
        if count > MAX_PARAMETERS:
            shown = f"{count:,}" if count < 10**15 else f"about 10^{len(str(count)) - 1}"  # a hostile config's can have 400 digits
            raise ValueError(f"model would have {shown} parameters (limit {MAX_PARAMETERS:,})")

    @property
    def conv_layers(self) -> int:
        return max(1, int(math.log2(self.subsampling)))

    @property
    def conv_output_size(self) -> int:
        freq = self.n_mels
        for _ in range(self.conv_layers):
            freq = (freq - 1) // self._conv_stride + 1
        return self.conv_channels * freq

    @property
    def _conv_stride(self) -> int:
        return 1 if self.subsampling == 1 else 2

    def num_parameters(self) -> int:
        """Parameter count computed from the config alone, before anything is allocated."""
        c, h = self.conv_channels, self.hidden_size
        conv = (9 + 1) * c + (self.conv_layers - 1) * (9 * c + 1) * c
        directions = 2 if self.bidirectional else 1
        # Closed form, not a loop over layers: an untrusted config may ask for 10^9 of them.
        layer_input = directions * h
        first = directions * 4 * h * (self.conv_output_size + h + 2)
        lstm = first + (self.lstm_layers - 1) * directions * 4 * h * (layer_input + h + 2)
        return conv + lstm + (layer_input + 1) * self.vocab_size


class ConvSubsampling(nn.Module):
    """2-D convolutions over (time, mel); each stride-2 layer halves the frame rate."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels_in = 1
        for _ in range(config.conv_layers):
            layers += [nn.Conv2d(channels_in, config.conv_channels, 3, stride=config._conv_stride, padding=1), nn.ReLU()]
            channels_in = config.conv_channels
        self.layers = nn.Sequential(*layers)
        self.stride = config._conv_stride
        self.num_layers = config.conv_layers

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mels) -> (batch, frames / subsampling, channels * reduced mels)."""
        out: torch.Tensor = self.layers(features.unsqueeze(1))  # (batch, channels, frames', mels')
        batch, channels, frames, mels = out.shape
        return out.permute(0, 2, 1, 3).reshape(batch, frames, channels * mels)

    def lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        for _ in range(self.num_layers):
            lengths = torch.div(lengths - 1, self.stride, rounding_mode="floor") + 1
        return lengths


class CTCModel(nn.Module):
    """Log-mel features -> per-frame log-probabilities over the vocabulary (blank = 0).

    The global feature normalization is part of the model (buffers), so the network always runs
    with the statistics it was trained with; a model directory stores them in config.json."""

    feature_mean: torch.Tensor
    feature_std: torch.Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("feature_mean", torch.zeros(config.n_mels))
        self.register_buffer("feature_std", torch.ones(config.n_mels))
        self.subsampling = ConvSubsampling(config)
        self.lstm = nn.LSTM(
            input_size=config.conv_output_size,
            hidden_size=config.hidden_size,
            num_layers=config.lstm_layers,
            dropout=config.dropout if config.lstm_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        directions = 2 if config.bidirectional else 1
        self.output = nn.Linear(directions * config.hidden_size, config.vocab_size)

    def set_normalization(self, mean: list[float], std: list[float]) -> None:
        self.feature_mean.copy_(torch.tensor(mean))
        self.feature_std.copy_(torch.tensor(std))

    def output_lengths(self, feature_lengths: torch.Tensor) -> torch.Tensor:
        return self.subsampling.lengths(feature_lengths)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features (batch, frames, n_mels) raw log-mel; lengths (batch,) valid frames.

        Returns log-probabilities (batch, frames', vocab) in float32 and their lengths."""
        x = (features - self.feature_mean) / self.feature_std
        x = self.subsampling(x)
        out_lengths = self.output_lengths(lengths).clamp(min=1, max=x.shape[1])
        # Packing makes padded and unpadded inputs give the same outputs in a bidirectional LSTM.
        packed = nn.utils.rnn.pack_padded_sequence(x, out_lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, _ = self.lstm(packed)
        x, _ = nn.utils.rnn.pad_packed_sequence(packed_out, batch_first=True, total_length=x.shape[1])
        logits = self.output(self.dropout(x))
        return torch.log_softmax(logits.float(), dim=-1), out_lengths
