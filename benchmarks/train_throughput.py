"""Training throughput: the trainer end to end against the bare model step, in the same run.

    python benchmarks/train_throughput.py --device cuda --precision bf16            # GPU, 5xBiLSTM-512
    python benchmarks/train_throughput.py --device cpu --model small --steps 12     # 2-core CPU

End to end is `asr.train.train` itself on real FLAC files (LibriSpeech layout, ../shared/data
sample by default): DataLoader workers decoding audio, log-mel on the training device,
SpecAugment and gain as in the recipe, the model, the fp32 CTC loss, clipping and the AdamW
step. It is timed from the outside: the progress bar's iterator is wrapped to stamp each batch.
The bare step runs a fresh model of the same config on pre-made tensors of exactly the same
shapes (features, lengths, targets), so the difference is what the data pipeline costs.

Order: trainer (untimed, every batch shape once), bare step (timed), trainer again (timed), so
both timed passes see warm per-shape caches. The sample has ~200 utterances; its manifest lists
them --repeat times so that the timed steps fall in one epoch (no epoch-end model writing inside
the measurement). Warm-up batches (worker start, autotuning) are left out of both figures.
Prints a Markdown table."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

import asr.train as train_module
from asr.data import Batch
from asr.model import CTCModel
from asr.prepare import librispeech, write_manifest
from asr.train_config import TrainConfig, load_train_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "librispeech-mini" / "LibriSpeech" / "train-clean-100"
RECIPE = ROOT / "recipes" / "librispeech" / "config_100h.yaml"
MODELS = {
    # The recipe's network: 5 x BiLSTM-512, x4 subsampling (about 30 M parameters).
    "5x512": [],
    # Small enough for a 2-core CPU to take a few steps in a minute.
    "small": ["model.lstm_layers=2", "model.hidden_size=256", "model.conv_channels=16"],
}


@dataclass(frozen=True)
class BatchShape:
    sample_lengths: torch.Tensor
    target_lengths: torch.Tensor


class StampedBatches:
    """Stands in for the trainer's progress bar: yields the batches unchanged, stamping when each
    one reaches the training step and keeping its shapes."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.shapes: list[BatchShape] = []
        self.iterable: Iterable[Batch] = ()

    def __call__(self, iterable: Iterable[Batch], **kwargs: Any) -> StampedBatches:
        self.iterable = iterable
        return self

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.iterable:
            self.times.append(time.perf_counter())
            self.shapes.append(BatchShape(batch.sample_lengths.clone(), batch.target_lengths.clone()))
            yield batch

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def make_manifest(corpus: Path, repeat: int, folder: Path) -> Path:
    once = folder / "once.jsonl"
    report = write_manifest(librispeech(corpus), once)
    if not report.written:
        sys.exit(f"no utterances under {corpus}: {report.problems[:3]}")
    lines = once.read_text().splitlines()
    manifest = folder / "train.jsonl"
    manifest.write_text("\n".join(lines * repeat) + "\n")
    return manifest


def end_to_end(cfg: TrainConfig) -> StampedBatches:
    stamps = StampedBatches()
    original = train_module.tqdm
    train_module.tqdm = stamps  # type: ignore[assignment]
    try:
        train_module.train(cfg)
    finally:
        train_module.tqdm = original  # type: ignore[assignment]
    return stamps


def bare_steps(cfg: TrainConfig, shapes: list[BatchShape], device: torch.device) -> list[float]:
    """Forward, fp32 CTC loss, backward, clipping and AdamW step on pre-made tensors; the same
    autocast as the trainer. Returns the time stamp at the start of each step (and one at the end)."""
    torch.manual_seed(0)
    model = CTCModel(cfg.model).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    hop = cfg.features.hop_length
    inputs = []
    for shape in shapes:
        frames = shape.sample_lengths // hop + 1
        feats = torch.randn(len(frames), int(frames.max()), cfg.features.n_mels, device=device)
        targets = torch.randint(1, cfg.model.vocab_size, (int(shape.target_lengths.sum()),), device=device)
        inputs.append((feats, frames.to(device), targets, shape.target_lengths.to(device)))
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
    times = []
    for feats, frames, targets, target_lengths in inputs:
        times.append(time.perf_counter())
        with torch.autocast(device.type, dtype=dtype) if dtype else nullcontext():
            log_probs, out_lengths = model(feats, frames)
        loss = ctc(log_probs.float().transpose(0, 1), targets, out_lengths, target_lengths)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        float(loss.detach())  # the trainer reads the loss every step too (a device sync)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    times.append(time.perf_counter())
    return times


def rate(times: list[float], shapes: list[BatchShape], warmup: int, sample_rate: int) -> tuple[float, float, int]:
    """(audio seconds, wall seconds) over the batches after warm-up that have an end stamp."""
    timed = range(warmup, len(times) - 1)
    audio = sum(float(shapes[i].sample_lengths.sum()) for i in timed) / sample_rate
    return audio, times[-1] - times[warmup], len(timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="a LibriSpeech-layout folder of FLAC files")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="bf16")
    parser.add_argument("--model", choices=sorted(MODELS), default="5x512")
    parser.add_argument("--steps", type=int, default=60, help="timed steps (after warm-up)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-batch-seconds", type=float, default=800.0)
    parser.add_argument("--num-workers", type=int, default=min(12, os.cpu_count() or 1))
    parser.add_argument("--repeat", type=int, default=0, help="list the sample this many times (default: enough for the steps)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="more trainer config overrides")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"{args.corpus}: not found (pass --corpus with a LibriSpeech-layout folder)")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        steps = args.warmup + args.steps + 1
        utterances = len(list(args.corpus.rglob("*.flac")))
        repeat = args.repeat or max(1, -(-steps * args.batch_size // max(1, utterances)) + 1)
        manifest = make_manifest(args.corpus, repeat, folder)
        overrides = [
            f"output_dir={folder / 'exp'}",
            f"data.train_manifests=[{manifest}]",
            "data.valid_manifests=[]",
            f"data.batch_size={args.batch_size}",
            f"data.max_batch_seconds={args.max_batch_seconds}",
            f"data.num_workers={args.num_workers}",
            "data.stats_utterances=50",
            f"device={args.device}",
            f"precision={args.precision}",
            "epochs=1",
            f"max_steps={steps}",
            "checkpoint_every_steps=1000000",
            "log_every_steps=1000000",
            "tensorboard=false",
            "keep_epoch_models=0",
            *MODELS[args.model],
            *args.overrides,
        ]
        cfg = load_train_config(RECIPE, overrides)
        device = torch.device(args.device)
        # Pass 1 (not timed) runs every batch shape once, so that neither timed pass pays for
        # first-time work the other skips (oneDNN/cuDNN plans per shape, allocator growth).
        first = end_to_end(cfg)
        if len(first.times) < args.warmup + 2:
            sys.exit(f"only {len(first.times)} batches ran; lower --warmup or raise --repeat")
        bare = bare_steps(cfg, first.shapes[:-1], device)
        stamps = end_to_end(replace(cfg, output_dir=str(folder / "exp2")))
        if [s.sample_lengths.tolist() for s in stamps.shapes] != [s.sample_lengths.tolist() for s in first.shapes]:
            sys.exit("the two end-to-end passes saw different batches")

    rate_sr = cfg.features.sample_rate
    e2e_audio, e2e_wall, e2e_n = rate(stamps.times, stamps.shapes, args.warmup, rate_sr)
    bare_audio, bare_wall, bare_n = rate(bare, stamps.shapes, args.warmup, rate_sr)
    params = sum(p.numel() for p in CTCModel(cfg.model).parameters())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"\nmodel {args.model} ({params / 1e6:.1f} M parameters, x{cfg.model.subsampling} subsampling), {args.precision}, {name}")
    limits = f"batches of <= {args.batch_size} utterances / {args.max_batch_seconds:.0f} s"
    print(f"{limits}; {args.num_workers} loader workers; {args.warmup} warm-up batches excluded\n")
    print("| pipeline | batches | audio s | wall s | audio s per s | share of bare step |")
    print("|---|---|---|---|---|---|")
    bare_speed = bare_audio / bare_wall
    for label, audio, wall, n in (("trainer end to end", e2e_audio, e2e_wall, e2e_n), ("bare model step", bare_audio, bare_wall, bare_n)):
        print(f"| {label} | {n} | {audio:.0f} | {wall:.2f} | {audio / wall:.1f} | {audio / wall / bare_speed:.1%} |")


if __name__ == "__main__":
    main()
