"""Speed of the acoustic model alone on CPU: fp32, int8 and bfloat16, with the cores used by
intra-op threads (one batch at a time) or by concurrent batches (one thread each).

    python benchmarks/model_speed.py [AUDIO] [--model DIR] [--seconds 600] [--repeats 3]

AUDIO (default: the bundled samples, repeated) is cut into 30 s windows, as `asr transcribe`
does; features are computed once, outside the timing. Prints audio seconds per wall second of
the model's forward pass (the best of --repeats runs) for every variant."""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

import asr
from asr.audio import load_audio
from asr.inference import Quantization
from asr.transcribe import WINDOW_SECONDS

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "demo" / "examples"


def windows_of(audio: np.ndarray, sample_rate: int, seconds: float) -> list[np.ndarray]:
    size = int(WINDOW_SECONDS * sample_rate)
    total = int(seconds * sample_rate)
    looped = np.resize(audio, total)  # repeat the speech up to the wanted length
    return [looped[start : start + size] for start in range(0, total, size)]


def run_variant(
    recognizer: asr.Recognizer, feats: list[tuple[torch.Tensor, torch.Tensor]], threads: int, concurrent: int, repeats: int
) -> float:
    """Seconds for one pass over all batches: `concurrent` Python threads share the batches."""
    torch.set_num_threads(threads)
    model = recognizer.model

    def forward(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        with torch.inference_mode():
            model(*batch)

    best = float("inf")
    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        for _ in range(repeats):
            started = time.perf_counter()
            if concurrent == 1:
                # In the calling thread, as the recognizer runs one batch at a time: torch's
                # intra-op threads started from a pool thread ran 2.5x slower here (fp32, 2 threads).
                for batch in feats:
                    forward(batch)
            else:
                list(pool.map(forward, feats))
            best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="*", type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    files = args.audio or sorted(SAMPLES_DIR.glob("*.flac"))
    variants: list[Quantization | None] = [None, "int8", "bf16"]
    print("| model | threads x concurrent batches | x realtime (model only) |\n|---|---|---|")
    for quantize in variants:
        recognizer = asr.load_model(args.model, quantize=quantize)
        rate = recognizer.sample_rate
        audio = np.concatenate([load_audio(f, rate) for f in files])
        windows = windows_of(audio, rate, args.seconds)
        feats = []
        for start in range(0, len(windows), args.batch_size):
            batch = windows[start : start + args.batch_size]
            waves = torch.from_numpy(np.stack([np.pad(w, (0, int(WINDOW_SECONDS * rate) - w.size)) for w in batch]))
            lengths = torch.tensor([w.size for w in batch])
            with torch.inference_mode():
                feats.append((recognizer.frontend(waves), recognizer.frontend.lengths(lengths)))
        for threads, concurrent in ((cores, 1), (1, 1), (1, cores)):
            seconds = run_variant(recognizer, feats, threads, concurrent, args.repeats)
            print(f"| {quantize or 'fp32'} | {threads} x {concurrent} | {args.seconds / seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
