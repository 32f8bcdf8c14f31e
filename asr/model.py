"""The acoustic model: convolutional subsampling, a (bi)LSTM stack, and a CTC output layer."""
# No `from __future__ import annotations`: TorchScript compiles this module's functions and
# needs their annotations as objects, not strings.

import math
import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from asr.constants import DEFAULT_ALPHABET, N_MELS
from asr.features import FeatureConfig

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


def output_frame_samples(features: FeatureConfig, model: ModelConfig) -> int:
    """Audio samples per output frame of the model: the feature hop times the subsampling."""
    return features.hop_length * model.subsampling


def output_frame_seconds(features: FeatureConfig, model: ModelConfig) -> float:
    """Seconds per output frame of the model (the unit of word and segment times)."""
    return output_frame_samples(features, model) / features.sample_rate


def output_frames(features: FeatureConfig, model: ModelConfig, num_samples: int) -> int:
    """Output frames the model gives for num_samples of audio (as ConvSubsampling.lengths)."""
    frames = features.num_frames(num_samples)
    return -(-frames // model.subsampling)  # each stride-2 convolution rounds up


class ConvSubsampling(nn.Module):
    """2-D convolutions over (time, mel); each stride-2 layer halves the frame rate."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels_in = 1
        for _ in range(config.conv_layers):
            conv = nn.Conv2d(channels_in, config.conv_channels, 3, stride=config._conv_stride, padding=1)
            # He initialization keeps the normalized features' scale through each ReLU layer. With
            # PyTorch's default the two layers shrink it about 7x, the LSTM sees almost no input at
            # first and CTC sits on its all-blank plateau for longer (recipes/an4/RESULTS.md).
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.get_parameter("bias"))
            layers += [conv, nn.ReLU()]
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


def reversal_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(batch, steps) time indices that reverse each sequence within its length and leave the
    padding in place. Applying it twice restores the original order."""
    time = torch.arange(steps, device=lengths.device).unsqueeze(0)
    last = (lengths - 1).unsqueeze(1)
    return torch.where(time <= last, last - time, time)


def reorder_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (batch, steps, size) with its steps taken in `index` order, row by row."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def open_forget_gate(lstm: nn.LSTM) -> nn.LSTM:
    """A new one-layer LSTM with its forget-gate bias at 1 (Jozefowicz et al., 2015): the cells
    start out remembering, so gradients reach back across frames from the first step."""
    size = lstm.hidden_size
    with torch.no_grad():  # PyTorch's gate order is input, forget, cell, output; the two biases add
        lstm.get_parameter("bias_ih_l0")[size : 2 * size].fill_(1.0)
        lstm.get_parameter("bias_hh_l0")[size : 2 * size].zero_()
    return lstm


class LSTMLayer(nn.Module):
    """One (bi)LSTM layer over a padded batch: `ahead` reads each sequence forward, `behind`
    (bidirectional only; a list of one, which TorchScript can iterate) reads it reversed within
    its own length. Padding then always follows the real frames and never reaches their outputs."""

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool) -> None:
        super().__init__()
        self.ahead = open_forget_gate(nn.LSTM(input_size, hidden_size, batch_first=True))
        self.behind = nn.ModuleList([open_forget_gate(nn.LSTM(input_size, hidden_size, batch_first=True))] if bidirectional else [])

    def forward(self, x: torch.Tensor, reversal: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.ahead(x)[0]
        for lstm in self.behind:
            back, _ = lstm(reorder_steps(x, reversal))
            out = torch.cat([out, reorder_steps(back, reversal)], dim=-1)
        return out


class LSTMStack(nn.Module):
    """The model's LSTM, in training, inference and export alike.

    A packed bidirectional nn.LSTM runs a batch of unequal lengths step by step on a slow path
    (3.4x slower for a training step on this CPU; benchmarks/train_throughput.py). Here every
    direction of every layer is a one-layer nn.LSTM over the padded batch (see LSTMLayer), which
    gives the packed stack's outputs and gradients for the real frames exactly, runs oneDNN's
    fused kernels, quantizes to int8 and exports to TorchScript and ONNX. Dropout sits between
    layers, as in nn.LSTM."""

    def __init__(self, input_size: int, config: ModelConfig) -> None:
        super().__init__()
        directions = 2 if config.bidirectional else 1
        sizes = [input_size] + [directions * config.hidden_size] * (config.lstm_layers - 1)
        # Built layer by layer, forward before backward: nn.LSTM's parameter order, so the same
        # seed draws the same initial weights and old optimizer states line up.
        self.layers = nn.ModuleList(LSTMLayer(size, config.hidden_size, config.bidirectional) for size in sizes)
        self.dropout = nn.Dropout(config.dropout if config.lstm_layers > 1 else 0.0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (batch, steps, input) padded after each sequence's `lengths` -> (batch, steps, out).
        Outputs past a sequence's length are meaningless."""
        reversal = reversal_index(lengths, x.shape[1])
        for depth, layer in enumerate(self.layers):
            if depth > 0:
                x = self.dropout(x)
            x = layer(x, reversal)
        return x


_PACKED_LSTM_NAME = re.compile(r"lstm\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?")


def upgrade_weight_name(name: str) -> str:
    """A weight name of the model as saved before LSTMStack (one packed nn.LSTM: 'lstm.weight_ih_l2_reverse')
    -> its name now ('lstm.layers.2.behind.0.weight_ih_l0'); other names pass unchanged."""
    match = _PACKED_LSTM_NAME.fullmatch(name)
    if match is None:
        return name
    kind, layer, reverse = match.groups()
    return f"lstm.layers.{layer}.{'behind.0' if reverse else 'ahead'}.{kind}_l0"


def as_packed_lstm(stack: LSTMStack) -> nn.LSTM:
    """The stack's weights as one multi-layer nn.LSTM (the layout of models saved before
    LSTMStack), for checking exactness against packed sequences and for benchmarks."""
    layer = stack.layers[0]
    assert isinstance(layer, LSTMLayer)
    first, bidirectional = layer.ahead, len(layer.behind) > 0
    lstm = nn.LSTM(first.input_size, first.hidden_size, len(stack.layers), batch_first=True, bidirectional=bidirectional, dropout=stack.dropout.p)
    own = dict(stack.named_parameters())
    lstm.load_state_dict({name: own[upgrade_weight_name(f"lstm.{name}").removeprefix("lstm.")].detach().clone() for name, _ in lstm.named_parameters()})
    return lstm


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
        self.lstm = LSTMStack(config.conv_output_size, config)
        self.dropout = nn.Dropout(config.dropout)
        # Set by asr.inference for bfloat16 weights: the input is cast after the normalization.
        self.bf16 = False
        self._register_load_state_dict_pre_hook(self._upgrade_state_dict)  # type: ignore[no-untyped-call]
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
        if self.bf16:
            x = x.to(torch.bfloat16)
        x = self.subsampling(x)
        out_lengths = self.output_lengths(lengths).clamp(min=1, max=x.shape[1])
        logits = self.output(self.dropout(self.lstm(x, out_lengths)))
        return torch.log_softmax(logits.float(), dim=-1), out_lengths

    def _upgrade_state_dict(self, state: dict[str, Any], prefix: str, *args: Any) -> None:
        """Checkpoints and state dicts written before LSTMStack load under the new names."""
        for name in [n for n in state if n.startswith(prefix)]:
            upgraded = prefix + upgrade_weight_name(name[len(prefix) :])
            if upgraded != name:
                state[upgraded] = state.pop(name)
