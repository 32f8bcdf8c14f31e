"""The `asr` command. Each subcommand (or family of them) is a module here with its parser and its
cmd_* function, which parses, hands the work to the library and reports; the arguments several
subcommands share are parent parsers in asr.cli.common and asr.cli.decoder_flags."""

from __future__ import annotations

import argparse
import sys

from asr import __version__
from asr.cli import bench, demo, evaluate, export, lm, prepare, train, transcribe

COMMANDS = (transcribe, evaluate, prepare, train, demo, export, bench, lm)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr", description="Speech recognition with BiLSTM-CTC models.")
    parser.add_argument("--version", action="version", version=f"asr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result
