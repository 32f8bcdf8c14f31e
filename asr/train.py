"""Training a CTC model, readable top to bottom:

config -> (process group) -> manifests -> normalization stats -> model/optimizer -> (resume) ->
epochs of [batches -> features -> SpecAugment -> CTC loss -> (accumulate) -> step -> checkpoint]
-> validation -> best/.

Checkpoints hold the model, optimizer, scheduler, gradient scaler, every process's RNG states and
the position inside the epoch, and are written atomically (asr.checkpoint), so a run killed at
any point continues where it stopped and ends with the weights an uninterrupted run would have.
Under torchrun each process trains a DistributedDataParallel replica on its share of the batches
(asr.distributed); only rank 0 validates and writes logs, checkpoints and models."""

from __future__ import annotations

import contextlib
import itertools
import math
import platform
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from asr import __version__
from asr.augment import WaveformAugmenter, spec_augment
from asr.checkpoint import CHECKPOINT_NAME, load_checkpoint, remove_stale_temporaries, save_checkpoint
from asr.config import to_dict
from asr.data import Batch, ManifestEntry, SpeechDataset, collate, iter_manifest
from asr.decoding import greedy_text
from asr.distributed import DistContext, broadcast_from_main, gather_objects, init_distributed, shutdown, weights_digest
from asr.errors import CheckpointError, ConfigError, ManifestError
from asr.feature_cache import FeatureCache
from asr.features import FeatureStats, LogMel
from asr.model import CTCModel
from asr.model_dir import ModelDirConfig, load_model_dir, save_model_dir
from asr.sampler import epoch_batches, padding_fraction
from asr.tokenizer import CharTokenizer, normalize_text
from asr.train_config import TrainConfig
from asr.train_log import TrainLogger, log

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
MISSING_AUDIO_SHOWN = 5  # missing audio files named in the log, per split


@dataclass
class Split:
    entries: list[ManifestEntry]
    targets: list[list[int]]

    @property
    def hours(self) -> float:
        return sum(e.duration for e in self.entries) / 3600


def load_split(manifests: list[str], tokenizer: CharTokenizer, config: TrainConfig, name: str, say: Callable[[str], None] = log) -> Split:
    """Read manifests, skipping (and reporting) broken lines, missing audio files, utterances out
    of the duration range, empty transcripts, and those whose labels cannot fit the output frames."""
    entries: list[ManifestEntry] = []
    targets: list[list[int]] = []
    skipped = dict.fromkeys(
        ["broken line", "audio file missing", "duration out of range", "empty text", "text too long for the audio", "labels longer than frames"], 0
    )
    tokenizer.oov_counts.clear()
    for manifest in manifests:
        for item in iter_manifest(manifest):
            if isinstance(item, ManifestError):
                say(f"skipping {item}")
                skipped["broken line"] += 1
                continue
            if not item.audio_filepath.is_file():
                if skipped["audio file missing"] < MISSING_AUDIO_SHOWN:
                    say(f"skipping {manifest}: audio file not found: {item.audio_filepath}")
                skipped["audio file missing"] += 1
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
    say(f"{name}: {len(entries)} utterances, {split.hours:.2f} h" + (f"; skipped {report}" if report else ""))
    if tokenizer.oov_counts:
        common = ", ".join(f"{ch!r}x{n}" for ch, n in tokenizer.oov_counts.most_common(10))
        say(f"{name}: characters outside the alphabet were left out of the targets: {common}")
    return split


def batch_features(batch: Batch, frontend: LogMel, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel features of a batch on the training device: from the feature cache when the
    workers read them there, else computed here from waveforms (on the GPU when training on one,
    which keeps the workers' share of the work to decoding audio)."""
    if batch.features is not None and batch.feature_lengths is not None:
        return batch.features.to(device, non_blocking=True), batch.feature_lengths.to(device)
    return frontend(batch.waveforms.to(device, non_blocking=True)), frontend.lengths(batch.sample_lengths.to(device))


def compute_stats(split: Split, config: TrainConfig, frontend: LogMel, cache: FeatureCache | None, device: torch.device) -> tuple[list[float], list[float]]:
    """Per-band mean/std of log-mel features over (a seeded sample of) the training set."""
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(split.entries), generator=generator)[: config.data.stats_utterances].tolist()
    dataset = SpeechDataset([split.entries[i] for i in order], [split.targets[i] for i in order], config.features.sample_rate, feature_cache=cache)
    stats = FeatureStats(config.features.n_mels)
    loader = DataLoader(dataset, batch_size=1, num_workers=config.data.num_workers, collate_fn=collate, generator=torch.Generator())
    with torch.no_grad():
        for batch in loader:
            if batch.indices:
                stats.update(batch_features(batch, frontend, device)[0][0])
    return stats.mean_std()


def lr_factor(step: int, total_steps: int, cfg: TrainConfig) -> float:
    warmup = cfg.optim.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    if cfg.optim.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return cfg.optim.min_lr_ratio + (1 - cfg.optim.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def evaluate(
    model: CTCModel, frontend: LogMel, split: Split, tokenizer: CharTokenizer, cfg: TrainConfig, device: torch.device, cache: FeatureCache | None = None
) -> tuple[float, float]:
    """Greedy WER and CER on a validation split, references normalized like the targets.
    The dataset has no augmenter: validation always sees the audio as it is."""
    dataset = SpeechDataset(split.entries, split.targets, cfg.features.sample_rate, feature_cache=cache)
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size, num_workers=cfg.data.num_workers, collate_fn=collate, generator=torch.Generator())
    refs: list[str] = []
    hyps: list[str] = []
    model.eval()
    with torch.inference_mode():
        for batch in loader:
            if not batch.indices:
                continue
            feats, feat_lengths = batch_features(batch, frontend, device)
            log_probs, lengths = model(feats, feat_lengths)
            for row, index in enumerate(batch.indices):
                hyps.append(greedy_text(log_probs[row, : int(lengths[row])], tokenizer))
                refs.append(normalize_text(split.entries[index].text))
    model.train()
    if not refs:
        return float("nan"), float("nan")
    return float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps))


def initialize_from(model: CTCModel, cfg: TrainConfig, say: Callable[[str], None]) -> None:
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
    say(f"initialized from {cfg.init_from}" + (" (new alphabet: output layer re-initialized)" if new_vocabulary else ""))


def placeholder_loss(net: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.Tensor:
    """A zero loss through the whole network, for a process whose batch had no readable audio:
    under DDP every process must run backward for the gradients to be averaged."""
    frames = 4 * cfg.model.subsampling
    log_probs, _ = net(torch.zeros(1, frames, cfg.features.n_mels, device=device), torch.tensor([frames], device=device))
    zero: torch.Tensor = log_probs.sum() * 0.0
    return zero


def train(cfg: TrainConfig) -> Path:
    """Train as configured; returns the directory of the best model. Under torchrun, joins the
    process group from the environment and leaves it at the end."""
    ctx, device = init_distributed(cfg.device)
    # Late in training many LSTM gradients are subnormal floats, which x86 CPUs handle in
    # microcode: one backward pass took minutes. Flushing them to zero costs no accuracy. The
    # flag is per thread: set before the first parallel op, torch's worker threads inherit it.
    # It is switched back off afterwards, unless it was on before.
    was_flushing = bool(np.float32(1e-39) * np.float32(1.0) == 0.0)
    torch.set_flush_denormal(True)
    try:
        return _train(cfg, ctx, device)
    finally:
        shutdown(ctx)
        if not was_flushing:
            torch.set_flush_denormal(False)


def _train(cfg: TrainConfig, ctx: DistContext, device: torch.device) -> Path:
    out = Path(cfg.output_dir)
    main = ctx.is_main
    say: Callable[[str], None] = log if main else (lambda message: None)
    checkpoint_path = out / CHECKPOINT_NAME
    if main:
        out.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale_temporaries(checkpoint_path):
            say(f"removed {stale.name}, a checkpoint half-written by a killed run")
    # Rank 0 draws what a single process would; DDP copies its initial weights to the others.
    torch.manual_seed(cfg.seed + ctx.rank)
    tokenizer = CharTokenizer(cfg.data.alphabet)
    if cfg.model.vocab_size != tokenizer.vocab_size:
        raise ConfigError(f"model.vocab_size {cfg.model.vocab_size} does not match the alphabet ({tokenizer.vocab_size} with blank)")

    # Data: every process reads the manifests and makes the same batches, then takes its share.
    train_split = load_split(cfg.data.train_manifests, tokenizer, cfg, "train", say)
    valid_split = load_split(cfg.data.valid_manifests, tokenizer, cfg, "valid", say) if cfg.data.valid_manifests and main else None
    if not train_split.entries:
        raise ConfigError("no usable training utterances")
    cache = FeatureCache(cfg.data.feature_cache_dir, cfg.features) if cfg.data.feature_cache_dir else None
    augmenter = WaveformAugmenter(cfg.augment, cfg.features.sample_rate) if cfg.augment.enabled else None
    dataset = SpeechDataset(train_split.entries, train_split.targets, cfg.features.sample_rate, augmenter, cache, cfg.seed)
    durations = [e.duration for e in train_split.entries]

    def batches_for(epoch: int) -> list[list[int]]:
        data = cfg.data
        return epoch_batches(durations, data.batch_size, data.max_batch_seconds, cfg.seed, epoch, data.sortagrad, ctx.rank, ctx.world_size)

    steps_per_epoch = math.ceil(len(batches_for(1)) / cfg.accum_steps)
    total_steps = steps_per_epoch * cfg.epochs

    # Model, optimizer, schedule, gradient scaler (fp16 only).
    frontend = LogMel(cfg.features)
    model = CTCModel(cfg.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, cfg))
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
    ctc_loss = torch.nn.CTCLoss(blank=tokenizer.blank_id, zero_infinity=True)
    augment_rng = torch.Generator().manual_seed(cfg.seed + ctx.rank)  # SpecAugment's masks
    state: dict[str, Any] = {"epoch": 0, "batch": 0, "step": 0, "best_score": float("inf"), "skipped_batches": 0, "skipped_updates": 0, "unreadable_audio": 0}

    saved = load_checkpoint(checkpoint_path) if cfg.resume else None
    rng_state: dict[str, torch.Tensor] | None = None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        per_rank = saved["rng"] if isinstance(saved["rng"], list) else [saved["rng"]]
        if len(per_rank) != ctx.world_size:
            say(f"warning: the checkpoint was written by {len(per_rank)} process(es), not {ctx.world_size}: the resumed run is not bit-exact")
        rng_state = per_rank[ctx.rank % len(per_rank)]
        torch.set_rng_state(rng_state["torch"])
        augment_rng.set_state(rng_state["augment"])
        state.update(saved["state"])
        say(f"resuming from {checkpoint_path}: epoch {state['epoch'] + 1}, batch {state['batch']}, step {state['step']}")
    elif cfg.init_from:
        initialize_from(model, cfg, say)
    elif main:  # other processes get the statistics (buffers) from rank 0 when DDP starts
        say("computing feature normalization statistics")
        model.set_normalization(*compute_stats(train_split, cfg, frontend, cache, torch.device("cpu")))
    model.to(device)
    frontend.to(device)
    if rng_state is not None and device.type == "cuda" and "cuda" in rng_state:
        torch.cuda.set_rng_state(rng_state["cuda"], device)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) if ctx.enabled else None
    net: torch.nn.Module = ddp if ddp is not None else model
    processes = f" x {ctx.world_size} processes" if ctx.enabled else ""
    say(f"model: {sum(p.numel() for p in model.parameters()):,} parameters on {device}{processes}; {steps_per_epoch} steps per epoch")

    def checkpoint() -> None:
        rng = {"torch": torch.get_rng_state(), "augment": augment_rng.get_state()}
        if device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(device)
        per_rank = gather_objects(rng, ctx)
        error = None
        if main:
            contents = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
            try:
                save_checkpoint(checkpoint_path, {**contents, "scaler": scaler.state_dict(), "rng": per_rank, "state": state})
            except CheckpointError as exc:
                error = str(exc)
        # Every process stops when rank 0 cannot write: training on would be work that cannot be kept.
        error = broadcast_from_main(error, ctx)
        if error:
            raise CheckpointError(error)

    def save_model(name: str, extra: dict[str, Any]) -> Path:
        provenance = {
            "asr_version": __version__,
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "train_manifests": cfg.data.train_manifests,
            "train_hours": round(train_split.hours, 3),
            "epochs_completed": state["epoch"],
            "steps": state["step"],
            "device": str(device),
            "processes": ctx.world_size,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "train_config": to_dict(cfg),
            **extra,
        }
        model_config = ModelDirConfig(model=cfg.model, features=cfg.features, alphabet=cfg.data.alphabet, provenance=provenance)
        return save_model_dir(out / name, model, model_config)

    logger = TrainLogger(out, main, cfg.tensorboard, state["epoch"], state["step"])
    autocast = torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES.get(cfg.precision, torch.float32), enabled=cfg.precision in AUTOCAST_DTYPES)
    # The schedule follows optimizer steps also when one is skipped (fp16 overflow, non-finite
    # gradients), which makes PyTorch warn that the scheduler stepped first: expected here.
    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`")
    # oneDNN has no fp16 LSTM for CPUs; without it PyTorch's own kernel runs the LSTM in fp32.
    cpu_fp16 = device.type == "cpu" and cfg.precision == "fp16"

    def cpu_fp16_fallback() -> contextlib.AbstractContextManager[Any]:
        return torch.backends.mkldnn.flags(enabled=False) if cpu_fp16 else contextlib.nullcontext()

    model.train()
    stop = False
    while state["epoch"] < cfg.epochs and not stop:
        epoch = state["epoch"]
        batches = batches_for(epoch)
        dataset.set_epoch(epoch)  # seeds waveform augmentation; set before the workers copy the dataset
        # The loader gets its own generator: drawing its worker seed from the global RNG would
        # make a resumed run's dropout masks differ from an uninterrupted run's.
        loader_rng = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        loader = DataLoader(
            dataset,
            batch_sampler=batches[state["batch"] :],
            collate_fn=collate,
            num_workers=cfg.data.num_workers,
            generator=loader_rng,
            pin_memory=device.type == "cuda",
        )
        started = time.time()
        losses: list[float] = []
        utterances = 0
        audio_seconds = 0.0
        progress = tqdm(loader, total=len(batches) - state["batch"], desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, disable=not main)
        batch: Batch
        for batch in progress:
            # Gradients of accum_steps batches are summed; the last batch of the epoch closes a group early.
            closes_group = (state["batch"] + 1) % cfg.accum_steps == 0 or state["batch"] + 1 == len(batches)
            # Only the batch that closes a group averages gradients across processes.
            sync = contextlib.nullcontext() if ddp is None or closes_group else ddp.no_sync()
            for reason in batch.failures:
                log(f"skipping unreadable audio: {reason}")
            state["unreadable_audio"] += batch.failed
            with sync:
                if batch.indices:
                    feats, feat_lengths = batch_features(batch, frontend, device)
                    if cfg.spec_augment.enabled:
                        feats = spec_augment(feats, feat_lengths.cpu(), model.feature_mean, cfg.spec_augment, augment_rng)
                    with autocast, cpu_fp16_fallback():
                        log_probs, out_lengths = net(feats, feat_lengths)
                    # CTCLoss wants (frames, batch, vocab) and runs in fp32.
                    loss = ctc_loss(log_probs.float().transpose(0, 1), batch.targets.to(device), out_lengths, batch.target_lengths.to(device))
                    finite = bool(torch.isfinite(loss))
                    if finite:
                        losses.append(float(loss.detach()))
                    else:
                        state["skipped_batches"] += 1
                        log(f"skipping a batch with a non-finite loss (epoch {epoch + 1}, batch {state['batch'] + 1}); {state['skipped_batches']} so far")
                    # Under DDP a group's last batch must run backward on every process; a
                    # non-finite loss then spoils every process's gradients, and all skip the update.
                    if finite or (ddp is not None and closes_group):
                        scaler.scale(loss / cfg.accum_steps).backward()
                elif ddp is not None and closes_group:
                    placeholder_loss(net, cfg, device).backward()  # type: ignore[no-untyped-call]
            if closes_group:
                if any(p.grad is not None for p in model.parameters()):
                    scaler.unscale_(optimizer)
                    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                    if torch.isfinite(norm):
                        scaler.step(optimizer)
                    else:  # fp16 overflow (the scaler lowers its scale) or a bad batch on some process
                        state["skipped_updates"] += 1
                    scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                state["step"] += 1
            state["batch"] += 1
            utterances += len(batch.indices)
            audio_seconds += float(batch.sample_lengths.sum()) / cfg.features.sample_rate
            if losses:
                elapsed = max(time.time() - started, 1e-9)
                progress.set_postfix(
                    loss=f"{losses[-1]:.3f}",
                    lr=f"{scheduler.get_last_lr()[0]:.2e}",
                    utt_s=f"{utterances / elapsed:.1f}",
                    audio_x=f"{audio_seconds / elapsed:.0f}",
                )
            if not closes_group:
                continue
            if state["step"] % cfg.log_every_steps == 0 and losses:
                recent = losses[-cfg.log_every_steps * cfg.accum_steps :]
                say(f"epoch {epoch + 1} step {state['step']} loss {sum(recent) / len(recent):.4f}")
                rate = audio_seconds / max(time.time() - started, 1e-9)
                logger.scalars(
                    state["step"], {"train/loss": sum(recent) / len(recent), "train/lr": float(scheduler.get_last_lr()[0]), "train/audio_x_realtime": rate}
                )
            if state["step"] % cfg.checkpoint_every_steps == 0:
                checkpoint()
            if cfg.max_steps and state["step"] >= cfg.max_steps:
                break
        progress.close()
        if cfg.max_steps and state["step"] >= cfg.max_steps and state["batch"] < len(batches):
            checkpoint()
            logger.close()
            say(f"stopped at step {state['step']} (max_steps); run again to continue")
            return out / "best"

        # End of epoch: validate, keep the best, log, checkpoint the position at the next epoch.
        wer, cer = evaluate(model, frontend, valid_split, tokenizer, cfg, device, cache) if valid_split else (float("nan"), float("nan"))
        mean_loss = sum(losses) / len(losses) if losses else float("nan")
        state["epoch"] += 1
        state["batch"] = 0
        score = wer if cfg.best_metric == "wer" else cer
        improved = valid_split is None or score < state["best_score"]
        state["epochs_without_improvement"] = 0 if improved else state.get("epochs_without_improvement", 0) + 1
        if main:
            save_model("last", {"valid_wer": wer, "valid_cer": cer})
            if cfg.keep_epoch_models:
                # The last few epochs' weights, for averaging (asr average OUTPUT_DIR/epochs/*).
                save_model(f"epochs/epoch-{state['epoch']:03d}", {"valid_wer": wer, "valid_cer": cer})
                for old in sorted((out / "epochs").glob("epoch-*"))[: -cfg.keep_epoch_models]:
                    shutil.rmtree(old)
            if valid_split is None or score <= state["best_score"]:  # on a tie, the later epoch
                state["best_score"] = score if valid_split else state["best_score"]
                save_model("best", {"valid_wer": wer, "valid_cer": cer})
        seconds = max(time.time() - started, 1e-9)
        speed = f"{utterances / seconds:.1f} utt/s, {audio_seconds / seconds:.0f}x realtime" + (" per process" if ctx.enabled else "")
        problems = f", {state['skipped_batches']} non-finite batches skipped" if state["skipped_batches"] else ""
        say(f"epoch {epoch + 1}: loss {mean_loss:.4f}, valid WER {wer:.4f} CER {cer:.4f}, {seconds:.0f} s ({speed} incl. validation){problems}")
        # The row goes in before the checkpoint: a run killed in between redoes this epoch's end,
        # and the logger drops rows past the checkpoint's epoch when it starts again.
        logger.epoch(
            {
                "epoch": epoch + 1,
                "step": state["step"],
                "train_loss": f"{mean_loss:.5f}",
                "valid_wer": f"{wer:.5f}",
                "valid_cer": f"{cer:.5f}",
                "lr": f"{scheduler.get_last_lr()[0]:.3e}",
                "seconds": f"{seconds:.1f}",
                "skipped_batches": state["skipped_batches"],
                "skipped_updates": state["skipped_updates"],
                "unreadable_audio": state["unreadable_audio"],
                "padding": f"{padding_fraction(batches, durations):.4f}",
            }
        )
        checkpoint()
        early_stop = bool(cfg.early_stopping_epochs and state["epochs_without_improvement"] >= cfg.early_stopping_epochs)
        stop = bool(broadcast_from_main(early_stop, ctx))
        if stop:
            say(f"early stopping: no better validation {cfg.best_metric} for {cfg.early_stopping_epochs} epochs")
    logger.close()
    if ctx.enabled:
        digests = gather_objects(weights_digest(model), ctx)
        if len(set(digests)) == 1:
            say(f"all {ctx.world_size} processes ended with identical weights")
        else:
            say(f"warning: the processes' weights differ at the end of training ({len(set(digests))} distinct)")
    return out / "best"
