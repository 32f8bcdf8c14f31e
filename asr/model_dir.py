"""Saving and loading model directories: config.json plus model.safetensors, never a pickle."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from asr.config import from_dict, to_dict
from asr.constants import CONFIG_FILENAME, DEFAULT_ALPHABET, WEIGHTS_FILENAME
from asr.decoding import DecoderOptions, named_files
from asr.errors import ConfigError, ModelError
from asr.features import FeatureConfig
from asr.fileio import atomic_write_bytes
from asr.model import CTCModel, ModelConfig, output_frame_seconds, upgrade_weight_name
from asr.tokenizer import CharTokenizer

FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 10_000_000
# Front-end limits for an untrusted config.json: the mel filterbank (n_mels x n_fft / 2) and the
# STFT window are allocated from these before any audio is seen.
SAMPLE_RATE_RANGE = (1_000, 384_000)
MAX_MELS = 1_024
MAX_N_FFT = 65_536


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
    # The model's default decoder (`method`) and beam-search settings; lm and lexicon name files in
    # the directory (asr lm tune writes them; see stored_decoder for them as paths).
    decoder: DecoderOptions = field(default_factory=DecoderOptions)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        self._check_features()
        for name in ("mean", "std"):
            values = getattr(self.normalization, name)
            if values and len(values) != self.features.n_mels:
                raise ValueError(f"normalization.{name} has {len(values)} values for {self.features.n_mels} mel bands")
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"normalization.{name} holds NaN or infinite values")
        if any(v <= 0 for v in self.normalization.std):
            raise ValueError("normalization.std must be positive")
        CharTokenizer(self.alphabet)  # repeated characters or no space: refused here, not at first use
        if self.model.vocab_size != len(self.alphabet) + 1:
            raise ValueError(f"model.vocab_size {self.model.vocab_size} != len(alphabet) + 1 = {len(self.alphabet) + 1}")
        if self.model.n_mels != self.features.n_mels:
            raise ValueError(f"model.n_mels {self.model.n_mels} != features.n_mels {self.features.n_mels}")

    @property
    def output_frame_seconds(self) -> float:
        """Seconds per output frame of the model."""
        return output_frame_seconds(self.features, self.model)

    def _check_features(self) -> None:
        f = self.features
        low, high = SAMPLE_RATE_RANGE
        if not low <= f.sample_rate <= high:
            raise ValueError(f"features.sample_rate {f.sample_rate} is outside {low}-{high} Hz")
        if not 1 <= f.n_mels <= MAX_MELS:
            raise ValueError(f"features.n_mels {f.n_mels} is outside 1-{MAX_MELS}")
        if not 1 <= f.n_fft <= MAX_N_FFT:
            raise ValueError(f"features.n_fft {f.n_fft} is outside 1-{MAX_N_FFT}")
        for name in ("win_ms", "hop_ms"):
            if not (math.isfinite(getattr(f, name)) and getattr(f, name) > 0):
                raise ValueError(f"features.{name} must be a positive number, got {getattr(f, name)}")
        if not (f.hop_length >= 1 and 1 <= f.win_length <= f.n_fft):
            raise ValueError(f"features: window {f.win_length} and hop {f.hop_length} samples must be at least 1, the window at most n_fft {f.n_fft}")


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
    _write_config(path, config)
    return path


def _write_config(path: Path, config: ModelDirConfig) -> Path:
    target = path / CONFIG_FILENAME
    atomic_write_bytes(target, (json.dumps(to_dict(config), indent=2) + "\n").encode("utf-8"))
    return target


def write_decoder(path: str | Path, decoder: DecoderOptions) -> Path:
    """Replace the decoder section of a model directory's config.json (its files, lm and lexicon,
    must already be in the directory, named relative to it); the path of config.json."""
    path = Path(path)
    return _write_config(path, replace(read_model_config(path), decoder=decoder))


def stored_decoder(config: ModelDirConfig, path: Path | None) -> DecoderOptions:
    """The model's stored decoder, with the files it names (relative to the directory) as paths."""
    if path is None:
        return config.decoder
    files: dict[str, Any] = {name: str(path / file) for _, name, file in named_files(config.decoder)}
    return replace(config.decoder, **files)


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
        raise ModelError(path, f"{CONFIG_FILENAME} is implausibly large ({config_path.stat().st_size:,} bytes, limit {MAX_CONFIG_BYTES:,})")
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(path, f"{CONFIG_FILENAME} is not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise ModelError(path, f"{CONFIG_FILENAME} is nested too deeply") from exc
    except OSError as exc:
        raise ModelError(path, f"{CONFIG_FILENAME} cannot be read ({exc.strerror or exc})") from exc
    version = data.get("format_version", FORMAT_VERSION) if isinstance(data, dict) else FORMAT_VERSION
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelError(path, f"invalid {CONFIG_FILENAME}: format_version must be an integer, got {version!r:.40}")
    if version > FORMAT_VERSION:
        raise ModelError(path, f"model format {version} is newer than this asr understands")
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
    expected = {name: tensor for name, tensor in model.state_dict().items() if name not in NORMALIZATION_BUFFERS}
    try:
        with safe_open(str(weights_path), framework="pt") as weights:
            # Names and shapes come from the header: a file holding other or larger tensors than
            # the config describes is refused before any of them is read into memory.
            # Directories saved before LSTMStack name the LSTM weights as one nn.LSTM does.
            stored = {upgrade_weight_name(name): name for name in weights.keys()}  # noqa: SIM118 (safe_open has no __iter__)
            missing = sorted(set(expected) - set(stored))
            unexpected = sorted(set(stored) - set(expected))
            if missing or unexpected:
                raise ModelError(path, f"weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})")
            for name, target in expected.items():
                shape = tuple(weights.get_slice(stored[name]).get_shape())
                if shape != tuple(target.shape):
                    raise ModelError(path, f"weight {name} has shape {shape}, config needs {tuple(target.shape)}")
            for name, target in expected.items():
                target.copy_(weights.get_tensor(stored[name]).to(target.dtype))
    except (SafetensorError, OSError) as exc:
        raise ModelError(path, f"{WEIGHTS_FILENAME} is not a valid safetensors file ({exc})") from exc
    norm = config.normalization
    model.set_normalization(norm.mean or [0.0] * config.features.n_mels, norm.std or [1.0] * config.features.n_mels)
    model.to(device).eval()
    return LoadedModel(config=config, model=model, tokenizer=CharTokenizer(config.alphabet), path=path)
