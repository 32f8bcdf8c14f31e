"""What the `asr` subcommands share: parent parsers for the arguments several of them take, each
declared once here, and one-line error reports."""

from __future__ import annotations

import argparse
import functools
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from asr.errors import AsrError
from asr.inference import QUANTIZATIONS, Quantization

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]  # what add_subparsers() returns

MAX_MESSAGE_CHARS = 400
MAX_LISTED = 20  # problems listed one by one before "... and N more"


def _parent(*flags: str, **argument: Any) -> argparse.ArgumentParser:
    """A parser holding one argument, for subcommand parsers to take as a parent."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(*flags, **argument)
    return parser


MODEL = _parent("--model", "-m", default=None, help="model directory (config.json + model.safetensors); default: the bundled English model")
DEVICE = _parent("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
THREADS = _parent("--threads", type=int, default=0, help="CPU threads for the model (default: torch's choice, all cores)")
VERBOSE = _parent("--verbose", "-v", action="store_true", help="print full tracebacks for errors")


def _quantization_parent() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_mutually_exclusive_group()
    for name, description in QUANTIZATIONS.items():
        group.add_argument(f"--{name}", action="store_true", help=description)
    return parser


QUANTIZATION = _quantization_parent()  # --int8 or --bf16


def quantization(args: argparse.Namespace) -> Quantization | None:
    """The quantization the flags of QUANTIZATION (or `asr bench`'s) ask for first."""
    return next((name for name in QUANTIZATIONS if getattr(args, name)), None)


def use_threads(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)


def error_message(exc: BaseException, path: object = None) -> str:
    """One line for an error: our own errors, bad values and OS errors as they read (they name
    what is wrong), anything else with its type; `path` in front when the error is about it."""
    text = str(exc) if isinstance(exc, (AsrError, ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
    if path is not None and not isinstance(exc, AsrError):
        text = f"{path}: {text}"
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def fail(exc: BaseException, verbose: bool, path: object = None) -> None:
    """Report an error in one line (with its traceback too under --verbose)."""
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    tqdm.write(f"error: {error_message(exc, path)}", file=sys.stderr)


Command = Callable[[argparse.Namespace], int]


def reports(*errors: type[Exception]) -> Callable[[Command], Command]:
    """A cmd_* function so decorated reports these errors in one line (see fail) and exits with 2."""

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            try:
                return command(args)
            except errors as exc:
                fail(exc, args.verbose)
                return 2

        return run

    return decorate


def add_command(
    sub: Subcommands, name: str, command: Command, summary: str, description: str, parents: Sequence[argparse.ArgumentParser] = ()
) -> argparse.ArgumentParser:
    """The parser of subcommand `name`, which `command` runs; `summary` is its line in `asr --help`."""
    parser = sub.add_parser(name, help=summary, description=description, parents=list(parents))
    parser.set_defaults(func=command)
    return parser


def list_problems(problems: list[str]) -> None:
    for problem in problems[:MAX_LISTED]:
        tqdm.write(f"error: {problem}", file=sys.stderr)
    if len(problems) > MAX_LISTED:
        tqdm.write(f"error: ... and {len(problems) - MAX_LISTED} more", file=sys.stderr)
