"""Command-line options for decoders (`asr transcribe`, `asr evaluate`) and the `asr lm`
subcommands: build an n-gram LM, tune beam-search weights on a dev set."""

from __future__ import annotations

import argparse
import shutil
import sys
import typing
from collections.abc import Collection
from dataclasses import Field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr.constants import TUNE_LM_WEIGHTS, TUNE_WORD_SCORES
from asr.decoding import DecoderMethod, DecoderOptions

if TYPE_CHECKING:
    from asr.transcribe import Recognizer


def _flag(option: Field[Any]) -> str:
    return str(option.metadata["flag"] or "--" + option.name.replace("_", "-"))


def add_decoder_arguments(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
    """A flag for each DecoderOptions field (or those named), from the field's type and metadata.
    A flag not given leaves its attribute out of the parsed namespace: the model directory's
    stored value applies."""
    group = parser.add_argument_group("decoding")
    hints = typing.get_type_hints(DecoderOptions)
    for option in fields(DecoderOptions):
        if names is not None and option.name not in names:
            continue
        hint = hints[option.name]
        choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None
        scalar = next((t for t in (int, float) if hint is t), str)
        parse = option.metadata["parse"] or scalar
        group.add_argument(_flag(option), dest=option.name, type=parse, choices=choices, default=argparse.SUPPRESS, help=option.metadata["help"])


def given_decoder_options(args: argparse.Namespace) -> dict[str, Any]:
    """The DecoderOptions fields whose flags were given, with their values."""
    return {option.name: getattr(args, option.name) for option in fields(DecoderOptions) if hasattr(args, option.name)}


def check_decoder_files(options: DecoderOptions) -> None:
    """The LM and word list that options name exist (checked before a long run, not in it)."""
    from asr.errors import ConfigError

    for what, name in (("language model", options.lm), ("word list", options.lexicon)):
        if name is not None and not Path(name).is_file():
            raise ConfigError(f"{name}: {what} not found")


def decoder_options(args: argparse.Namespace, recognizer: Recognizer) -> DecoderOptions:
    """The decoder the flags ask for, on top of the model directory's stored defaults."""
    given = given_decoder_options(args)
    method = given.pop("method", None) or recognizer.default_decoder().method
    if method == "greedy":
        if given:
            flags = ", ".join(_flag(option) for option in fields(DecoderOptions) if option.name in given)
            raise ValueError(f"{flags} only apply to --decoder beam")
        return DecoderOptions()
    return replace(recognizer.decoder_defaults("beam"), **given)


# -- asr lm -----------------------------------------------------------------------------------------


def cmd_lm_build(args: argparse.Namespace) -> int:
    from asr.constants import DEFAULT_ALPHABET
    from asr.errors import AsrError
    from asr.lm import build_lm
    from asr.manifests import read_manifest
    from asr.model_dir import read_model_config

    try:
        alphabet = read_model_config(args.model).alphabet if args.model else DEFAULT_ALPHABET
        held_out = [entry.text for manifest in args.exclude for entry in read_manifest(manifest, require_duration=False)]
        built = build_lm(args.texts, args.output, order=args.order, prune=args.prune, alphabet=alphabet, use_kenlm=not args.builtin, exclude=held_out)
    except AsrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{n + 1}-grams {c}" for n, c in enumerate(built.ngrams))
    left_out = f"; {built.excluded} held-out lines left out" if args.exclude else ""
    print(f"{built.path}: {built.words} words{'; ' + counts if counts else ''} (built with {built.tool}){left_out}")
    return 0


def cmd_lm_tune(args: argparse.Namespace) -> int:
    from asr.decoding_pool import ParallelDecoder
    from asr.errors import AsrError
    from asr.lm_tune import (
        best_trial,
        cache_log_probs,
        format_trials,
        load_cache,
        run_trials,
        save_cache,
        score_trial,
        search_grid,
        store_decoder_defaults,
    )
    from asr.manifests import read_manifest
    from asr.transcribe import load_model

    try:
        target = tuning_target(args)  # checked before any work: a long run must not end in a refusal
        recognizer = load_model(args.model)
        model_name = str(recognizer.path)
        base = replace(recognizer.decoder_defaults("beam"), **given_decoder_options(args))
        check_decoder_files(base)
        if args.cache and Path(args.cache).is_file():
            items, cached_model = load_cache(args.cache)
            if cached_model != model_name:
                print(f"warning: {args.cache} was made with {cached_model}, not {model_name}", file=sys.stderr)
        else:
            items = cache_log_probs(recognizer, [e for m in args.manifests for e in read_manifest(m, require_duration=False)])
            if args.cache:
                save_cache(args.cache, items, model_name)
        if not items:
            raise ValueError("no utterance could be read")
        grid = search_grid(base, args.lm_weights, args.word_scores, args.beam_sizes, args.trials, args.seed)
        with ParallelDecoder(recognizer.tokenizer, recognizer.frame_seconds, args.workers) as decoder:
            greedy = score_trial(items, [text for text, _ in decoder.decode(DecoderOptions(), [i.log_probs for i in items])], args.normalizer)
            trials = run_trials(items, decoder, grid, args.normalizer)
    except (AsrError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_trials(trials, greedy), end="")
    best = best_trial(trials)
    o = best.options
    print(f"best: beam {o.beam_size}, lm_weight {o.lm_weight:g}, word_score {o.word_score:g}: WER {100 * best.wer:.2f}% (greedy {100 * greedy[0]:.2f}%)")
    if target is None:
        return 0
    try:
        if args.output:
            shutil.copytree(recognizer.path or args.model, target)
        # The better decoder on these dev sets becomes the model's default.
        default_method: DecoderMethod = "beam" if best.wer < greedy[0] else "greedy"
        path = store_decoder_defaults(target, o, default_method)
    except OSError as exc:
        print(f"error: cannot write the tuned model into {target}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote the LM and these settings into {path}; `--decoder beam` uses them, and {default_method} decoding is the model's default")
    return 0


def is_package_file(path: Path) -> bool:
    """Whether path lies inside the installed asr package (the bundled model is there)."""
    import asr

    return path.resolve().is_relative_to(Path(asr.__file__).resolve().parent)


def tuning_target(args: argparse.Namespace) -> Path | None:
    """The model directory `asr lm tune` writes into (None for --dry-run): --output, a new copy
    of the model, or the --model directory itself; never the package's bundled model."""
    from asr.errors import UsageError
    from asr.transcribe import DEFAULT_MODEL_DIR

    if args.dry_run:
        return None
    if args.output:
        output = Path(args.output)
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            raise UsageError(f"--output {output}: already exists; give a new folder for the tuned model")
        return output
    model = Path(args.model) if args.model else DEFAULT_MODEL_DIR
    if is_package_file(model):
        raise UsageError(
            f"{model} is the bundled model, part of the installed package, and is never changed: "
            "give --output NEW_DIR for a tuned copy, --model DIR for a model directory of your own, or --dry-run"
        )
    return model


def add_lm_parser(sub: Any) -> None:
    lm = sub.add_parser("lm", help="build and tune n-gram language models for beam search", description="Language models for beam search.")
    lm_sub = lm.add_subparsers(dest="lm_command", required=True)

    build = lm_sub.add_parser(
        "build",
        help="build a word n-gram LM from text",
        description="Build an interpolated modified Kneser-Ney n-gram LM from plain text (one sentence or utterance per line), normalized like "
        "training transcripts. Uses KenLM's lmplz when it is on PATH (bash recipes/lm/install_kenlm.sh), else a built-in estimator that gives "
        "the same probabilities. -o x.arpa writes ARPA; -o x.bin a KenLM binary (needs build_binary). A word list x.vocab goes beside it.",
    )
    build.add_argument("texts", nargs="+", metavar="TEXT", help="plain-text files")
    build.add_argument("--output", "-o", required=True, help="LM file to write (.arpa or .bin)")
    build.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    build.add_argument("--prune", type=int, nargs="+", default=None, metavar="COUNT", help="per order, drop n-grams seen at most COUNT times, e.g. 0 1 1")
    build.add_argument("--model", "-m", default=None, help="normalize text for this model directory's alphabet (default: English letters)")
    build.add_argument("--builtin", action="store_true", help="use the built-in estimator even when lmplz is installed")
    build.add_argument(
        "--exclude", nargs="+", default=[], metavar="MANIFEST", help="leave out text lines that are transcripts of these manifests (dev and test sets)"
    )
    build.set_defaults(func=cmd_lm_build)

    tune = lm_sub.add_parser(
        "tune",
        help="tune beam-search weights on a dev set and store them in the model directory",
        description="Run the model once over dev manifests (log-probs cached), then decode with every combination of LM weight, word score "
        "and beam size, print the table, and write the LM and the best values into the model directory (or a copy of it: --output). "
        "The bundled model is never changed.",
    )
    tune.add_argument("manifests", nargs="+", metavar="MANIFEST", help="dev-set JSONL manifests (audio_filepath, text; duration is optional)")
    tune.add_argument("--model", "-m", default=None, help="model directory to tune and write into (default: the bundled model, with --output or --dry-run)")
    tune.add_argument("--output", "-o", default=None, help="write the tuned model (a copy of --model with the LM and settings) to this new folder instead")
    add_decoder_arguments(tune, ("lm", "lexicon"))  # the LM to tune with (default: the model directory's own)
    tune.add_argument("--lm-weights", type=float, nargs="+", default=list(TUNE_LM_WEIGHTS), help="alpha values to try")
    tune.add_argument("--word-scores", type=float, nargs="+", default=list(TUNE_WORD_SCORES), help="beta values to try")
    tune.add_argument("--beam-sizes", type=int, nargs="+", default=[32], help="beam sizes to try (default 32)")
    tune.add_argument("--trials", type=int, default=0, help="try this many random combinations instead of all")
    tune.add_argument("--seed", type=int, default=0, help="seed for --trials")
    tune.add_argument("--normalizer", choices=["english", "basic", "none"], default="english", help="text normalization for scoring (as in asr evaluate)")
    tune.add_argument("--cache", default=None, help="log-prob cache file (.safetensors): reused when it exists, written otherwise")
    tune.add_argument("--workers", type=int, default=0, help="decoding processes (default: one per core)")
    tune.add_argument("--dry-run", action="store_true", help="print the table only; leave the model directory unchanged")
    tune.set_defaults(func=cmd_lm_tune)
