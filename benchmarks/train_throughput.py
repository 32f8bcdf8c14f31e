"""Training throughput on real unequal-length batches: the trainer end to end and the bare model
step, the packed nn.LSTM path (the model before LSTMStack) and the LSTMStack path, fp32 and bf16.

    python benchmarks/train_throughput.py --threads 1                      # default model shape
    python benchmarks/train_throughput.py --threads 1 --model 5x512 --bare-only
    python benchmarks/train_throughput.py --threads 1 --workers 0 1 2      # the loader's share
    python benchmarks/train_throughput.py --threads 1 --busy-core          # another program on one core
    python benchmarks/train_throughput.py --threads 1 --old-defaults       # first row: the trainer as it was
    python benchmarks/train_throughput.py --device cuda --threads 8

End to end is `asr.train.train` itself on the real speech of ../shared/data (AN4, speechocean762,
LibriSpeech, LJSpeech: short and long utterances mixed): a DataLoader decoding and augmenting
audio, log-mel, SpecAugment, the model, the fp32 CTC loss, clipping and AdamW. A TrainHooks
callback stamps each batch as it reaches the step. The bare step runs a fresh model of the same
shape on random tensors of exactly the batches' shapes, so the difference is what the data
side costs. The packed rows run the same weights through one nn.LSTM over packed sequences
(asr.model.as_packed_lstm, sharing the parameters). Every row trains on the same batches;
warm-up batches are left out. With --busy-core a busy loop holds the last core for the whole run
(benchmarks/busy_cpu.py's: a laptop with a browser open). Prints a Markdown table; ratios are to
the first row."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from busy_cpu import busy_loop
from torch import nn

from asr.data import Batch
from asr.distributed import DistContext
from asr.model import CTCModel, LSTMStack, as_packed_lstm, upgrade_weight_name
from asr.train import TrainHooks, train, training_threads
from asr.train_config import TrainConfig, load_train_config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CORPORA = ["an4/train.jsonl", "speechocean762/train.jsonl", "ljspeech/train.jsonl", "kathleen/all.jsonl"]
MODELS = {"default": [], "5x512": ["model.lstm_layers=5", "model.hidden_size=512"]}  # default: 4 x BiLSTM-320, x4
CONFIG = """output_dir: {out}
epochs: 1
data:
  train_manifests: {manifests}
  batch_size: {batch_size}
  max_batch_seconds: 240.0
  stats_utterances: 50
spec_augment: {{freq_masks: 2, time_masks: 2}}
augment: {{gain_db: 6.0, speed_factors: [0.9, 1.0, 1.1], noise_prob: 0.2}}
checkpoint_every_steps: 1000000
log_every_steps: 1000000
keep_epoch_models: 0
tensorboard: false
"""


class PackedLSTM(nn.Module):
    """The stack's own parameters run as one nn.LSTM over packed sequences (the old path)."""

    def __init__(self, stack: LSTMStack) -> None:
        super().__init__()
        self.lstm = as_packed_lstm(stack)
        own = dict(stack.named_parameters())
        for name, _ in list(self.lstm.named_parameters()):
            setattr(self.lstm, name, own[upgrade_weight_name(f"lstm.{name}").removeprefix("lstm.")])

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
        return out


def use_packed(model: CTCModel) -> None:
    assert isinstance(model.lstm, LSTMStack)
    model.lstm = PackedLSTM(model.lstm)  # type: ignore[assignment]


@dataclass
class Stamps:
    times: list[float] = field(default_factory=list)
    shapes: list[tuple[list[int], list[int]]] = field(default_factory=list)  # (sample lengths, target lengths)

    def __call__(self, batch: Batch) -> None:
        self.times.append(time.perf_counter())
        self.shapes.append((batch.sample_lengths.tolist(), batch.target_lengths.tolist()))


def end_to_end(cfg: TrainConfig, packed: bool) -> Stamps:
    stamps = Stamps()
    train(cfg, TrainHooks(model_ready=use_packed if packed else None, batch_ready=stamps, progress_bar=False))
    stamps.times.append(time.perf_counter())  # the last step ends with training (max_steps)
    return stamps


def bare_steps(cfg: TrainConfig, shapes: list[tuple[list[int], list[int]]], packed: bool, device: torch.device) -> list[float]:
    """Forward, fp32 CTC loss, backward, clipping and AdamW on random tensors of the batches' shapes."""
    torch.manual_seed(0)
    # As train() does while it runs (it restores both on return): its thread count, and flushed
    # subnormals (subnormal LSTM gradients are slow on x86).
    torch.set_num_threads(training_threads(cfg, DistContext()))
    torch.set_flush_denormal(True)
    model = CTCModel(cfg.model)
    if packed:
        use_packed(model)
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    dtype = torch.bfloat16 if cfg.precision == "bf16" else None
    inputs = []
    for samples, lengths in shapes:
        frames = torch.tensor(samples) // cfg.features.hop_length + 1
        feats = torch.randn(len(samples), int(frames.max()), cfg.features.n_mels, device=device)
        targets = torch.randint(1, cfg.model.vocab_size, (sum(lengths),), device=device)
        inputs.append((feats, frames.to(device), targets, torch.tensor(lengths, device=device)))
    times = []
    for feats, frames, targets, target_lengths in inputs:
        times.append(time.perf_counter())
        with torch.autocast(device.type, dtype=dtype) if dtype else nullcontext():
            log_probs, out_lengths = model(feats, frames)
        loss = ctc(log_probs.float().transpose(0, 1), targets, out_lengths, target_lengths)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        float(loss.detach())  # the trainer reads the loss every step too (a device sync)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    times.append(time.perf_counter())
    return times


def audio_rate(times: list[float], shapes: list[tuple[list[int], list[int]]], warmup: int, sample_rate: int) -> float:
    """Audio seconds per wall second over the batches after warm-up."""
    audio = sum(sum(shapes[i][0]) for i in range(warmup, len(times) - 1)) / sample_rate
    return audio / (times[-1] - times[warmup])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder (manifests: " + ", ".join(CORPORA) + ")")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", choices=sorted(MODELS), default="default")
    parser.add_argument("--threads", type=int, default=0, help="training threads (0: the trainer's default)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="DataLoader workers; several: one bf16 row each")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after warm-up)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--busy-core", action="store_true", help="keep the last core busy with a Python loop throughout")
    parser.add_argument("--old-defaults", action="store_true", help="first row: the trainer as it was (packed, fp32, a thread per core, 2 workers)")
    parser.add_argument("--bare-only", action="store_true", help="bare steps only (the batches come from one bf16 trainer pass)")
    args = parser.parse_args()
    manifests = [args.data / name for name in CORPORA]
    if missing := [str(m) for m in manifests if not m.is_file()]:
        sys.exit(f"error: manifests not found: {', '.join(missing)} (pass --data)")
    device = torch.device(args.device)
    loop = busy_loop(len(os.sched_getaffinity(0)) - 1) if args.busy_core else None
    try:
        rows, heading = measure(args, manifests, device)
    finally:
        if loop:
            loop.kill()
            loop.wait()
    print(heading + (", the last core busy" if loop else "") + "\n")
    print("| pipeline | audio s per s | x first row |")
    print("|---|---|---|")
    for label, speed in rows:
        print(f"| {label} | {speed:.1f} | {speed / rows[0][1]:.2f} |")


def measure(args: argparse.Namespace, manifests: list[Path], device: torch.device) -> tuple[list[tuple[str, float]], str]:
    """The table's rows (label, audio seconds per second) and its heading."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(CONFIG.format(out=Path(tmp) / "exp", manifests=[str(m) for m in manifests], batch_size=args.batch_size))

        def cfg(precision: str, workers: int, run: str, threads: int = args.threads) -> TrainConfig:
            overrides = [f"output_dir={Path(tmp) / run}", f"precision={precision}", f"data.num_workers={workers}", f"device={args.device}"]
            overrides += [f"threads={threads}", f"max_steps={args.warmup + args.steps}", *MODELS[args.model]]
            return load_train_config(config, overrides)

        rows: list[tuple[str, float]] = []
        rate = cfg("fp32", 0, "x").features.sample_rate
        # Untimed: every batch shape once (oneDNN plans, allocator growth), and the batches' shapes.
        shapes = end_to_end(cfg("bf16", args.workers[0], "warm"), packed=False).shapes
        if args.old_defaults:  # before LSTMStack: torch's threads (one per core), 2 workers, fp32
            old = cfg("fp32", 2, "old", threads=len(os.sched_getaffinity(0)))
            label = "trainer, packed nn.LSTM, fp32, the old defaults (a thread per core, 2 workers)"
            rows.append((label, audio_rate(end_to_end(old, packed=True).times, shapes, args.warmup, rate)))
        for precision in ("fp32", "bf16"):
            for packed in (True, False):
                path = "packed nn.LSTM" if packed else "LSTMStack"
                if not args.bare_only:
                    stamps = end_to_end(cfg(precision, args.workers[0], f"{precision}{packed}"), packed)
                    if stamps.shapes != shapes:
                        sys.exit("the trainer passes saw different batches")
                    rows.append((f"trainer, {path}, {precision}, {args.workers[0]} workers", audio_rate(stamps.times, shapes, args.warmup, rate)))
                bare = bare_steps(cfg(precision, args.workers[0], "bare"), shapes, packed, device)
                rows.append((f"bare step, {path}, {precision}", audio_rate(bare, shapes, args.warmup, rate)))
        for workers in args.workers[1:]:
            stamps = end_to_end(cfg("bf16", workers, f"workers{workers}"), packed=False)
            rows.append((f"trainer, LSTMStack, bf16, {workers} workers", audio_rate(stamps.times, shapes, args.warmup, rate)))
        params = sum(p.numel() for p in CTCModel(cfg("fp32", 0, "x").model).parameters())
        threads = training_threads(cfg("fp32", args.workers[0], "x"), DistContext())
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {threads} training threads"
        audio = sum(sum(s[0]) for s in shapes[args.warmup : args.warmup + args.steps]) / rate
        batches = f"{args.steps} timed batches of <= {args.batch_size} utterances ({audio:.0f} s of audio)"
    return rows, f"\nmodel {args.model} ({params / 1e6:.1f} M parameters), {where}; {batches}"


if __name__ == "__main__":
    main()
