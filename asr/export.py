"""`asr export`: a model directory as one self-contained file, TorchScript or ONNX, that maps
waveforms to CTC log-probabilities and runs without this package (torch alone, or onnxruntime).

The exported graph holds the whole acoustic path: log-mel features (the STFT as a convolution
with a windowed DFT basis, which both formats express with plain ops), the model's normalization,
subsampling, LSTM stack (see asr.inference) and output layer. Inputs: `waveforms` (batch,
samples) float32 mono at the model's sample rate, zero-padded, at least n_fft samples long, and
`lengths` (batch,) int64 valid samples. Outputs: `log_probs` (batch, frames, vocab), blank = 0,
and `out_lengths` (batch,). What a decoder needs (alphabet, sample rate, seconds per output
frame) travels in the file: TorchScript extra file `asr.json`, ONNX metadata key `asr`."""

import io
import json
import tempfile
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from asr.errors import MissingDependencyError, ModelError
from asr.features import ConvLogMel, LogMel
from asr.fileio import atomic_write_bytes
from asr.inference import InferenceModel
from asr.model_dir import load_model_dir

ExportFormat = Literal["torchscript", "onnx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("torchscript", "onnx")
METADATA_KEY = "asr"  # ONNX metadata key; TorchScript extra file f"{METADATA_KEY}.json"
ONNX_OPSET = 17
DYNAMIC_AXES = {"waveforms": {0: "batch", 1: "samples"}, "lengths": {0: "batch"}, "log_probs": {0: "batch", 1: "frames"}, "out_lengths": {0: "batch"}}


class WaveformModel(nn.Module):
    """Waveforms and their lengths -> log-probs and their lengths: the exported graph."""

    def __init__(self, frontend: LogMel, model: InferenceModel) -> None:
        super().__init__()
        self.features = ConvLogMel(frontend)
        self.model = model

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs, out_lengths = self.model(self.features(waveforms), self.features.lengths(lengths))
        return log_probs, out_lengths


def _example_inputs(sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two rows of unequal length, so that nothing about the batch shape is baked in."""
    generator = torch.Generator().manual_seed(0)
    waveforms = 0.1 * torch.randn(2, 2 * sample_rate, generator=generator)
    lengths = torch.tensor([2 * sample_rate, 3 * sample_rate // 2])
    waveforms[1, lengths[1] :] = 0.0
    return waveforms, lengths


def _torchscript_bytes(module: WaveformModel, metadata: str) -> bytes:
    with warnings.catch_warnings():  # TorchScript is in maintenance mode and says so
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(module)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer, _extra_files={f"{METADATA_KEY}.json": metadata})
    return buffer.getvalue()


def _onnx_bytes(module: WaveformModel, sample_rate: int, metadata: str) -> bytes:
    try:
        import onnx
    except ImportError as exc:
        raise MissingDependencyError("asr export --format onnx", "the onnx package is not installed (pip install onnx)") from exc
    with tempfile.TemporaryDirectory(prefix="asr-export-") as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated, but exact for LSTMs
        torch.onnx.export(
            module,
            _example_inputs(sample_rate),
            Path(folder) / "model.onnx",
            input_names=["waveforms", "lengths"],
            output_names=["log_probs", "out_lengths"],
            dynamic_axes=DYNAMIC_AXES,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
        graph = onnx.load(Path(folder) / "model.onnx")
    onnx.helper.set_model_props(graph, {METADATA_KEY: metadata})
    return bytes(graph.SerializeToString())


def export_model(model_dir: str | Path, output: str | Path, export_format: ExportFormat) -> Path:
    """Write `output` (written atomically) from a model directory; returns its path."""
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {export_format!r}; known: {', '.join(EXPORT_FORMATS)}")
    loaded = load_model_dir(model_dir)
    features = loaded.config.features
    module = WaveformModel(LogMel(features), InferenceModel(loaded.model)).eval()
    metadata = json.dumps(
        {
            "alphabet": loaded.config.alphabet,
            "blank_id": 0,
            "sample_rate": features.sample_rate,
            "min_samples": features.n_fft,
            "frame_seconds": loaded.config.output_frame_seconds,  # the key exported files have always carried
        }
    )
    try:
        data = _torchscript_bytes(module, metadata) if export_format == "torchscript" else _onnx_bytes(module, features.sample_rate, metadata)
    except (RuntimeError, torch.jit.Error) as exc:  # exporter failures are not the user's input's fault, but name the model
        raise ModelError(model_dir, f"{export_format} export failed ({exc})") from exc
    path = Path(output)
    atomic_write_bytes(path, data)
    return path
