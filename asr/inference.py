"""The acoustic model arranged for fast batched inference, optionally with int8 weights.

PyTorch runs a packed bidirectional LSTM batch with unequal lengths step by step on a slow path
(about 2.5x slower on CPU than the same batch unpacked). Unpacked, a backward direction would
read the padding before the real frames; so here each direction of each layer is its own
single-layer LSTM, and the backward one reads every sequence reversed within its own length.
Padding then only ever follows the real frames, and the outputs of the real frames are exactly
those of the packed model. The same module exports to TorchScript and ONNX (no packing there)."""

import copy
import warnings
from typing import Literal

import torch
from torch import nn

from asr.model import ConvSubsampling, CTCModel

Quantization = Literal["int8", "bf16"]
QUANTIZATIONS: tuple[Quantization, ...] = ("int8", "bf16")


def reversal_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(batch, steps) time indices that reverse each sequence within its length and leave the
    padding in place. Applying it twice restores the original order."""
    time = torch.arange(steps, device=lengths.device).unsqueeze(0)
    last = (lengths - 1).unsqueeze(1)
    return torch.where(time <= last, last - time, time)


def reorder_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (batch, steps, size) with its steps taken in `index` order, row by row."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def _single_direction(lstm: nn.LSTM, layer: int, suffix: str) -> nn.LSTM:
    """One layer and direction of a trained LSTM stack, as a one-layer LSTM of its own."""
    input_size = lstm.input_size if layer == 0 else lstm.hidden_size * (2 if lstm.bidirectional else 1)
    single = nn.LSTM(input_size, lstm.hidden_size, num_layers=1, batch_first=True, bias=lstm.bias)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if hasattr(single, f"{name}_l0"):
                getattr(single, f"{name}_l0").copy_(getattr(lstm, f"{name}_l{layer}{suffix}"))
    return single


class DirectionalLSTMStack(nn.Module):
    """A (bi)LSTM stack as single-direction layers over padded, unpacked batches (see above)."""

    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        if not lstm.batch_first or lstm.proj_size:
            raise ValueError("expected a batch_first LSTM without projections")
        self.forward_layers = nn.ModuleList(_single_direction(lstm, k, "") for k in range(lstm.num_layers))
        suffixes = ["_reverse"] * lstm.num_layers if lstm.bidirectional else []
        self.backward_layers = nn.ModuleList(_single_direction(lstm, k, s) for k, s in enumerate(suffixes))
        self.bidirectional = lstm.bidirectional

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (batch, steps, input) padded after each sequence's `lengths` -> (batch, steps, out).
        Outputs past a sequence's length are meaningless."""
        index = reversal_index(lengths, x.shape[1])
        for layer, forward_lstm in enumerate(self.forward_layers):
            ahead, _ = forward_lstm(x)
            if self.bidirectional:
                for backward_index, backward_lstm in enumerate(self.backward_layers):  # TorchScript cannot index a ModuleList
                    if backward_index == layer:
                        behind, _ = backward_lstm(reorder_steps(x, index))
                        ahead = torch.cat([ahead, reorder_steps(behind, index)], dim=-1)
            x = ahead
        return x


class InferenceModel(nn.Module):
    """Log-mel features -> log-probabilities, like CTCModel.forward (same outputs for the valid
    frames), without packing; `quantize="int8"` stores LSTM and linear weights as int8, and
    `quantize="bf16"` runs the network in bfloat16."""

    feature_mean: torch.Tensor
    feature_std: torch.Tensor

    def __init__(self, model: CTCModel, quantize: Quantization | None = None) -> None:
        super().__init__()
        self.register_buffer("feature_mean", model.feature_mean.detach().clone())
        self.register_buffer("feature_std", model.feature_std.detach().clone())
        # A copy when the weights are converted: the caller's model must stay as it was.
        self.subsampling: ConvSubsampling = copy.deepcopy(model.subsampling) if quantize else model.subsampling
        self.lstm = DirectionalLSTMStack(model.lstm)
        self.output = nn.Linear(model.output.in_features, model.output.out_features)
        self.output.load_state_dict(model.output.state_dict())
        self.quantization = quantize
        self.bf16 = quantize == "bf16"  # a plain bool: TorchScript cannot compare an optional string
        self.eval()
        if quantize == "int8":
            # Dynamic quantization: int8 weights, activations quantized per batch on the fly.
            # Only CPU kernels exist for it.
            with warnings.catch_warnings():  # torch.ao.quantization warns that it moves to torchao
                warnings.simplefilter("ignore")
                torch.ao.quantization.quantize_dynamic(self, {nn.LSTM, nn.Linear}, dtype=torch.qint8, inplace=True)  # type: ignore[no-untyped-call]
        elif quantize == "bf16":
            # bfloat16 weights and activations in the convolutions, LSTMs and output layer (the
            # normalization statistics and the log-softmax stay fp32). On a CPU with AVX512-BF16
            # the model ran 1.6x faster (benchmarks/model_speed.py); without it, slower than fp32.
            for module in (self.subsampling, self.lstm, self.output):
                module.to(torch.bfloat16)
        elif quantize is not None:
            raise ValueError(f"unknown quantization {quantize!r}; known: {', '.join(QUANTIZATIONS)}")

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features (batch, frames, n_mels) raw log-mel; lengths (batch,) valid frames."""
        x = (features - self.feature_mean) / self.feature_std
        if self.bf16:
            x = x.to(torch.bfloat16)
        x = self.subsampling(x)
        out_lengths = self.subsampling.lengths(lengths).clamp(min=1, max=x.shape[1])
        logits = self.output(self.lstm(x, out_lengths))
        return torch.log_softmax(logits.float(), dim=-1), out_lengths
