"""`asr bench`: whole-pipeline speed, model-load time and peak memory of our recognizer (and,
with peers, of Whisper tiny.en and pocketsphinx) on the same audio files, as a printed table.

Each system runs in a fresh Python process of its own (`python -m asr.bench SYSTEM ...`), so
that its peak RSS is its own and no system profits from another's warm caches. A run times the
whole pipeline per file: reading and resampling the audio, features, the model, decoding and
writing the text file. Every worker process imports this package, hence PyTorch, whatever it
benchmarks; the "python + asr" row shows what that alone costs in memory."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from asr.audio import audio_duration
from asr.errors import AsrError
from asr.fileio import atomic_write_bytes
from asr.inference import QUANTIZATIONS, Quantization
from asr.peers import OURS, PEERS, Transcriber, load_peer, our_model

BASELINE = "python + asr"  # a worker that loads no model: the memory floor of every row
OURS_QUANTIZED: dict[str, Quantization] = {f"{OURS} {q}": q for q in QUANTIZATIONS}  # "asr int8", "asr bf16"
DEFAULT_FILES_DIR = Path(__file__).resolve().parents[1] / "demo" / "examples"


@dataclass(frozen=True)
class BenchResult:
    system: str
    files: int  # files transcribed without error
    audio_seconds: float
    load_seconds: float  # importing the engine and loading its model
    run_seconds: float  # wall time of the whole pipeline over all files
    peak_rss_mb: float  # peak resident memory of the worker process
    error: str | None = None  # why the system did not run (e.g. not installed)

    @property
    def speed(self) -> float | None:
        """Audio seconds per wall second of the whole pipeline."""
        return self.audio_seconds / self.run_seconds if self.run_seconds > 0 else None


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


def load_system(system: str, model_dir: str | None) -> Transcriber | None:
    if system == BASELINE:
        return None
    if system == OURS or system in OURS_QUANTIZED:
        return our_model(model_dir, quantize=OURS_QUANTIZED.get(system))
    return load_peer(system)


def run_system(system: str, files: Sequence[Path], model_dir: str | None, output_dir: Path) -> BenchResult:
    """Load one system and transcribe `files` with it, writing OUTPUT_DIR/<stem>.txt (in this process)."""
    started = time.perf_counter()
    try:
        transcribe = load_system(system, model_dir)
    except AsrError as exc:
        return BenchResult(system, 0, 0.0, 0.0, 0.0, peak_rss_mb(), str(exc))
    load_seconds = time.perf_counter() - started
    done, audio_seconds, run_seconds = 0, 0.0, 0.0
    if transcribe is None:
        return BenchResult(system, 0, 0.0, load_seconds, 0.0, peak_rss_mb())
    for path in files:
        started = time.perf_counter()
        try:
            text = transcribe(path)
            atomic_write_bytes(output_dir / f"{path.stem}.txt", (text + "\n").encode("utf-8"))
            audio_seconds += audio_duration(path)
        except AsrError as exc:  # a bad file is reported and left out of the totals
            print(f"error: {system}: {exc}", file=sys.stderr)
            continue
        run_seconds += time.perf_counter() - started
        done += 1
    return BenchResult(system, done, audio_seconds, load_seconds, run_seconds, peak_rss_mb())


def bench_system(system: str, files: Sequence[Path], model_dir: str | None, threads: int = 0) -> BenchResult:
    """run_system in a fresh Python process."""
    with tempfile.TemporaryDirectory(prefix="asr-bench-") as output_dir:
        options = ["--output-dir", output_dir, "--threads", str(threads), *(["--model", model_dir] if model_dir is not None else [])]
        command = [sys.executable, "-m", "asr.bench", *options, system, *map(str, files)]
        completed = subprocess.run(command, capture_output=True, text=True)
    sys.stderr.write(completed.stderr)
    if completed.returncode != 0 or not completed.stdout.strip():
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return BenchResult(system, 0, 0.0, 0.0, 0.0, 0.0, f"worker failed: {last}")
    return BenchResult(**json.loads(completed.stdout.strip().splitlines()[-1]))


def bench(
    files: Sequence[Path], model_dir: str | None = None, peers: bool = False, quantizations: Sequence[Quantization] = (), threads: int = 0
) -> list[BenchResult]:
    """One row per system: the baseline, our model (also quantized as asked), then the peers."""
    systems = [BASELINE, OURS, *(f"{OURS} {q}" for q in quantizations), *(list(PEERS) if peers else [])]
    return [bench_system(system, files, model_dir, threads) for system in systems]


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_bench_table(results: Sequence[BenchResult]) -> str:
    """A Markdown table, one row per system; systems that did not run say why."""
    lines = ["| system | files | audio s | load s | run s | x realtime | peak RSS MB |", "|---|---|---|---|---|---|---|"]
    for r in results:
        if r.error is not None:
            lines.append(f"| {r.system} | - | - | - | - | - | - |  ({r.error})")
        elif r.system == BASELINE:
            lines.append(f"| {r.system} | - | - | - | - | - | {r.peak_rss_mb:.0f} |")
        else:
            lines.append(
                f"| {r.system} | {r.files} | {r.audio_seconds:.1f} | {r.load_seconds:.2f} | {r.run_seconds:.2f} | {_number(r.speed, 1)} | {r.peak_rss_mb:.0f} |"
            )
    return "\n".join(lines) + "\n"


def default_files() -> list[Path]:
    return sorted(DEFAULT_FILES_DIR.glob("*.flac"))


def worker_main(argv: list[str] | None = None) -> None:
    """Entry point of the worker process: one system, the files, one JSON line on stdout."""
    import torch

    parser = argparse.ArgumentParser(prog="python -m asr.bench", description="Benchmark worker for `asr bench` (one system).")
    parser.add_argument("system", choices=[BASELINE, OURS, *OURS_QUANTIZED, *PEERS])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run_system(args.system, args.files, args.model, args.output_dir)
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    worker_main()
