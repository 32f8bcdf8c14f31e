"""`asr prepare`: a JSONL manifest from a corpus in one of the layouts asr.prepare knows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from asr.cli.common import add_command
from asr.prepare import LAYOUTS

if TYPE_CHECKING:
    from asr.cli.common import Subcommands


def cmd_prepare(args: argparse.Namespace) -> int:
    from asr.prepare import write_manifest

    report = write_manifest(LAYOUTS[args.layout].read(Path(args.source)), Path(args.output))
    for problem in report.problems:
        tqdm.write(f"skipped: {problem}", file=sys.stderr)
    print(f"{args.output}: {report.written} utterances, {report.hours:.2f} h; {len(report.problems)} skipped")
    return 0 if report.written else 1


def add_parser(sub: Subcommands) -> None:
    pr = add_command(
        sub,
        "prepare",
        cmd_prepare,
        "make a JSONL manifest from a corpus folder",
        "Write a NeMo-style JSONL manifest (audio_filepath, duration, text) from a corpus. Bad rows are reported and skipped.",
    )
    pr.add_argument("layout", choices=LAYOUTS, help="corpus layout")
    pr.add_argument("source", help="; ".join(f"{name}: {layout.source}" for name, layout in LAYOUTS.items()))
    pr.add_argument("--output", "-o", required=True, help="manifest to write (.jsonl)")
