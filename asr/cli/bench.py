"""`asr bench`: whole-pipeline speed, load time and peak memory, ours beside the peers."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tqdm import tqdm

from asr.cli.common import MODEL, THREADS, add_command
from asr.cli.transcribe import expand_inputs
from asr.inference import QUANTIZATIONS
from asr.peers import PEERS

if TYPE_CHECKING:
    from asr.cli.common import Subcommands


def cmd_bench(args: argparse.Namespace) -> int:
    from asr.bench import bench, default_files, format_bench_table

    files = list(expand_inputs(args.inputs)) if args.inputs else default_files()
    if not files:
        tqdm.write("error: no audio files to benchmark (give FILE_OR_DIR)", file=sys.stderr)
        return 2
    variants = [name for name in QUANTIZATIONS if getattr(args, name)]
    results = bench(files, args.model, peers=args.peers, quantizations=variants, threads=args.threads)
    print(format_bench_table(results), end="")
    return 1 if any(r.error and r.system.startswith("asr") for r in results) else 0


def add_parser(sub: Subcommands) -> None:
    be = add_command(
        sub,
        "bench",
        cmd_bench,
        "speed, load time and peak memory of the whole pipeline",
        "Transcribe audio files (default: the bundled samples) in a fresh process per system and print speed "
        "(audio seconds per wall second, reading to writing), model-load time and peak RSS.",
        [MODEL, THREADS],
    )
    be.add_argument("inputs", nargs="*", metavar="FILE_OR_DIR", help="audio files or folders (default: demo/examples)")
    be.add_argument("--peers", action="store_true", help=f"also {' and '.join(PEERS)}, when installed")
    for name, description in QUANTIZATIONS.items():
        be.add_argument(f"--{name}", action="store_true", help=f"also our model with {description}")
