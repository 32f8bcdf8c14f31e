"""Training a CTC model. `train(cfg)` sets up the process (threads, process group, subnormal
floats) and runs a Trainer, which reads top to bottom:

  __init__    manifests -> dataset -> model, optimizer, schedule -> resume or initialize
  run         epochs until done, max_steps or early stopping
  run_epoch   batches -> step (features, SpecAugment, forward, CTC loss, backward)
              -> update every accum_steps batches (clip, optimizer, schedule) -> checkpoint
  end_epoch   validation -> last/, best/, epochs/ -> log row -> checkpoint

Checkpoints hold the model, optimizer, scheduler, gradient scaler, every process's RNG states and
the TrainState (the position inside the epoch), and are written atomically (asr.checkpoint), so
a run killed at any point continues where it stopped and ends with the weights an uninterrupted
run would have. Under torchrun each process trains a DistributedDataParallel replica on its share
of the batches (asr.distributed); only rank 0 validates and writes logs, checkpoints and models.
TrainHooks are the seams tests and benchmarks use."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from asr import __version__
from asr.augment import WaveformAugmenter, spec_augment
from asr.checkpoint import CHECKPOINT_NAME, load_checkpoint, remove_stale_temporaries, save_checkpoint
from asr.config import to_dict
from asr.data import Batch, SpeechDataset, collate
from asr.distributed import DistContext, broadcast_from_main, gather_objects, init_distributed, shutdown, weights_digest
from asr.errors import CheckpointError, ConfigError
from asr.feature_cache import FeatureCache
from asr.features import LogMel
from asr.model import CTCModel
from asr.model_dir import ModelDirConfig, load_model_dir, save_model_dir
from asr.resume import load_resumed_weights
from asr.sampler import epoch_batches, padding_fraction
from asr.tokenizer import CharTokenizer
from asr.train_config import TrainConfig
from asr.train_data import Split, batch_features, compute_stats, load_split, validate
from asr.train_log import TrainLogger, log

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class TrainState:
    """Where training stands; a checkpoint holds it (as a dict) beside the weights."""

    epoch: int = 0  # completed epochs
    batch: int = 0  # batches done in the current epoch
    step: int = 0  # optimizer steps in all
    best_score: float = math.inf  # best validation WER or CER so far
    epochs_without_improvement: int = 0
    skipped_batches: int = 0  # non-finite losses
    skipped_updates: int = 0  # non-finite gradients (fp16 overflow)
    unreadable_audio: int = 0

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> TrainState:
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in saved.items() if name in known})


@dataclass
class TrainHooks:
    """Seams for tests and benchmarks; by default training runs without them."""

    model_ready: Callable[[CTCModel], None] | None = None  # the model, once built and initialized (before DDP)
    batch_ready: Callable[[Batch], None] | None = None  # each training batch, as it reaches the step
    loss: Loss | None = None  # replaces the CTC loss: (log_probs (frames, batch, vocab), targets, lengths, target lengths)
    progress_bar: bool = True


@dataclass
class EpochMeter:
    """Losses and throughput of the epoch in progress (not checkpointed: a resumed epoch restarts them)."""

    started: float = field(default_factory=time.time)
    losses: list[float] = field(default_factory=list)
    utterances: int = 0
    audio_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return max(time.time() - self.started, 1e-9)

    @property
    def mean_loss(self) -> float:
        return sum(self.losses) / len(self.losses) if self.losses else float("nan")


def resolve_precision(cfg: TrainConfig, device: torch.device) -> str:
    """'auto' is bf16 on a CPU with bfloat16 instructions (AVX512-BF16 or AMX: 1.4x faster
    steps, the same loss curve; recipes/librispeech/RESULTS.md), fp32 elsewhere."""
    if cfg.precision != "auto":
        return cfg.precision
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


def cpu_has_bf16() -> bool:
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check is not None and check() for check in checks)


def training_threads(cfg: TrainConfig, ctx: DistContext) -> int:
    """Intra-op threads of one training process: `threads`; else OMP_NUM_THREADS when set; else
    the CPUs this process may use, shared among the processes of this machine, less one for each
    DataLoader worker (which decodes and augments audio on a core of its own)."""
    if cfg.threads:
        return cfg.threads
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", str(ctx.world_size)))
    return max(1, cpus // max(1, local_processes) - cfg.data.num_workers)


def lr_factor(step: int, total_steps: int, cfg: TrainConfig) -> float:
    warmup = cfg.optim.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    if cfg.optim.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return cfg.optim.min_lr_ratio + (1 - cfg.optim.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


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


def train(cfg: TrainConfig, hooks: TrainHooks | None = None) -> Path:
    """Train as configured; returns the directory of the best model. Under torchrun, joins the
    process group from the environment and leaves it at the end."""
    ctx, device = init_distributed(cfg.device)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(training_threads(cfg, ctx))
    # Late in training many LSTM gradients are subnormal floats, which x86 CPUs handle in
    # microcode: one backward pass took minutes. Flushing them to zero costs no accuracy. The
    # flag is per thread: set before the first parallel op, torch's worker threads inherit it.
    # It is switched back off afterwards, unless it was on before.
    was_flushing = bool(np.float32(1e-39) * np.float32(1.0) == 0.0)
    torch.set_flush_denormal(True)
    try:
        return Trainer(cfg, ctx, device, hooks or TrainHooks()).run()
    finally:
        shutdown(ctx)
        torch.set_num_threads(threads_before)
        if not was_flushing:
            torch.set_flush_denormal(False)


class Trainer:
    def __init__(self, cfg: TrainConfig, ctx: DistContext, device: torch.device, hooks: TrainHooks) -> None:
        self.cfg, self.ctx, self.device, self.hooks = cfg, ctx, device, hooks
        self.out = Path(cfg.output_dir)
        self.say: Callable[[str], None] = log if ctx.is_main else (lambda message: None)
        self.checkpoint_path = self.out / CHECKPOINT_NAME
        if ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            for stale in remove_stale_temporaries(self.checkpoint_path):
                self.say(f"removed {stale.name}, a checkpoint half-written by a killed run")
        # Rank 0 draws what a single process would; DDP copies its initial weights to the others.
        torch.manual_seed(cfg.seed + ctx.rank)
        self.tokenizer = CharTokenizer(cfg.data.alphabet)
        if cfg.model.vocab_size != self.tokenizer.vocab_size:
            raise ConfigError(f"model.vocab_size {cfg.model.vocab_size} does not match the alphabet ({self.tokenizer.vocab_size} with blank)")

        # Data: every process reads the manifests and makes the same batches, then takes its share.
        self.train_split = load_split(cfg.data.train_manifests, self.tokenizer, cfg, "train", self.say)
        self.valid_split: Split | None = None
        if cfg.data.valid_manifests and ctx.is_main:
            self.valid_split = load_split(cfg.data.valid_manifests, self.tokenizer, cfg, "valid", self.say)
        if not self.train_split.entries:
            raise ConfigError("no usable training utterances")
        self.cache = FeatureCache(cfg.data.feature_cache_dir, cfg.features) if cfg.data.feature_cache_dir else None
        augmenter = WaveformAugmenter(cfg.augment, cfg.features.sample_rate) if cfg.augment.enabled else None
        self.dataset = SpeechDataset(self.train_split.entries, self.train_split.targets, cfg.features.sample_rate, augmenter, self.cache, cfg.seed)
        self.durations = [e.duration for e in self.train_split.entries]
        self.steps_per_epoch = math.ceil(len(self.batches_for(1)) / cfg.accum_steps)
        total_steps = self.steps_per_epoch * cfg.epochs

        # Model, optimizer, schedule, gradient scaler (fp16 only), loss, precision.
        self.frontend = LogMel(cfg.features)
        self.model = CTCModel(cfg.model)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: lr_factor(step, total_steps, cfg))
        self.precision = resolve_precision(cfg, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.precision == "fp16")
        self.loss: Loss = hooks.loss or torch.nn.CTCLoss(blank=self.tokenizer.blank_id, zero_infinity=True)
        self.augment_rng = torch.Generator().manual_seed(cfg.seed + ctx.rank)  # SpecAugment's masks
        self.state = TrainState()
        self.resume_or_initialize()
        if hooks.model_ready is not None:
            hooks.model_ready(self.model)
        self.model.to(device)
        self.frontend.to(device)
        self.ddp = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None) if ctx.enabled else None
        self.net: torch.nn.Module = self.ddp if self.ddp is not None else self.model
        processes = f" x {ctx.world_size} processes" if ctx.enabled else ""
        threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
        parameters = sum(p.numel() for p in self.model.parameters())
        self.say(f"model: {parameters:,} parameters on {device}{processes}{threads}, {self.precision}; {self.steps_per_epoch} steps per epoch")
        self.logger = TrainLogger(self.out, ctx.is_main, cfg.tensorboard, self.state.epoch, self.state.step)
        # The schedule follows optimizer steps also when one is skipped (fp16 overflow, non-finite
        # gradients), which makes PyTorch warn that the scheduler stepped first: expected here.
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`")

    def batches_for(self, epoch: int) -> list[list[int]]:
        data = self.cfg.data
        return epoch_batches(self.durations, data.batch_size, data.max_batch_seconds, self.cfg.seed, epoch, data.sortagrad, self.ctx.rank, self.ctx.world_size)

    def resume_or_initialize(self) -> None:
        saved = load_checkpoint(self.checkpoint_path) if self.cfg.resume else None
        if saved is not None:
            load_resumed_weights(self.model, saved["model"], self.checkpoint_path)
            self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
            if saved.get("scaler"):
                self.scaler.load_state_dict(saved["scaler"])
            per_rank = saved["rng"] if isinstance(saved["rng"], list) else [saved["rng"]]
            if len(per_rank) != self.ctx.world_size:
                self.say(f"warning: the checkpoint was written by {len(per_rank)} process(es), not {self.ctx.world_size}: the resumed run is not bit-exact")
            rng_state = per_rank[self.ctx.rank % len(per_rank)]
            torch.set_rng_state(rng_state["torch"])
            self.augment_rng.set_state(rng_state["augment"])
            if self.device.type == "cuda" and "cuda" in rng_state:
                torch.cuda.set_rng_state(rng_state["cuda"], self.device)
            self.state = TrainState.from_checkpoint(saved["state"])
            self.say(f"resuming from {self.checkpoint_path}: epoch {self.state.epoch + 1}, batch {self.state.batch}, step {self.state.step}")
        elif self.cfg.init_from:
            initialize_from(self.model, self.cfg, self.say)
        elif self.ctx.is_main:  # other processes get the statistics (buffers) from rank 0 when DDP starts
            self.say("computing feature normalization statistics")
            self.model.set_normalization(*compute_stats(self.train_split, self.cfg, self.frontend, self.cache, torch.device("cpu")))

    def run(self) -> Path:
        while self.state.epoch < self.cfg.epochs:
            if not self.run_epoch():
                self.checkpoint()
                self.logger.close()
                self.say(f"stopped at step {self.state.step} (max_steps); run again to continue")
                return self.out / "best"
            if self.end_epoch():
                break
        self.logger.close()
        self.compare_replicas()
        return self.out / "best"

    def run_epoch(self) -> bool:
        """Train on the rest of the current epoch's batches; False when max_steps stopped it early."""
        cfg, state = self.cfg, self.state
        batches = self.batches_for(state.epoch)
        self.dataset.set_epoch(state.epoch)  # seeds waveform augmentation; set before the workers copy the dataset
        # The loader gets its own generator: drawing its worker seed from the global RNG would
        # make a resumed run's dropout masks differ from an uninterrupted run's.
        loader = DataLoader(
            self.dataset,
            batch_sampler=batches[state.batch :],
            collate_fn=collate,
            num_workers=cfg.data.num_workers,
            generator=torch.Generator().manual_seed(cfg.seed * 1000 + state.epoch),
            pin_memory=self.device.type == "cuda",
        )
        self.meter = EpochMeter()
        self.epoch_batches = batches
        show = self.ctx.is_main and self.hooks.progress_bar
        progress = tqdm(loader, total=len(batches) - state.batch, desc=f"epoch {state.epoch + 1}/{cfg.epochs}", leave=False, disable=not show)
        for batch in progress:
            # Gradients of accum_steps batches are summed; the last batch of the epoch closes a group early.
            closes_group = (state.batch + 1) % cfg.accum_steps == 0 or state.batch + 1 == len(batches)
            self.step(batch, closes_group)
            if closes_group:
                self.update()
            state.batch += 1
            self.meter.utterances += len(batch.indices)
            self.meter.audio_seconds += float(batch.sample_lengths.sum()) / cfg.features.sample_rate
            if self.meter.losses:
                rate = self.meter.audio_seconds / self.meter.seconds
                progress.set_postfix(loss=f"{self.meter.losses[-1]:.3f}", lr=f"{self.learning_rate:.2e}", audio_x=f"{rate:.0f}")
            if closes_group and self.after_update():
                progress.close()
                return state.batch >= len(batches)
        progress.close()
        return True

    @property
    def learning_rate(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    def step(self, batch: Batch, closes_group: bool) -> None:
        """Forward and backward for one batch; gradients add up until update()."""
        if self.hooks.batch_ready is not None:
            self.hooks.batch_ready(batch)
        for reason in batch.failures:
            log(f"skipping unreadable audio: {reason}")
        self.state.unreadable_audio += batch.failed
        # Only the batch that closes a group averages gradients across processes.
        sync = contextlib.nullcontext() if self.ddp is None or closes_group else self.ddp.no_sync()
        with sync:
            if batch.indices:
                loss = self.batch_loss(batch)
                finite = bool(torch.isfinite(loss))
                if finite:
                    self.meter.losses.append(float(loss.detach()))
                else:
                    self.state.skipped_batches += 1
                    where = f"epoch {self.state.epoch + 1}, batch {self.state.batch + 1}"
                    log(f"skipping a batch with a non-finite loss ({where}); {self.state.skipped_batches} so far")
                # Under DDP a group's last batch must run backward on every process; a
                # non-finite loss then spoils every process's gradients, and all skip the update.
                if finite or (self.ddp is not None and closes_group):
                    self.scaler.scale(loss / self.cfg.accum_steps).backward()  # type: ignore[no-untyped-call]
            elif self.ddp is not None and closes_group:
                self.placeholder_loss().backward()  # type: ignore[no-untyped-call]

    def batch_loss(self, batch: Batch) -> torch.Tensor:
        feats, feat_lengths = batch_features(batch, self.frontend, self.device)
        if self.cfg.spec_augment.enabled:
            feats = spec_augment(feats, feat_lengths.cpu(), self.model.feature_mean, self.cfg.spec_augment, self.augment_rng)
        dtype = AUTOCAST_DTYPES.get(self.precision, torch.float32)
        with torch.autocast(device_type=self.device.type, dtype=dtype, enabled=self.precision in AUTOCAST_DTYPES), self.cpu_fp16_fallback():
            log_probs, out_lengths = self.net(feats, feat_lengths)
        # The loss takes (frames, batch, vocab) and runs in fp32.
        return self.loss(log_probs.float().transpose(0, 1), batch.targets.to(self.device), out_lengths, batch.target_lengths.to(self.device))

    def cpu_fp16_fallback(self) -> contextlib.AbstractContextManager[Any]:
        """oneDNN has no fp16 LSTM for CPUs; without it PyTorch's own kernel runs the LSTM in fp32."""
        cpu_fp16 = self.device.type == "cpu" and self.precision == "fp16"
        return torch.backends.mkldnn.flags(enabled=False) if cpu_fp16 else contextlib.nullcontext()

    def placeholder_loss(self) -> torch.Tensor:
        """A zero loss through the whole network, for a process whose batch had no readable audio:
        under DDP every process must run backward for the gradients to be averaged."""
        frames = 4 * self.cfg.model.subsampling
        log_probs, _ = self.net(torch.zeros(1, frames, self.cfg.features.n_mels, device=self.device), torch.tensor([frames], device=self.device))
        zero: torch.Tensor = log_probs.sum() * 0.0
        return zero

    def update(self) -> None:
        """Clip, step the optimizer (unless the gradients are not finite) and the schedule."""
        if any(p.grad is not None for p in self.model.parameters()):
            self.scaler.unscale_(self.optimizer)
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
            if torch.isfinite(norm):
                self.scaler.step(self.optimizer)
            else:  # fp16 overflow (the scaler lowers its scale) or a bad batch on some process
                self.state.skipped_updates += 1
            self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.state.step += 1

    def after_update(self) -> bool:
        """Log and checkpoint on schedule; True when max_steps is reached."""
        cfg, step = self.cfg, self.state.step
        if step % cfg.log_every_steps == 0 and self.meter.losses:
            recent = self.meter.losses[-cfg.log_every_steps * cfg.accum_steps :]
            self.say(f"epoch {self.state.epoch + 1} step {step} loss {sum(recent) / len(recent):.4f}")
            rate = self.meter.audio_seconds / self.meter.seconds
            self.logger.scalars(step, {"train/loss": sum(recent) / len(recent), "train/lr": self.learning_rate, "train/audio_x_realtime": rate})
        if step % cfg.checkpoint_every_steps == 0:
            self.checkpoint()
        return bool(cfg.max_steps and step >= cfg.max_steps)

    def end_epoch(self) -> bool:
        """Validate, keep the best, log, checkpoint the position at the next epoch; True to stop early."""
        cfg, state, meter = self.cfg, self.state, self.meter
        if self.valid_split:
            wer, cer = validate(self.model, self.frontend, self.valid_split, self.tokenizer, cfg, self.device, self.cache)
        else:
            wer, cer = float("nan"), float("nan")
        epoch = state.epoch
        state.epoch += 1
        state.batch = 0
        score = wer if cfg.best_metric == "wer" else cer
        improved = self.valid_split is None or score < state.best_score
        state.epochs_without_improvement = 0 if improved else state.epochs_without_improvement + 1
        if self.ctx.is_main:
            self.save_models(wer, cer, score)
        speed = f"{meter.utterances / meter.seconds:.1f} utt/s, {meter.audio_seconds / meter.seconds:.0f}x realtime"
        speed += " per process" if self.ctx.enabled else ""
        problems = f", {state.skipped_batches} non-finite batches skipped" if state.skipped_batches else ""
        scores = f"valid WER {wer:.4f} CER {cer:.4f}"
        self.say(f"epoch {epoch + 1}: loss {meter.mean_loss:.4f}, {scores}, {meter.seconds:.0f} s ({speed} incl. validation){problems}")
        # The row goes in before the checkpoint: a run killed in between redoes this epoch's end,
        # and the logger drops rows past the checkpoint's epoch when it starts again.
        self.logger.epoch(
            {
                "epoch": epoch + 1,
                "step": state.step,
                "train_loss": f"{meter.mean_loss:.5f}",
                "valid_wer": f"{wer:.5f}",
                "valid_cer": f"{cer:.5f}",
                "lr": f"{self.learning_rate:.3e}",
                "seconds": f"{meter.seconds:.1f}",
                "skipped_batches": state.skipped_batches,
                "skipped_updates": state.skipped_updates,
                "unreadable_audio": state.unreadable_audio,
                "padding": f"{padding_fraction(self.epoch_batches, self.durations):.4f}",
            }
        )
        self.checkpoint()
        early_stop = bool(cfg.early_stopping_epochs and state.epochs_without_improvement >= cfg.early_stopping_epochs)
        stop = bool(broadcast_from_main(early_stop, self.ctx))
        if stop:
            self.say(f"early stopping: no better validation {cfg.best_metric} for {cfg.early_stopping_epochs} epochs")
        return stop

    def save_models(self, wer: float, cer: float, score: float) -> None:
        scores = {"valid_wer": wer, "valid_cer": cer}
        self.save_model("last", scores)
        if self.cfg.keep_epoch_models:
            # The last few epochs' weights, for averaging (asr average OUTPUT_DIR/epochs/*).
            self.save_model(f"epochs/epoch-{self.state.epoch:03d}", scores)
            for old in sorted((self.out / "epochs").glob("epoch-*"))[: -self.cfg.keep_epoch_models]:
                shutil.rmtree(old)
        if self.valid_split is None or score <= self.state.best_score:  # on a tie, the later epoch
            self.state.best_score = score if self.valid_split else self.state.best_score
            self.save_model("best", scores)

    def checkpoint(self) -> None:
        rng = {"torch": torch.get_rng_state(), "augment": self.augment_rng.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        per_rank = gather_objects(rng, self.ctx)
        error = None
        if self.ctx.is_main:
            contents = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}
            try:
                save_checkpoint(self.checkpoint_path, {**contents, "scaler": self.scaler.state_dict(), "rng": per_rank, "state": asdict(self.state)})
            except CheckpointError as exc:
                error = str(exc)
        # Every process stops when rank 0 cannot write: training on would be work that cannot be kept.
        error = broadcast_from_main(error, self.ctx)
        if error:
            raise CheckpointError(error)

    def save_model(self, name: str, extra: dict[str, Any]) -> Path:
        cfg = self.cfg
        provenance = {
            "asr_version": __version__,
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "train_manifests": cfg.data.train_manifests,
            "train_hours": round(self.train_split.hours, 3),
            "epochs_completed": self.state.epoch,
            "steps": self.state.step,
            "device": str(self.device),
            "precision": self.precision,
            "processes": self.ctx.world_size,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "train_config": to_dict(cfg),
            **extra,
        }
        model_config = ModelDirConfig(model=cfg.model, features=cfg.features, alphabet=cfg.data.alphabet, provenance=provenance)
        return save_model_dir(self.out / name, self.model, model_config)

    def compare_replicas(self) -> None:
        if not self.ctx.enabled:
            return
        digests = gather_objects(weights_digest(self.model), self.ctx)
        if len(set(digests)) == 1:
            self.say(f"all {self.ctx.world_size} processes ended with identical weights")
        else:
            self.say(f"warning: the processes' weights differ at the end of training ({len(set(digests))} distinct)")
