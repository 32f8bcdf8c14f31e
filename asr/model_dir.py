"""Saving and loading model directories: config.json plus model.safetensors, never a pickle."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from asr.config import from_dict, to_dict
from asr.constants import CONFIG_FILENAME, DEFAULT_ALPHABET, WEIGHTS_FILENAME
from asr.errors import ConfigError, ModelError
from asr.features import FeatureConfig
from asr.fileio import atomic_write_bytes
from asr.model import CTCModel, ModelConfig
from asr.tokenizer import CharTokenizer

FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 10_000_000


NORMALIZATION_BUFFERS = ("feature_mean", "feature_std")


@dataclass(frozen=True)
class Normalization:
    """Global per-band log-mel statistics of the training set; features are (x - mean) / std."""

    mean: list[float] = field(default_factory=list)  # one value per mel band; empty means 0
    std: list[float] = field(default_factory=list)  # one value per mel band; empty means 1


@dataclass(frozen=True)
class ModelDirConfig:
    """Everything needed to rebuild a model exactly as it was trained (config.json)."""

    model: ModelConfig
    features: FeatureConfig = field(default_factory=FeatureConfig)
    alphabet: str = DEFAULT_ALPHABET  # output characters after the blank, in id order
    normalization: Normalization = field(default_factory=Normalization)  # filled in by save_model_dir
    provenance: dict[str, Any] = field(default_factory=dict)  # how and on what it was trained
    decoder: dict[str, Any] = field(default_factory=dict)  # beam-search defaults: lm (file in the directory), lm_weight, word_score, ...
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        for name in ("mean", "std"):
            values = getattr(self.normalization, name)
            if values and len(values) != self.features.n_mels:
                raise ValueError(f"normalization.{name} has {len(values)} values for {self.features.n_mels} mel bands")
        if any(v <= 0 for v in self.normalization.std):
            raise ValueError("normalization.std must be positive")
        if self.model.vocab_size != len(self.alphabet) + 1:
            raise ValueError(f"model.vocab_size {self.model.vocab_size} != len(alphabet) + 1 = {len(self.alphabet) + 1}")
        if self.model.n_mels != self.features.n_mels:
            raise ValueError(f"model.n_mels {self.model.n_mels} != features.n_mels {self.features.n_mels}")


@dataclass
class LoadedModel:
    config: ModelDirConfig
    model: CTCModel
    tokenizer: CharTokenizer
    path: Path | None = None


def save_model_dir(path: str | Path, model: CTCModel, config: ModelDirConfig, half: bool = False) -> Path:
    """Write config.json (with the model's normalization statistics) and model.safetensors
    (the trained weights, optionally as float16 to halve the size)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = replace(config, normalization=Normalization(model.feature_mean.tolist(), model.feature_std.tolist()))
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items() if name not in NORMALIZATION_BUFFERS}
    if half:
        state = {name: t.half() if t.is_floating_point() else t for name, t in state.items()}
    # Weights first, then the config: a config never describes weights that are not there yet.
    atomic_write_bytes(path / WEIGHTS_FILENAME, save(state, metadata={"format": "pt"}))
    text = json.dumps(to_dict(config), indent=2) + "\n"
    atomic_write_bytes(path / CONFIG_FILENAME, text.encode("utf-8"))
    return path


def read_model_config(path: str | Path) -> ModelDirConfig:
    path = Path(path)
    config_path = path / CONFIG_FILENAME
    if not path.exists():
        raise ModelError(path, "model directory not found")
    if not path.is_dir():
        raise ModelError(path, "is not a model directory (expected a folder with config.json and model.safetensors)")
    if not config_path.is_file():
        raise ModelError(path, f"no {CONFIG_FILENAME} in the model directory")
    if config_path.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelError(path, f"{CONFIG_FILENAME} is implausibly large")
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(path, f"{CONFIG_FILENAME} is not valid JSON ({exc})") from exc
    if isinstance(data, dict) and data.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ModelError(path, f"model format {data['format_version']} is newer than this asr understands")
    try:
        return from_dict(ModelDirConfig, data)
    except ConfigError as exc:
        raise ModelError(path, f"invalid {CONFIG_FILENAME}: {exc}") from exc


def load_model_dir(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild a model from its directory. The config is checked (sizes included) before any
    weights are allocated, and weights come from safetensors, which cannot run code."""
    path = Path(path)
    config = read_model_config(path)
    weights_path = path / WEIGHTS_FILENAME
    if not weights_path.is_file():
        raise ModelError(path, f"no {WEIGHTS_FILENAME} in the model directory")
    model = CTCModel(config.model)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise ModelError(path, f"{WEIGHTS_FILENAME} is not a valid safetensors file ({exc})") from exc
    expected = {name: tensor for name, tensor in model.state_dict().items() if name not in NORMALIZATION_BUFFERS}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(path, f"weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise ModelError(path, f"weight {name} has shape {tuple(tensor.shape)}, config needs {tuple(expected[name].shape)}")
        expected[name].copy_(tensor.to(expected[name].dtype))
    norm = config.normalization
    model.set_normalization(norm.mean or [0.0] * config.features.n_mels, norm.std or [1.0] * config.features.n_mels)
    model.to(device).eval()
    return LoadedModel(config=config, model=model, tokenizer=CharTokenizer(config.alphabet), path=path)
