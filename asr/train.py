"""Training a CTC model, readable top to bottom:

config -> manifests -> normalization stats -> model/optimizer -> (resume) -> epochs of
[batches -> features -> SpecAugment -> CTC loss -> step -> checkpoint] -> validation -> best/.

Checkpoints hold the model, optimizer, scheduler, RNG state and the position inside the
epoch, and are written atomically, so a run killed at any point continues where it stopped."""

from __future__ import annotations

import csv
import io
import itertools
import math
import platform
import shutil
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jiwer
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from asr import __version__
from asr.config import to_dict
from asr.data import Batch, Example, ManifestEntry, SpeechDataset, collate, iter_manifest
from asr.decoding import greedy_text
from asr.errors import ConfigError, ManifestError
from asr.features import FeatureStats, LogMel
from asr.fileio import atomic_write_bytes
from asr.model import CTCModel
from asr.model_dir import ModelDirConfig, load_model_dir, save_model_dir
from asr.sampler import make_batches
from asr.tokenizer import CharTokenizer, normalize_text
from asr.train_config import SpecAugmentConfig, TrainConfig

CHECKPOINT_NAME = "checkpoint.pt"


def log(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


@dataclass
class Split:
    entries: list[ManifestEntry]
    targets: list[list[int]]

    @property
    def hours(self) -> float:
        return sum(e.duration for e in self.entries) / 3600


def load_split(manifests: list[str], tokenizer: CharTokenizer, config: TrainConfig, name: str) -> Split:
    """Read manifests, skipping (and reporting) broken lines, utterances out of the duration
    range, empty transcripts, and those whose labels cannot fit the model's output frames."""
    entries: list[ManifestEntry] = []
    targets: list[list[int]] = []
    skipped = {"broken line": 0, "duration out of range": 0, "empty text": 0, "text too long for the audio": 0, "labels longer than frames": 0}
    tokenizer.oov_counts.clear()
    for manifest in manifests:
        for item in iter_manifest(manifest):
            if isinstance(item, ManifestError):
                log(f"skipping {item}")
                skipped["broken line"] += 1
                continue
            if not config.data.min_duration <= item.duration <= config.data.max_duration:
                skipped["duration out of range"] += 1
                continue
            ids = tokenizer.encode(item.text)
            if not ids:
                skipped["empty text"] += 1
                continue
            if len(ids) > config.data.max_chars_per_second * item.duration:
                skipped["text too long for the audio"] += 1
                continue
            # CTC needs a frame per label, plus a blank between repeated letters.
            needed = len(ids) + sum(a == b for a, b in itertools.pairwise(ids))
            frames = config.features.num_frames(int(item.duration * config.features.sample_rate))
            if needed > math.ceil(frames / config.model.subsampling):
                skipped["labels longer than frames"] += 1
                continue
            entries.append(item)
            targets.append(ids)
    split = Split(entries, targets)
    report = ", ".join(f"{count} {why}" for why, count in skipped.items() if count)
    log(f"{name}: {len(entries)} utterances, {split.hours:.2f} h" + (f"; skipped {report}" if report else ""))
    if tokenizer.oov_counts:
        common = ", ".join(f"{ch!r}x{n}" for ch, n in tokenizer.oov_counts.most_common(10))
        log(f"{name}: characters outside the alphabet were left out of the targets: {common}")
    return split


def compute_stats(split: Split, config: TrainConfig, frontend: LogMel) -> tuple[list[float], list[float]]:
    """Per-band mean/std of log-mel features over (a seeded sample of) the training set."""
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(split.entries), generator=generator)[: config.data.stats_utterances].tolist()
    dataset = SpeechDataset([split.entries[i] for i in order], [split.targets[i] for i in order], config.features.sample_rate)
    stats = FeatureStats(config.features.n_mels)
    with torch.no_grad():
        for example in DataLoader(dataset, batch_size=1, num_workers=config.data.num_workers, collate_fn=_first, generator=torch.Generator()):
            if example is not None:
                stats.update(frontend(example.waveform.unsqueeze(0))[0])
    return stats.mean_std()


def _first(items: list[Example | None]) -> Example | None:
    return items[0]


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


def lr_factor(step: int, total_steps: int, cfg: TrainConfig) -> float:
    warmup = cfg.optim.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    if cfg.optim.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return cfg.optim.min_lr_ratio + (1 - cfg.optim.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def evaluate(model: CTCModel, frontend: LogMel, split: Split, tokenizer: CharTokenizer, cfg: TrainConfig, device: torch.device) -> tuple[float, float]:
    """Greedy WER and CER on a validation split, references normalized like the targets."""
    dataset = SpeechDataset(split.entries, split.targets, cfg.features.sample_rate)
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size, num_workers=cfg.data.num_workers, collate_fn=collate, generator=torch.Generator())
    refs: list[str] = []
    hyps: list[str] = []
    model.eval()
    with torch.inference_mode():
        for batch in loader:
            if not batch.indices:
                continue
            feats = frontend(batch.waveforms.to(device))
            log_probs, lengths = model(feats, frontend.lengths(batch.sample_lengths.to(device)))
            for row, index in enumerate(batch.indices):
                hyps.append(greedy_text(log_probs[row, : int(lengths[row])], tokenizer))
                refs.append(normalize_text(split.entries[index].text))
    model.train()
    if not refs:
        return float("nan"), float("nan")
    return float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps))


def initialize_from(model: CTCModel, cfg: TrainConfig) -> None:
    """Fine-tuning: start from a trained model directory's weights and normalization statistics.
    A different alphabet keeps everything but the output layer, which starts afresh."""
    assert cfg.init_from is not None
    source = load_model_dir(cfg.init_from)
    if source.config.features != cfg.features:
        raise ConfigError(f"init_from {cfg.init_from}: its front-end {source.config.features} differs from features {cfg.features}")
    new_vocabulary = source.config.alphabet != cfg.data.alphabet
    # Dropout may change for fine-tuning, and the output size with the alphabet; nothing else.
    if replace(source.config.model, vocab_size=1, dropout=0.0) != replace(cfg.model, vocab_size=1, dropout=0.0):
        raise ConfigError(f"init_from {cfg.init_from}: its network {source.config.model} differs from model {cfg.model}")
    weights = {name: tensor for name, tensor in source.model.state_dict().items() if not (new_vocabulary and name.startswith("output."))}
    model.load_state_dict(weights, strict=not new_vocabulary)
    log(f"initialized from {cfg.init_from}" + (" (new alphabet: output layer re-initialized)" if new_vocabulary else ""))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} was asked for, but CUDA is not available")
    return device


def train(cfg: TrainConfig) -> Path:
    """Train as configured; returns the directory of the best model."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    tokenizer = CharTokenizer(cfg.data.alphabet)
    if cfg.model.vocab_size != tokenizer.vocab_size:
        raise ConfigError(f"model.vocab_size {cfg.model.vocab_size} does not match the alphabet ({tokenizer.vocab_size} with blank)")

    # Data.
    train_split = load_split(cfg.data.train_manifests, tokenizer, cfg, "train")
    valid_split = load_split(cfg.data.valid_manifests, tokenizer, cfg, "valid") if cfg.data.valid_manifests else None
    if not train_split.entries:
        raise ConfigError("no usable training utterances")
    dataset = SpeechDataset(train_split.entries, train_split.targets, cfg.features.sample_rate)
    durations = [e.duration for e in train_split.entries]
    steps_per_epoch = len(make_batches(durations, cfg.data.batch_size, cfg.data.max_batch_seconds, cfg.seed, 0))
    total_steps = steps_per_epoch * cfg.epochs

    # Model, optimizer, schedule.
    frontend = LogMel(cfg.features)
    model = CTCModel(cfg.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, cfg))
    ctc_loss = torch.nn.CTCLoss(blank=tokenizer.blank_id, zero_infinity=True)
    augment_rng = torch.Generator().manual_seed(cfg.seed)
    state: dict[str, Any] = {"epoch": 0, "batch": 0, "step": 0, "best_score": float("inf"), "skipped_batches": 0}

    checkpoint_path = out / CHECKPOINT_NAME
    # weights_only: a checkpoint is tensors and plain containers; nothing in it can run code.
    saved = torch.load(checkpoint_path, map_location="cpu", weights_only=True) if cfg.resume and checkpoint_path.exists() else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"]["torch"])
        augment_rng.set_state(saved["rng"]["augment"])
        state = saved["state"]
        log(f"resuming from {checkpoint_path}: epoch {state['epoch'] + 1}, batch {state['batch']}, step {state['step']}")
    elif cfg.init_from:
        initialize_from(model, cfg)
    else:
        log("computing feature normalization statistics")
        model.set_normalization(*compute_stats(train_split, cfg, frontend))
    model.to(device)
    frontend.to(device)
    if saved is not None and device.type == "cuda" and "cuda" in saved["rng"]:
        torch.cuda.set_rng_state(saved["rng"]["cuda"], device)
    log(f"model: {sum(p.numel() for p in model.parameters()):,} parameters on {device}; {steps_per_epoch} steps per epoch")

    def checkpoint() -> None:
        rng = {"torch": torch.get_rng_state(), "augment": augment_rng.get_state()}
        if device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(device)
        save_checkpoint(
            checkpoint_path,
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng, "state": state},
        )

    def save_model(name: str, extra: dict[str, Any]) -> Path:
        provenance = {
            "asr_version": __version__,
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "train_manifests": cfg.data.train_manifests,
            "train_hours": round(train_split.hours, 3),
            "epochs_completed": state["epoch"],
            "steps": state["step"],
            "device": str(device),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "train_config": to_dict(cfg),
            **extra,
        }
        model_config = ModelDirConfig(model=cfg.model, features=cfg.features, alphabet=cfg.data.alphabet, provenance=provenance)
        return save_model_dir(out / name, model, model_config)

    log_path = out / "train_log.csv"
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    model.train()
    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        batches = make_batches(durations, cfg.data.batch_size, cfg.data.max_batch_seconds, cfg.seed, epoch)
        # The loader gets its own generator: drawing its worker seed from the global RNG would
        # make a resumed run's dropout masks differ from an uninterrupted run's.
        loader_rng = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        loader = DataLoader(dataset, batch_sampler=batches[state["batch"] :], collate_fn=collate, num_workers=cfg.data.num_workers, generator=loader_rng)
        started = time.time()
        losses: list[float] = []
        utterances = 0
        audio_seconds = 0.0
        progress = tqdm(loader, total=len(batches) - state["batch"], desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, file=sys.stderr)
        batch: Batch
        for batch in progress:
            if batch.indices:
                waves = batch.waveforms.to(device, non_blocking=True)
                if cfg.augment.gain_db:
                    # Recordings come at any level: a random gain keeps the model from tying words to loudness.
                    gain_db = (torch.rand(len(batch.indices), 1, generator=augment_rng) * 2 - 1) * cfg.augment.gain_db
                    waves = waves * (10 ** (gain_db / 20)).to(device)
                feats = frontend(waves)
                feat_lengths = frontend.lengths(batch.sample_lengths.to(device))
                if cfg.spec_augment.freq_masks or cfg.spec_augment.time_masks:
                    feats = spec_augment(feats, feat_lengths.cpu(), model.feature_mean, cfg.spec_augment, augment_rng)
                with autocast:
                    log_probs, out_lengths = model(feats, feat_lengths)
                # CTCLoss wants (frames, batch, vocab) and runs in fp32.
                loss = ctc_loss(log_probs.float().transpose(0, 1), batch.targets.to(device), out_lengths, batch.target_lengths.to(device))
                optimizer.zero_grad(set_to_none=True)
                if torch.isfinite(loss):
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                    optimizer.step()
                    losses.append(float(loss.detach()))
                else:
                    state["skipped_batches"] += 1
            utterances += len(batch.indices)
            audio_seconds += float(batch.sample_lengths.sum()) / cfg.features.sample_rate
            scheduler.step()
            state["step"] += 1
            state["batch"] += 1
            if losses:
                elapsed = max(time.time() - started, 1e-9)
                progress.set_postfix(
                    loss=f"{losses[-1]:.3f}",
                    lr=f"{scheduler.get_last_lr()[0]:.2e}",
                    utt_s=f"{utterances / elapsed:.1f}",
                    audio_x=f"{audio_seconds / elapsed:.0f}",
                )
            if state["step"] % cfg.log_every_steps == 0 and losses:
                log(f"epoch {epoch + 1} step {state['step']} loss {sum(losses[-cfg.log_every_steps :]) / len(losses[-cfg.log_every_steps :]):.4f}")
            if state["step"] % cfg.checkpoint_every_steps == 0:
                checkpoint()
            if cfg.max_steps and state["step"] >= cfg.max_steps:
                break
        progress.close()
        if cfg.max_steps and state["step"] >= cfg.max_steps and state["batch"] < len(batches):
            checkpoint()
            log(f"stopped at step {state['step']} (max_steps); run again to continue")
            return out / "best"

        # End of epoch: validate, keep the best, checkpoint the position at the next epoch.
        wer, cer = evaluate(model, frontend, valid_split, tokenizer, cfg, device) if valid_split else (float("nan"), float("nan"))
        mean_loss = sum(losses) / len(losses) if losses else float("nan")
        state["epoch"] += 1
        state["batch"] = 0
        save_model("last", {"valid_wer": wer, "valid_cer": cer})
        if cfg.keep_epoch_models:
            # The last few epochs' weights, for averaging (asr average OUTPUT_DIR/epochs/*).
            save_model(f"epochs/epoch-{state['epoch']:03d}", {"valid_wer": wer, "valid_cer": cer})
            for old in sorted((out / "epochs").glob("epoch-*"))[: -cfg.keep_epoch_models]:
                shutil.rmtree(old)
        score = wer if cfg.best_metric == "wer" else cer
        improved = valid_split is None or score < state["best_score"]
        state["epochs_without_improvement"] = 0 if improved else state.get("epochs_without_improvement", 0) + 1
        if valid_split is None or score <= state["best_score"]:  # on a tie, the later epoch
            state["best_score"] = score if valid_split else state["best_score"]
            save_model("best", {"valid_wer": wer, "valid_cer": cer})
        checkpoint()
        seconds = max(time.time() - started, 1e-9)
        speed = f"{utterances / seconds:.1f} utt/s, {audio_seconds / seconds:.0f}x realtime"
        log(f"epoch {epoch + 1}: loss {mean_loss:.4f}, valid WER {wer:.4f} CER {cer:.4f}, {seconds:.0f} s ({speed} incl. validation)")
        new_log = not log_path.exists()
        with log_path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new_log:
                writer.writerow(["epoch", "step", "train_loss", "valid_wer", "valid_cer", "lr", "seconds", "skipped_batches"])
            writer.writerow(
                [
                    epoch + 1,
                    state["step"],
                    f"{mean_loss:.5f}",
                    f"{wer:.5f}",
                    f"{cer:.5f}",
                    f"{scheduler.get_last_lr()[0]:.3e}",
                    f"{time.time() - started:.1f}",
                    state["skipped_batches"],
                ]
            )
        if cfg.early_stopping_epochs and state["epochs_without_improvement"] >= cfg.early_stopping_epochs:
            log(f"early stopping: no better validation {cfg.best_metric} for {cfg.early_stopping_epochs} epochs")
            break
    return out / "best"
