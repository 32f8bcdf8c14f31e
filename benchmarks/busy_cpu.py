"""Training and transcription speed on an idle machine and on one where another program keeps a
core busy (a laptop running a browser), for thread counts and OpenMP wait policies.

    python benchmarks/busy_cpu.py                 # every setting, idle and with one busy core
    python benchmarks/busy_cpu.py --steps 6 --seconds 120

Each row runs in a fresh process (OpenMP reads OMP_WAIT_POLICY when it starts): `train` is the
default model's training step (forward, CTC loss, backward, AdamW) on a batch of 8 utterances of
6-10 s, `transcribe` is Recognizer.transcribe of --seconds of speech (the demo clips repeated).
The busy program is a Python loop pinned to the last core. Prints a Markdown table of median
seconds per step / per transcription; the ratio is to the same setting on the idle machine."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # name -> environment
    "torch default threads": {},
    "1 thread": {"OMP_NUM_THREADS": "1"},
    "default threads, OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "default threads, OMP_WAIT_POLICY=ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE"},
}

WORKER = r"""
import json, sys, time, torch
import numpy as np
kind, repeats, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
times = []
if kind == "train":
    from asr.model import CTCModel, ModelConfig
    torch.manual_seed(0)
    model = CTCModel(ModelConfig())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    lengths = torch.tensor([1000, 930, 870, 820, 760, 700, 650, 600])
    features, targets = torch.randn(8, 1000, 80), torch.randint(1, 28, (8, 60))
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            log_probs, out_lengths = model(features, lengths)
        ctc(log_probs.float().transpose(0, 1), targets, out_lengths, torch.full((8,), 60)).backward()
        optimizer.step(); optimizer.zero_grad()
        times.append(time.perf_counter() - start)
else:
    import soundfile as sf
    import asr
    clips = [sf.read(path, dtype="float32")[0] for path in sys.argv[4:]]
    audio = np.concatenate(clips * int(seconds // sum(len(c) / 16000 for c in clips) + 1))[: int(seconds * 16000)]
    recognizer = asr.load_model()
    for _ in range(repeats + 1):
        start = time.perf_counter()
        recognizer.transcribe(audio, sample_rate=16000)
        times.append(time.perf_counter() - start)
print(json.dumps({"times": times[1:], "threads": torch.get_num_threads()}))
"""


def run(kind: str, env: dict[str, str], repeats: int, seconds: float) -> tuple[float, int]:
    clips = [str(p) for p in sorted((ROOT / "demo" / "examples").glob("*.flac"))]
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")} | env
    out = subprocess.run([sys.executable, "-c", WORKER, kind, str(repeats), str(seconds), *clips], env=environment, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return statistics.median(result["times"]), int(result["threads"])


def busy_loop(core: int) -> subprocess.Popen[bytes]:
    """A process that keeps one core at 100% until it is killed."""
    return subprocess.Popen([sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True: pass"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4, help="timed training steps / transcriptions per row (after one untimed)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of speech to transcribe")
    parser.add_argument("--kinds", nargs="+", default=["train", "transcribe"], choices=["train", "transcribe"])
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    rows = []
    for kind in args.kinds:
        for name, env in SETTINGS.items():
            idle, threads = run(kind, env, args.steps, args.seconds)
            loop = busy_loop(cores - 1)
            time.sleep(0.5)
            try:
                busy, _ = run(kind, env, args.steps, args.seconds)
            finally:
                loop.kill()
                loop.wait()
            rows.append((kind, name, threads, idle, busy))
    unit = f"train: s per step of 8 x 6-10 s; transcribe: s per {args.seconds:.0f} s of speech"
    print(f"\n{cores} cores; {unit}; busy: a Python loop on core {cores - 1}\n")
    print("| workload | setting | threads | idle s | one core busy s | busy / idle |")
    print("|---|---|---|---|---|---|")
    for kind, name, threads, idle, busy in rows:
        print(f"| {kind} | {name} | {threads} | {idle:.2f} | {busy:.2f} | {busy / idle:.1f}x |")


if __name__ == "__main__":
    main()
