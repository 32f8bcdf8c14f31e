"""The `asr` command: `asr transcribe` and `asr train`."""

from __future__ import annotations

import argparse
import io
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from asr import __version__
from asr.cli_decoding import add_decoder_arguments, add_lm_parser, decoder_options
from asr.constants import DEMO_MAX_SECONDS
from asr.errors import AsrError, UsageError
from asr.inference import Quantization

if TYPE_CHECKING:
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
    from asr.audio import audio_duration

    try:
        seconds = audio_duration(path)
    except AsrError:
        return None  # transcribe() reports the problem
    return _SecondsBar(path.name, seconds) if seconds > LONG_AUDIO_SECONDS else None


MAX_MESSAGE_CHARS = 400


def error_message(exc: BaseException, path: object = None) -> str:
    """One line for an error: our own errors, bad values and OS errors as they read (they name
    what is wrong), anything else with its type; `path` in front when the error is about it."""
    text = str(exc) if isinstance(exc, (AsrError, ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
    if path is not None and not isinstance(exc, AsrError):
        text = f"{path}: {text}"
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def _fail(exc: BaseException, verbose: bool, path: object = None) -> None:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    tqdm.write(f"error: {error_message(exc, path)}", file=sys.stderr)


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

    if args.threads:
        torch.set_num_threads(args.threads)
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
        _fail(exc, args.verbose)
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
        _fail(exc, args.verbose, path)  # one bad file must not stop the batch
        if kept:
            tqdm.write(f"note: the transcript up to the failure is in {', '.join(kept)}", file=sys.stderr)
        return False
    finally:
        if bar:
            bar.close()
    if not transcript.text:
        tqdm.write(f"warning: {path}: no speech recognized", file=sys.stderr)
    return True


def cmd_train(args: argparse.Namespace) -> int:
    from asr.train import train
    from asr.train_config import load_train_config

    try:
        threads = [f"threads={args.threads}"] if args.threads else []
        config = load_train_config(args.config, [*args.overrides, *threads])
        best = train(config)
    except (AsrError, ValueError) as exc:
        _fail(exc, args.verbose)
        return 2
    print(f"best model: {best}")
    return 0


MAX_LISTED = 20  # problems listed one by one before "... and N more"


def _list_problems(problems: list[str]) -> None:
    for problem in problems[:MAX_LISTED]:
        tqdm.write(f"error: {problem}", file=sys.stderr)
    if len(problems) > MAX_LISTED:
        tqdm.write(f"error: ... and {len(problems) - MAX_LISTED} more", file=sys.stderr)


def _check_audio_files(args: argparse.Namespace) -> None:
    """Before the model runs: every audio file a manifest names exists (unless --keep-going)."""
    from asr.evaluate import missing_audio_files

    missing = missing_audio_files(args.manifests) if not args.hypotheses and not args.keep_going else []
    if missing:
        _list_problems([f"{path}: file not found" for path in missing])
        raise UsageError(f"{len(missing)} audio file(s) not found: fix the manifest(s), or pass --keep-going to score them as empty transcripts")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from asr.evaluate import evaluate, format_table
    from asr.transcribe import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        _check_audio_files(args)
        recognizer = None if args.hypotheses else load_model(args.model, device=args.device, quantize=quantization(args))
        decoder = decoder_options(args, recognizer) if recognizer is not None else None
        if recognizer is not None and decoder is not None:
            recognizer.decoding.prepare(decoder)  # a bad --lm: one message, before any audio
        results = evaluate(args.manifests, recognizer, args.hypotheses or (), args.normalizer, args.output_dir, decoder)
    except (AsrError, ValueError, OSError) as exc:
        _fail(exc, args.verbose)
        return 2
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


def cmd_prepare(args: argparse.Namespace) -> int:
    from asr.prepare import LAYOUTS, write_manifest

    report = write_manifest(LAYOUTS[args.layout](Path(args.source)), Path(args.output))
    for problem in report.problems:
        tqdm.write(f"skipped: {problem}", file=sys.stderr)
    print(f"{args.output}: {report.written} utterances, {report.hours:.2f} h; {len(report.problems)} skipped")
    return 0 if report.written else 1


def cmd_average(args: argparse.Namespace) -> int:
    from asr.averaging import average_models

    try:
        target = average_models(args.models, args.output)
    except (AsrError, ValueError) as exc:
        _fail(exc, args.verbose)
        return 2
    print(f"{target}: average of {len(args.models)} models")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from asr.demo.app import launch_demo
    except ImportError as exc:
        print(f"error: the demo needs Gradio ({exc}); install it with: pip install 'asr[demo]'", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        launch_demo(args.model, args.port, args.share, args.max_seconds, args.host)
    except AsrError as exc:
        _fail(exc, args.verbose)
        return 2
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from asr.export import export_model
    from asr.transcribe import DEFAULT_MODEL_DIR

    try:
        target = export_model(args.model or DEFAULT_MODEL_DIR, args.output, args.format)
    except (AsrError, ValueError, OSError) as exc:
        _fail(exc, args.verbose)
        return 2
    print(f"{target}: {args.format} model (waveforms -> log-probs; see README, Speed and deployment)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from asr.bench import bench, default_files, format_bench_table

    files = list(expand_inputs(args.inputs)) if args.inputs else default_files()
    if not files:
        tqdm.write("error: no audio files to benchmark (give FILE_OR_DIR)", file=sys.stderr)
        return 2
    variants: list[Quantization] = []
    if args.int8:
        variants.append("int8")
    if args.bf16:
        variants.append("bf16")
    results = bench(files, args.model, peers=args.peers, quantizations=variants, threads=args.threads)
    print(format_bench_table(results), end="")
    return 1 if any(r.error and r.system.startswith("asr") for r in results) else 0


def add_quantization_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--int8", action="store_true", help="int8 LSTM and output weights (CPU only): faster, slightly less accurate")
    group.add_argument("--bf16", action="store_true", help="run the network in bfloat16: about 1.5x faster on CPUs with AVX512-BF16 or AMX, slower on others")


def quantization(args: argparse.Namespace) -> Quantization | None:
    return "int8" if args.int8 else "bf16" if args.bf16 else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr", description="Speech recognition with BiLSTM-CTC models.")
    parser.add_argument("--version", action="version", version=f"asr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser(
        "transcribe",
        help="transcribe audio files",
        description="Transcribe audio files or folders of audio. Text goes to stdout, a line per segment as it is decoded; -f/-o also write files.",
    )
    tr.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files, or folders searched recursively for audio")
    tr.add_argument("--model", "-m", default=None, help="model directory (config.json + model.safetensors); default: the bundled English model")
    tr.add_argument(
        "--output-format", "-f", choices=["txt", "json", "srt", "vtt", "tsv", "all"], default=None, help="output file format (default txt when -o is given)"
    )
    tr.add_argument(
        "--output-dir",
        "-o",
        default=None,
        help="folder for output files, named after each audio file, with the subfolders of a folder given as input kept "
        "(default: current folder when -f is given); '-' writes the -f format to stdout",
    )
    tr.add_argument("--timestamps", "-t", action="store_true", help="print each segment's start and end before its text on stdout")
    tr.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    tr.add_argument("--batch-size", type=int, default=4, help="30-second windows run through the model at once (default 4)")
    tr.add_argument("--threads", type=int, default=0, help="CPU threads for the model (default: torch's choice, all cores)")
    add_quantization_arguments(tr)
    tr.add_argument("--quiet", "-q", action="store_true", help="print no transcripts or progress, only errors")
    tr.add_argument("--verbose", "-v", action="store_true", help="print full tracebacks for errors")
    add_decoder_arguments(tr)
    tr.set_defaults(func=cmd_transcribe)

    ev = sub.add_parser(
        "evaluate",
        help="WER/CER and speed of a model on JSONL manifests",
        description="Transcribe manifests (or score hypotheses from elsewhere) and report WER, CER with a bootstrap 95% interval, errors and speed. "
        "Exits with 1 when an utterance could not be scored (unreadable audio, no hypothesis), unless --keep-going.",
    )
    ev.add_argument("manifests", nargs="+", metavar="MANIFEST", help="NeMo-style JSONL manifests (audio_filepath, text; duration is optional)")
    ev.add_argument("--model", "-m", default=None, help="model directory; default: the bundled English model")
    ev.add_argument(
        "--hypotheses", nargs="+", default=None, metavar="FILE", help="score these hypothesis files (JSONL or TSV, one per manifest) instead of running a model"
    )
    ev.add_argument(
        "--normalizer",
        choices=["english", "basic", "none"],
        default="english",
        help="text normalization for both sides (default: Whisper's English normalizer)",
    )
    ev.add_argument("--output-dir", "-o", default=None, help="write summary.md, per-utterance JSONL and errs-*.txt reports here")
    ev.add_argument(
        "--keep-going",
        action="store_true",
        help="score missing or unreadable audio and missing hypotheses as empty transcripts and exit 0 (each is still reported)",
    )
    add_decoder_arguments(ev)
    ev.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    ev.add_argument("--threads", type=int, default=0, help="CPU threads for the model (default: all cores)")
    add_quantization_arguments(ev)
    ev.add_argument("--verbose", "-v", action="store_true", help="print full tracebacks for errors")
    ev.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser(
        "prepare",
        help="make a JSONL manifest from a corpus folder",
        description="Write a NeMo-style JSONL manifest (audio_filepath, duration, text) from a corpus. Bad rows are reported and skipped.",
    )
    pr.add_argument("layout", choices=["librispeech", "ljspeech", "folder", "commonvoice", "an4"], help="corpus layout")
    pr.add_argument(
        "source",
        help="librispeech: a subset folder; ljspeech: the folder with metadata.csv; folder: any folder; commonvoice: a .tsv; "
        "an4: the an4 folder with etc/ and wav/ (both parts, rows marked with speaker and part)",
    )
    pr.add_argument("--output", "-o", required=True, help="manifest to write (.jsonl)")
    pr.set_defaults(func=cmd_prepare)

    av = sub.add_parser(
        "average", help="average the weights of several model directories", description="Average the weights of models of one shape (e.g. exp/epochs/*)."
    )
    av.add_argument("models", nargs="+", metavar="MODEL_DIR", help="model directories of the same shape")
    av.add_argument("--output", "-o", required=True, help="model directory to write")
    av.add_argument("--verbose", "-v", action="store_true", help="print full tracebacks for errors")
    av.set_defaults(func=cmd_average)

    de = sub.add_parser(
        "demo", help="web demo: microphone and upload", description="Serve the Gradio web demo (needs: pip install 'asr[demo]'). The model is loaded once."
    )
    de.add_argument("--model", "-m", default=None, help="model directory; default: the bundled English model")
    de.add_argument("--port", type=int, default=None, help="port to listen on (default: 7860, or the next free one)")
    de.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    de.add_argument("--share", action="store_true", help="also serve through a public Gradio share link")
    de.add_argument("--max-seconds", type=float, default=DEMO_MAX_SECONDS, help=f"longest recording or upload accepted (default {DEMO_MAX_SECONDS:g})")
    de.add_argument("--threads", type=int, default=0, help="CPU threads for the model (default: all cores)")
    de.add_argument("--verbose", "-v", action="store_true", help="print full tracebacks for errors")
    de.set_defaults(func=cmd_demo)

    ex = sub.add_parser(
        "export",
        help="export a model as TorchScript or ONNX",
        description="Write one file that maps waveforms to CTC log-probs and runs without this package (torch.jit.load or onnxruntime).",
    )
    ex.add_argument("--format", choices=["torchscript", "onnx"], required=True, help="torchscript (.pt) or onnx (.onnx)")
    ex.add_argument("--model", "-m", default=None, help="model directory; default: the bundled English model")
    ex.add_argument("--output", "-o", required=True, help="file to write")
    ex.add_argument("--verbose", "-v", action="store_true", help="print full tracebacks for errors")
    ex.set_defaults(func=cmd_export)

    be = sub.add_parser(
        "bench",
        help="speed, load time and peak memory of the whole pipeline",
        description="Transcribe audio files (default: the bundled samples) in a fresh process per system and print speed "
        "(audio seconds per wall second, reading to writing), model-load time and peak RSS.",
    )
    be.add_argument("inputs", nargs="*", metavar="FILE_OR_DIR", help="audio files or folders (default: demo/examples)")
    be.add_argument("--model", "-m", default=None, help="model directory; default: the bundled English model")
    be.add_argument("--peers", action="store_true", help="also Whisper tiny.en (int8, greedy) and pocketsphinx, when installed")
    be.add_argument("--int8", action="store_true", help="also our model with int8 weights")
    be.add_argument("--bf16", action="store_true", help="also our model in bfloat16")
    be.add_argument("--threads", type=int, default=0, help="CPU threads for our model (default: all cores)")
    be.set_defaults(func=cmd_bench)

    tn = sub.add_parser(
        "train",
        help="train a model from a YAML config",
        description="Train a model. Resumes from OUTPUT_DIR/checkpoint.pt when it exists. Several GPUs: torchrun --nproc_per_node N -m asr train CONFIG.",
    )
    tn.add_argument("config", help="YAML config (see recipes/*/config.yaml); relative paths in it are relative to its folder")
    tn.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config fields, e.g. epochs=5 optim.lr=0.0005")
    tn.add_argument(
        "--threads", type=int, default=0, help="CPU threads per training process (the config's threads; default: the cores less one per loader worker)"
    )
    tn.add_argument("--verbose", "-v", action="store_true", help="print full tracebacks for errors")
    tn.set_defaults(func=cmd_train)

    add_lm_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result
