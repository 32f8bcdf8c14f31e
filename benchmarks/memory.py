"""Peak memory and speed of `asr transcribe` on long recordings, each in a fresh process.

    python benchmarks/memory.py [--minutes 6 30 60] [--int8 | --bf16] [--keep-audio DIR]

The recordings are real speech: the LJSpeech clips of ../shared/data (or, without it, the
bundled demo clips) with half a second of silence between them, repeated up to each length
and written as 16 kHz FLAC. Each length runs `asr transcribe FILE -f all -o OUT` in its own
process; the table gives its peak RSS (the process's maximum resident set size), wall time
and speed. Goal: under 1 GB for an hour, with time linear in length (seconds per audio
minute flat) and memory flat."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.audio import load_audio
from asr.manifests import read_manifest

ROOT = Path(__file__).resolve().parents[1]
LJSPEECH = ROOT.parent / "shared" / "data" / "ljspeech"
SAMPLE_RATE = 16_000
GAP_SECONDS = 0.5
GOAL_MB = 1024


def speech_clips() -> Iterator[np.ndarray]:
    """Real speech clips, in a fixed order: LJSpeech dev then train, else the demo clips."""
    manifests = [LJSPEECH / "dev.jsonl", LJSPEECH / "train.jsonl"]
    if all(m.is_file() for m in manifests):
        for manifest in manifests:
            for entry in read_manifest(manifest):
                yield load_audio(entry.audio_filepath, SAMPLE_RATE)
    else:
        for path in sorted((ROOT / "demo" / "examples").glob("*.flac")):
            yield load_audio(path, SAMPLE_RATE)


def write_long_audio(path: Path, minutes: float) -> Path:
    """Concatenate the clips (with gaps), repeated as needed, into `minutes` of FLAC; the
    clips are decoded once and the file is written block by block."""
    gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
    cycle = np.concatenate([piece for clip in speech_clips() for piece in (clip, gap)])
    remaining = int(minutes * 60 * SAMPLE_RATE)
    with sf.SoundFile(path, "w", SAMPLE_RATE, 1, format="FLAC") as handle:
        while remaining > 0:
            handle.write(cycle[:remaining])
            remaining -= min(remaining, cycle.size)
    return path


# Runs one command and prints its peak RSS: ru_maxrss of the children of this small process is
# that of the one command (the parent's own children would mix several runs).
PROBE = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"


def measure(audio: Path, flags: list[str], output_dir: Path) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of `asr transcribe AUDIO -f all` in a fresh process."""
    command = [sys.executable, "-m", "asr", "transcribe", str(audio), "-q", "-f", "all", "-o", str(output_dir), *flags]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak_kb = int(done.stdout.strip().splitlines()[-1])
    return peak_kb / (2**20 if sys.platform == "darwin" else 2**10), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[6.0, 30.0, 60.0])
    variant = parser.add_mutually_exclusive_group()
    variant.add_argument("--int8", action="store_true", help="transcribe with --int8")
    variant.add_argument("--bf16", action="store_true", help="transcribe with --bf16")
    parser.add_argument("--keep-audio", type=Path, default=None, help="write the long recordings here and keep them")
    args = parser.parse_args()
    print("| audio | model | peak RSS MB | wall s | x realtime | wall s per audio minute | words |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="asr-memory-") as scratch:
        folder = args.keep_audio or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for minutes in args.minutes:
            audio = folder / f"speech_{minutes:g}min.flac"
            if not audio.is_file():
                write_long_audio(audio, minutes)
            out = Path(scratch) / "out"
            flags = ["--int8"] if args.int8 else ["--bf16"] if args.bf16 else []
            peak_mb, seconds = measure(audio, flags, out)
            words = sum(len(segment["words"]) for segment in json.loads((out / f"{audio.stem}.json").read_text())["segments"])
            verdict = "" if peak_mb < GOAL_MB or minutes > 60 else f" (over the {GOAL_MB} MB goal)"
            print(
                f"| {minutes:g} min | {flags[0][2:] if flags else 'fp32'} | {peak_mb:.0f}{verdict} | {seconds:.1f} | "
                f"{minutes * 60 / seconds:.0f} | {seconds / minutes:.2f} | {words} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
