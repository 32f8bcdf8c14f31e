"""`asr lm build` and `asr lm tune`: n-gram language models for beam search, and the beam-search
weights that suit a model, stored in its directory."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from asr.cli.common import MODEL, VERBOSE, add_command, reports
from asr.cli.decoder_flags import add_decoder_arguments, given_decoder_options
from asr.cli.evaluate import add_normalizer_argument
from asr.errors import AsrError
from asr.lm_tune import TUNE_LM_WEIGHTS, TUNE_WORD_SCORES

if TYPE_CHECKING:
    from asr.cli.common import Subcommands


@reports(AsrError)
def cmd_lm_build(args: argparse.Namespace) -> int:
    from asr.lm import build_lm
    from asr.manifests import read_manifest
    from asr.model_dir import read_model_config
    from asr.transcribe import DEFAULT_MODEL_DIR

    alphabet = read_model_config(args.model or DEFAULT_MODEL_DIR).alphabet
    held_out = [entry.text for manifest in args.exclude for entry in read_manifest(manifest, require_duration=False)]
    built = build_lm(args.texts, args.output, order=args.order, prune=args.prune, alphabet=alphabet, use_kenlm=not args.builtin, exclude=held_out)
    counts = ", ".join(f"{n + 1}-grams {c}" for n, c in enumerate(built.ngrams))
    left_out = f"; {built.excluded} held-out lines left out" if args.exclude else ""
    print(f"{built.path}: {built.words} words{'; ' + counts if counts else ''} (built with {built.tool}){left_out}")
    return 0


@reports(AsrError, ValueError, OSError)
def cmd_lm_tune(args: argparse.Namespace) -> int:
    from asr.lm_tune import TuneGrid, format_trials, save_tuning, tune, tuning_target

    target = tuning_target(args.model, args.output, args.dry_run)  # before any work: a long run must not end in a refusal
    grid = TuneGrid(args.lm_weights, args.word_scores, args.beam_sizes, args.trials, args.seed)
    tuning = tune(args.manifests, args.model, given_decoder_options(args), grid, args.normalizer, args.cache, args.workers)
    print(format_trials(tuning.trials, tuning.greedy), end="")
    best, o = tuning.best, tuning.best.options
    print(f"best: beam {o.beam_size}, lm_weight {o.lm_weight:g}, word_score {o.word_score:g}: WER {100 * best.wer:.2f}% (greedy {100 * tuning.greedy[0]:.2f}%)")
    if target is not None:
        path = save_tuning(tuning, target)
        print(f"wrote the LM and these settings into {path}; `--decoder beam` uses them, and {tuning.default_method} decoding is the model's default")
    return 0


def _add_build_parser(lm_sub: Subcommands) -> None:
    build = add_command(
        lm_sub,
        "build",
        cmd_lm_build,
        "build a word n-gram LM from text",
        "Build an interpolated modified Kneser-Ney n-gram LM from plain text (one sentence or utterance per line), normalized like "
        "training transcripts for the --model's alphabet. Uses KenLM's lmplz when it is on PATH (bash recipes/lm/install_kenlm.sh), else a "
        "built-in estimator that gives the same probabilities. -o x.arpa writes ARPA; -o x.bin a KenLM binary (needs build_binary). "
        "A word list x.vocab goes beside it.",
        [MODEL, VERBOSE],
    )
    build.add_argument("texts", nargs="+", metavar="TEXT", help="plain-text files")
    build.add_argument("--output", "-o", required=True, help="LM file to write (.arpa or .bin)")
    build.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    build.add_argument("--prune", type=int, nargs="+", default=None, metavar="COUNT", help="per order, drop n-grams seen at most COUNT times, e.g. 0 1 1")
    build.add_argument("--builtin", action="store_true", help="use the built-in estimator even when lmplz is installed")
    build.add_argument(
        "--exclude", nargs="+", default=[], metavar="MANIFEST", help="leave out text lines that are transcripts of these manifests (dev and test sets)"
    )


def _add_tune_parser(lm_sub: Subcommands) -> None:
    tune = add_command(
        lm_sub,
        "tune",
        cmd_lm_tune,
        "tune beam-search weights on a dev set and store them in the model directory",
        "Run the --model once over dev manifests (log-probs cached), then decode with every combination of LM weight, word score "
        "and beam size, print the table, and write the LM and the best values into the model directory (or a copy of it: --output). "
        "The bundled model is never changed: tune it with --output or --dry-run. --lm defaults to the model directory's own.",
        [MODEL, VERBOSE],
    )
    tune.add_argument("manifests", nargs="+", metavar="MANIFEST", help="dev-set JSONL manifests (audio_filepath, text; duration is optional)")
    tune.add_argument("--output", "-o", default=None, help="write the tuned model (a copy of --model with the LM and settings) to this new folder instead")
    add_decoder_arguments(tune, ("lm", "lexicon"))
    tune.add_argument("--lm-weights", type=float, nargs="+", default=list(TUNE_LM_WEIGHTS), help="alpha values to try")
    tune.add_argument("--word-scores", type=float, nargs="+", default=list(TUNE_WORD_SCORES), help="beta values to try")
    tune.add_argument("--beam-sizes", type=int, nargs="+", default=[32], help="beam sizes to try (default 32)")
    tune.add_argument("--trials", type=int, default=0, help="try this many random combinations instead of all")
    tune.add_argument("--seed", type=int, default=0, help="seed for --trials")
    add_normalizer_argument(tune)
    tune.add_argument("--cache", default=None, help="log-prob cache file (.safetensors): reused when it exists, written otherwise")
    tune.add_argument("--workers", type=int, default=0, help="decoding processes (default: one per core)")
    tune.add_argument("--dry-run", action="store_true", help="print the table only; leave the model directory unchanged")


def add_parser(sub: Subcommands) -> None:
    lm = sub.add_parser("lm", help="build and tune n-gram language models for beam search", description="Language models for beam search.")
    lm_sub = lm.add_subparsers(dest="lm_command", required=True)
    _add_build_parser(lm_sub)
    _add_tune_parser(lm_sub)
