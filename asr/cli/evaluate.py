"""`asr evaluate`: WER and CER of a model (or of hypotheses made elsewhere) on JSONL manifests."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tqdm import tqdm

from asr.cli.common import DEVICE, MODEL, QUANTIZATION, THREADS, VERBOSE, add_command, list_problems, quantization, reports, use_threads
from asr.cli.decoder_flags import DECODER, decoder_options
from asr.errors import AsrError, UsageError
from asr.scoring import NORMALIZERS

if TYPE_CHECKING:
    from asr.cli.common import Subcommands


def _check_audio_files(args: argparse.Namespace) -> None:
    """Before the model runs: every audio file a manifest names exists (unless --keep-going)."""
    from asr.evaluate import missing_audio_files

    missing = missing_audio_files(args.manifests) if not args.hypotheses and not args.keep_going else []
    if missing:
        list_problems([f"{path}: file not found" for path in missing])
        raise UsageError(f"{len(missing)} audio file(s) not found: fix the manifest(s), or pass --keep-going to score them as empty transcripts")


@reports(AsrError, ValueError, OSError)
def cmd_evaluate(args: argparse.Namespace) -> int:
    from asr.evaluate import evaluate, format_table
    from asr.transcribe import load_model

    use_threads(args)
    _check_audio_files(args)
    recognizer = None if args.hypotheses else load_model(args.model, device=args.device, quantize=quantization(args))
    decoder = decoder_options(args, recognizer) if recognizer is not None else None
    if recognizer is not None and decoder is not None:
        recognizer.decoding.prepare(decoder)  # a bad --lm: one message, before any audio
    results = evaluate(args.manifests, recognizer, args.hypotheses or (), args.normalizer, args.output_dir, decoder)
    print(format_table(results), end="")
    if args.output_dir:
        print(f"reports in {args.output_dir}/ (summary.md, *.utterances.jsonl, errs-*.txt)", file=sys.stderr)
    failed = sum(len(result.failures) for result in results)
    if failed and not args.keep_going:
        tqdm.write(
            f"error: {failed} utterance(s) could not be scored (listed above) and count as empty transcripts in this table; "
            "fix them, or pass --keep-going to accept that",
            file=sys.stderr,
        )
        return 1
    if failed:
        tqdm.write(f"warning: {failed} utterance(s) scored as empty transcripts (--keep-going)", file=sys.stderr)
    return 0


def add_normalizer_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--normalizer", choices=NORMALIZERS, default="english", help="text normalization for both sides (default: Whisper's English normalizer)"
    )


def add_parser(sub: Subcommands) -> None:
    ev = add_command(
        sub,
        "evaluate",
        cmd_evaluate,
        "WER/CER and speed of a model on JSONL manifests",
        "Transcribe manifests (or score hypotheses from elsewhere) and report WER, CER with a bootstrap 95% interval, errors and speed. "
        "Exits with 1 when an utterance could not be scored (unreadable audio, no hypothesis), unless --keep-going.",
        [MODEL, DEVICE, THREADS, QUANTIZATION, VERBOSE, DECODER],
    )
    ev.add_argument("manifests", nargs="+", metavar="MANIFEST", help="NeMo-style JSONL manifests (audio_filepath, text; duration is optional)")
    ev.add_argument(
        "--hypotheses", nargs="+", default=None, metavar="FILE", help="score these hypothesis files (JSONL or TSV, one per manifest) instead of running a model"
    )
    add_normalizer_argument(ev)
    ev.add_argument("--output-dir", "-o", default=None, help="write summary.md, per-utterance JSONL and errs-*.txt reports here")
    ev.add_argument(
        "--keep-going",
        action="store_true",
        help="score missing or unreadable audio and missing hypotheses as empty transcripts and exit 0 (each is still reported)",
    )
