"""fp32 and bf16 training side by side: the same model, seed and batches, trained once in each
precision; prints the training loss of both, averaged over every --every steps.

    python benchmarks/precision_curves.py --init asr/default_model --steps 120 --threads 1
    python benchmarks/precision_curves.py --steps 300 --model small      # from scratch

The data are the real speech of ../shared/data (as in benchmarks/train_throughput.py) with the
default model's augmentation; --init warm-starts from a model directory (the way default-v4 was
trained), otherwise training starts from random weights. Prints a Markdown table."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from train_throughput import CONFIG, CORPORA, SHARED  # the same data and augmentation (this folder is on sys.path)

from asr.train import TrainHooks, train
from asr.train_config import load_train_config

MODELS = {"default": [], "small": ["model.lstm_layers=2", "model.hidden_size=256", "model.conv_channels=16"]}


def losses(config: Path, precision: str, args: argparse.Namespace, out: Path) -> tuple[list[float], float]:
    """Every batch's training loss (fp32 CTC) and the wall seconds of the run."""
    recorded: list[float] = []
    ctc = torch.nn.CTCLoss(zero_infinity=True)

    def recording(*tensors: torch.Tensor) -> torch.Tensor:
        loss: torch.Tensor = ctc(*tensors)
        recorded.append(float(loss.detach()))
        return loss

    overrides = [f"output_dir={out}", f"precision={precision}", f"max_steps={args.steps}", f"threads={args.threads}", "seed=3", *MODELS[args.model]]
    overrides += [f"optim.lr={args.lr}", "optim.warmup_steps=20", "optim.schedule=constant", "data.num_workers=1"]
    if args.init:
        overrides.append(f"init_from={args.init.resolve()}")
    start = time.perf_counter()
    train(load_train_config(config, overrides), TrainHooks(loss=recording, progress_bar=False))
    return recorded, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--init", type=Path, default=None, help="warm-start from this model directory")
    parser.add_argument("--model", choices=sorted(MODELS), default="default")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--every", type=int, default=10, help="steps per row of the table")
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    manifests = [args.data / name for name in CORPORA]
    if missing := [str(m) for m in manifests if not m.is_file()]:
        sys.exit(f"error: manifests not found: {', '.join(missing)} (pass --data)")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(CONFIG.format(out=Path(tmp) / "exp", manifests=[str(m) for m in manifests], batch_size=args.batch_size))
        runs = {precision: losses(config, precision, args, Path(tmp) / precision) for precision in ("fp32", "bf16")}
    start = "from " + str(args.init) if args.init else "from scratch"
    times = ", ".join(f"{p} {seconds:.0f} s" for p, (_, seconds) in runs.items())
    print(f"\nmodel {args.model} {start}, {args.steps} steps of <= {args.batch_size} utterances, lr {args.lr}; wall time {times}\n")
    print("| steps | fp32 loss | bf16 loss | bf16 - fp32 |")
    print("|---|---|---|---|")
    fp32, bf16 = runs["fp32"][0], runs["bf16"][0]
    for first in range(0, min(len(fp32), len(bf16)), args.every):
        a = sum(fp32[first : first + args.every]) / len(fp32[first : first + args.every])
        b = sum(bf16[first : first + args.every]) / len(bf16[first : first + args.every])
        print(f"| {first + 1}-{first + len(fp32[first : first + args.every])} | {a:.4f} | {b:.4f} | {b - a:+.4f} |")


if __name__ == "__main__":
    main()
