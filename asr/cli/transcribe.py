"""`asr transcribe`: audio files and folders in, transcripts out (stdout, and files in every
format the writers know)."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from asr.audio import audio_duration
from asr.cli.common import DEVICE, MODEL, QUANTIZATION, THREADS, VERBOSE, add_command, fail, quantization, use_threads
from asr.cli.decoder_flags import DECODER, decoder_options
from asr.errors import AsrError, UsageError
from asr.writers import OUTPUT_FORMATS

if TYPE_CHECKING:
    from asr.cli.common import Subcommands
    from asr.transcribe import Recognizer, TranscribeOptions
    from asr.writers import ResultStream, StdoutStream

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff", ".au", ".w64", ".caf", ".webm", ".wma"}
LONG_AUDIO_SECONDS = 120.0  # show a per-file progress bar above this length


def find_inputs(inputs: list[str]) -> Iterator[tuple[Path, Path]]:
    """(audio file, its name relative to the argument that named it): files as given (whatever
    their extension) by their file name; folders searched recursively for audio, each file by
    its path under the folder (kept in -o, so that x.wav in two subfolders gives two outputs)."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and not p.is_dir())
            # A folder without audio (e.g. one named "talk.wav") is reported, not silently skipped.
            yield from ((p, p.relative_to(path)) for p in found) if found else [(path, Path(path.name))]
        else:
            yield path, Path(path.name)  # a missing file is reported when it is read


def expand_inputs(inputs: list[str]) -> list[Path]:
    """The audio files that the arguments name (see find_inputs)."""
    return [path for path, _ in find_inputs(inputs)]


def output_folders(files: list[tuple[Path, Path]], output_dir: Path) -> list[Path]:
    """Each file's output folder: output_dir, with the subfolders it was found in. Two files that
    would write the same outputs (a/x.wav and b/x.wav given as files, x.wav beside x.flac) are
    refused before any work."""
    folders = [output_dir / relative.parent for _, relative in files]
    claimed: dict[Path, Path] = {}
    for (path, _), folder in zip(files, folders, strict=True):
        outputs = folder / path.stem
        first = claimed.setdefault(outputs, path)
        if first != path:
            raise UsageError(
                f"{first} and {path} would both be written to {outputs}.*: transcribe them in separate runs, "
                "or give the folder above them (its subfolders are kept under -o)"
            )
    return folders


class _SecondsBar:
    """A progress bar in audio seconds for one long file."""

    def __init__(self, name: str, seconds: float) -> None:
        self.seconds = seconds
        self.bar = tqdm(total=round(seconds), desc=name, unit="s", leave=False, file=sys.stderr)

    def advance_to(self, done: float) -> None:
        self.bar.update(round(min(done, self.seconds)) - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def _long_audio_bar(path: Path) -> _SecondsBar | None:
    try:
        seconds = audio_duration(path)
    except AsrError:
        return None  # transcribe() reports the problem
    return _SecondsBar(path.name, seconds) if seconds > LONG_AUDIO_SECONDS else None


def _print(text: str) -> None:
    """Transcript text to stdout, around any progress bar on the terminal."""
    tqdm.write(text, file=sys.stdout, end="")
    sys.stdout.flush()


def _check_output_args(args: argparse.Namespace, files: int) -> None:
    if args.output_dir != "-":
        return
    if args.output_format == "all":
        raise UsageError("-o - writes one format to stdout: choose it with -f, or give -o a folder for all of them")
    if files > 1 and args.output_format not in (None, "txt"):
        raise UsageError(f"-o - writes {args.output_format} for one audio file only; give -o a folder for {files} files")


def _stdout_stream(args: argparse.Namespace, path: Path, show_names: bool) -> StdoutStream | None:
    """Where a file's transcript goes on stdout: -o - in the -f format, else (unless -q) one
    line per segment, after its times with --timestamps, after the file's name for several files."""
    from asr.writers import StdoutStream, TimedTxtWriter, TxtWriter, get_writers

    if args.output_dir == "-":
        writer = get_writers(args.output_format or "txt")[0]
    elif args.quiet:
        return None
    else:
        writer = TimedTxtWriter() if args.timestamps else TxtWriter()
    prefix = f"{path}: " if show_names and isinstance(writer, (TxtWriter, TimedTxtWriter)) else ""
    return StdoutStream(writer, _print, prefix)


def _load_for_transcription(args: argparse.Namespace) -> tuple[Recognizer, TranscribeOptions]:
    from asr.transcribe import TranscribeOptions, load_model

    recognizer = load_model(args.model, device=args.device, quantize=quantization(args))
    options = TranscribeOptions(batch_size=args.batch_size, decoder=decoder_options(args, recognizer))
    recognizer.decoding.prepare(options.decoder)  # a bad --lm or --lexicon: one message, before any file
    return recognizer, options


def cmd_transcribe(args: argparse.Namespace) -> int:
    from asr.writers import get_writers

    use_threads(args)
    for stream in (sys.stdout, sys.stderr):
        # A file name that is not valid UTF-8 must not crash printing its transcript or its error.
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")
    files = list(find_inputs(args.inputs))
    try:
        _check_output_args(args, len(files))
        to_folder = args.output_dir != "-" and (args.output_format is not None or args.output_dir is not None)
        writers = get_writers(args.output_format or "txt") if to_folder else []
        folders = output_folders(files, Path(args.output_dir or ".")) if to_folder else [Path()] * len(files)
        recognizer, options = _load_for_transcription(args)
    except (AsrError, ValueError) as exc:
        fail(exc, args.verbose)
        return 2
    failed = 0
    for (path, _), folder in tqdm(list(zip(files, folders, strict=True)), desc="files", unit="file", disable=len(files) < 2 or args.quiet, file=sys.stderr):
        printer = _stdout_stream(args, path, show_names=len(files) > 1)
        failed += not _transcribe_file(recognizer, options, path, [writer.open(path, folder) for writer in writers], printer, args)
    if failed:
        tqdm.write(f"{failed} of {len(files)} file(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _transcribe_file(
    recognizer: Recognizer, options: TranscribeOptions, path: Path, streams: list[ResultStream], printer: StdoutStream | None, args: argparse.Namespace
) -> bool:
    """Transcribe one file into its output streams (cues go to <name>.<ext>.partial as they are
    decoded, so a crash or Ctrl-C in a long recording keeps everything transcribed up to then)
    and to stdout; False when it failed (reported)."""
    from asr.writers import feed_all

    bar = _long_audio_bar(path) if not args.quiet else None
    outputs: list[ResultStream | StdoutStream] = [*streams, *([printer] if printer else [])]
    try:
        transcript = recognizer.transcribe(path, options=options, progress=bar.advance_to if bar else None, on_segment=feed_all(outputs))
        for output in outputs:
            output.close(transcript)
    except BaseException as exc:
        kept = [str(partial) for stream in streams if (partial := stream.abort()) is not None]
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit
            if kept:
                tqdm.write(f"the transcript so far is in {', '.join(kept)}", file=sys.stderr)
            raise
        fail(exc, args.verbose, path)  # one bad file must not stop the batch
        if kept:
            tqdm.write(f"note: the transcript up to the failure is in {', '.join(kept)}", file=sys.stderr)
        return False
    finally:
        if bar:
            bar.close()
    if not transcript.text:
        tqdm.write(f"warning: {path}: no speech recognized", file=sys.stderr)
    return True


def add_parser(sub: Subcommands) -> None:
    tr = add_command(
        sub,
        "transcribe",
        cmd_transcribe,
        "transcribe audio files",
        "Transcribe audio files or folders of audio. Text goes to stdout, a line per segment as it is decoded; -f/-o also write files.",
        [MODEL, DEVICE, THREADS, QUANTIZATION, VERBOSE, DECODER],
    )
    tr.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files, or folders searched recursively for audio")
    tr.add_argument("--output-format", "-f", choices=OUTPUT_FORMATS, default=None, help="output file format (default txt when -o is given)")
    tr.add_argument(
        "--output-dir",
        "-o",
        default=None,
        help="folder for output files, named after each audio file, with the subfolders of a folder given as input kept "
        "(default: current folder when -f is given); '-' writes the -f format to stdout",
    )
    tr.add_argument("--timestamps", "-t", action="store_true", help="print each segment's start and end before its text on stdout")
    tr.add_argument("--batch-size", type=int, default=4, help="30-second windows run through the model at once (default 4)")
    tr.add_argument("--quiet", "-q", action="store_true", help="print no transcripts or progress, only errors")
