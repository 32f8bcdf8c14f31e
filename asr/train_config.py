"""The training configuration tree, loaded from YAML (see recipes/*/config.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from asr.augment import AugmentConfig, SpecAugmentConfig
from asr.config import PATH, apply_overrides, from_dict, load_yaml, resolve_paths
from asr.constants import DEFAULT_ALPHABET
from asr.features import FeatureConfig
from asr.model import ModelConfig


@dataclass(frozen=True)
class DataConfig:
    train_manifests: list[str] = field(metadata=PATH)  # JSONL manifests to train on (relative to the config file, or absolute)
    valid_manifests: list[str] = field(default_factory=list, metadata=PATH)  # scored with greedy WER/CER after each epoch
    alphabet: str = DEFAULT_ALPHABET  # output characters; the CTC blank is added in front
    min_duration: float = 0.1  # seconds; shorter utterances are skipped
    max_duration: float = 20.0  # seconds; longer utterances are skipped
    max_chars_per_second: float = 25.0  # longer transcripts mean truncated audio; such utterances are skipped
    batch_size: int = 16  # most utterances in one batch
    max_batch_seconds: float = 320.0  # most padded audio seconds in one batch
    sortagrad: bool = False  # first epoch in order of length, shortest first (SortaGrad); later epochs shuffled
    # DataLoader processes that decode and augment audio (0: in the main process). One keeps up
    # with a CPU training step and leaves the other core of a 2-core machine to the model
    # (benchmarks/train_throughput.py: 52 audio s/s with 1, 50 with 0, 46 with 2); GPUs want more.
    num_workers: int = 1
    feature_cache_dir: str | None = field(default=None, metadata=PATH)  # keep per-utterance log-mel features here (not with waveform augmentation)
    stats_utterances: int = 1000  # training utterances used for the normalization statistics


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-3  # peak learning rate of AdamW
    weight_decay: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 5.0  # max gradient norm
    warmup_steps: int = 200  # linear warm-up from 0 to lr
    schedule: Literal["cosine", "constant"] = "cosine"  # decay after warm-up
    min_lr_ratio: float = 0.05  # the cosine ends at lr * min_lr_ratio


@dataclass(frozen=True)
class TrainConfig:
    output_dir: str = field(metadata=PATH)  # holds checkpoint.pt, best/, last/, train_log.csv
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    epochs: int = 30
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:1, ...
    best_metric: Literal["wer", "cer"] = "wer"  # validation metric that picks best/ (cer suits weak models, whose WER sits near 100%)
    # Autocast dtype (fp16 adds a gradient scaler); the CTC loss and the weights stay fp32. auto:
    # bf16 on a CPU with bfloat16 instructions (AVX512-BF16, AMX), fp32 on others and on GPUs.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    threads: int = 0  # intra-op CPU threads per process; 0: the CPUs less one per DataLoader worker (at least 1)
    accum_steps: int = 1  # batches whose gradients are summed into one optimizer step
    checkpoint_every_steps: int = 200  # also checkpoint within an epoch (resume continues mid-epoch)
    log_every_steps: int = 20
    tensorboard: bool = True  # also log to output_dir/tensorboard (needs the tensorboard package)
    keep_epoch_models: int = 5  # keep the last N epochs' models in output_dir/epochs/ for averaging (0: none)
    early_stopping_epochs: int = 0  # stop after this many epochs without a better validation score (0: never)
    init_from: str | None = field(default=None, metadata=PATH)  # fine-tune: start from this model directory (a new alphabet re-initializes the output layer)
    max_steps: int = 0  # stop (with a checkpoint) after this many steps in all; 0 means no limit
    resume: bool = True  # continue from output_dir/checkpoint.pt when it exists

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise ValueError(f"threads must be 0 (automatic) or more, got {self.threads}")
        if self.accum_steps < 1:
            raise ValueError(f"accum_steps must be at least 1, got {self.accum_steps}")
        if self.data.feature_cache_dir and self.augment.enabled:
            # Cached features are of the clean audio; speed, noise, reverberation and gain change
            # the audio itself, every epoch. SpecAugment (on features) is fine with the cache.
            raise ValueError("data.feature_cache_dir cannot be combined with waveform augmentation (augment.*): turn one of them off")


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config, apply 'key.sub=value' overrides, and resolve its path fields (those
    marked PATH: manifests, output and cache folders, ...) relative to the config file's folder."""
    path = Path(path)
    data = apply_overrides(load_yaml(path), overrides or [])
    resolve_paths(TrainConfig, data, path.parent)
    data_section = data.get("data")
    model_section = data.setdefault("model", {})
    if isinstance(model_section, dict):
        # The output layer's size follows the alphabet unless given explicitly.
        alphabet = data_section.get("alphabet", DEFAULT_ALPHABET) if isinstance(data_section, dict) else DEFAULT_ALPHABET
        if isinstance(alphabet, str):
            model_section.setdefault("vocab_size", len(alphabet) + 1)
        features = data.get("features", {})
        if isinstance(features, dict) and "n_mels" in features:
            model_section.setdefault("n_mels", features["n_mels"])
    return from_dict(TrainConfig, data)
