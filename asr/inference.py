"""The acoustic model prepared for inference: evaluation mode, and optionally int8 or bfloat16
weights. The network itself is asr.model.CTCModel, the same in training, inference and export."""

import copy
import warnings
from typing import Literal

import torch
from torch import nn

from asr.model import CTCModel

Quantization = Literal["int8", "bf16"]
QUANTIZATIONS: dict[Quantization, str] = {
    "int8": "int8 LSTM and output weights (CPU only): faster, slightly less accurate",
    "bf16": "the network in bfloat16: about 1.5x faster on CPUs with AVX512-BF16 or AMX, slower on others",
}


class InferenceModel(nn.Module):
    """Log-mel features -> log-probabilities, like CTCModel.forward in evaluation mode;
    `quantize="int8"` stores LSTM and linear weights as int8, and `quantize="bf16"` runs the
    network in bfloat16. The caller's model is left as it was."""

    def __init__(self, model: CTCModel, quantize: Quantization | None = None) -> None:
        super().__init__()
        if quantize is not None and quantize not in QUANTIZATIONS:
            raise ValueError(f"unknown quantization {quantize!r}; known: {', '.join(QUANTIZATIONS)}")
        # A copy when the weights are converted: the caller's model must stay as it was.
        self.network = copy.deepcopy(model) if quantize else model
        self.quantization = quantize
        self.eval()
        if quantize == "int8":
            # Dynamic quantization: int8 weights, activations quantized per batch on the fly.
            # Only CPU kernels exist for it.
            with warnings.catch_warnings():  # torch.ao.quantization warns that it moves to torchao
                warnings.simplefilter("ignore")
                torch.ao.quantization.quantize_dynamic(self.network, {nn.LSTM, nn.Linear}, dtype=torch.qint8, inplace=True)  # type: ignore[no-untyped-call]
        elif quantize == "bf16":
            # bfloat16 weights and activations in the convolutions, LSTMs and output layer (the
            # normalization statistics and the log-softmax stay fp32). On a CPU with AVX512-BF16
            # the model ran 1.6x faster (benchmarks/model_speed.py); without it, slower than fp32.
            for module in (self.network.subsampling, self.network.lstm, self.network.output):
                module.to(torch.bfloat16)
            self.network.bf16 = True

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features (batch, frames, n_mels) raw log-mel; lengths (batch,) valid frames."""
        log_probs, out_lengths = self.network(features, lengths)
        return log_probs, out_lengths
