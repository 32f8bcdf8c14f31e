"""`asr lm tune`: pick beam-search weights on a dev set. The acoustic model runs once per
utterance and its log-probabilities are cached; every trial then only decodes, in parallel
over the cores, and is scored with the same normalizer as `asr evaluate`. The best options
and the LM are stored in the model directory (or a copy of it), never in the bundled model."""

from __future__ import annotations

import itertools
import json
import random
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from tqdm import tqdm

from asr.decoding import DecoderMethod, DecoderOptions, named_files
from asr.decoding_pool import ParallelDecoder
from asr.errors import ConfigError, UsageError
from asr.fileio import atomic_write_bytes
from asr.manifests import ManifestEntry, read_manifest
from asr.model_dir import write_decoder
from asr.model_runs import run_model
from asr.scoring import NormalizerName, corpus_score, get_normalizer, score_utterance
from asr.transcribe import DEFAULT_MODEL_DIR, Recognizer, load_model

TUNE_LM_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # the default grid
TUNE_WORD_SCORES = (-1.0, 0.0, 1.0, 2.0, 3.0)


@dataclass(frozen=True)
class CachedUtterance:
    audio_filepath: str
    reference: str
    duration: float
    log_probs: torch.Tensor  # (frames, vocab), float32


@dataclass(frozen=True)
class Trial:
    options: DecoderOptions
    wer: float
    cer: float
    decode_seconds: float  # wall time for the whole set


def cache_log_probs(recognizer: Recognizer, entries: Sequence[ManifestEntry], progress: bool = True) -> list[CachedUtterance]:
    """Run the acoustic model once over a manifest; unreadable files are reported and left out."""
    return [
        CachedUtterance(str(run.entry.audio_filepath), run.entry.text, run.duration, run.log_probs.float().contiguous())
        for run in run_model(recognizer, entries, progress)
        if run.log_probs is not None
    ]


def save_cache(path: str | Path, items: Sequence[CachedUtterance], model: str) -> None:
    """One safetensors file: a tensor per utterance, the references and the model in metadata."""
    tensors = {f"u{index}": item.log_probs for index, item in enumerate(items)}
    rows = [{"audio_filepath": i.audio_filepath, "reference": i.reference, "duration": i.duration} for i in items]
    atomic_write_bytes(Path(path), save(tensors, metadata={"utterances": json.dumps(rows), "model": model}))


def load_cache(path: str | Path) -> tuple[list[CachedUtterance], str]:
    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (safe_open is not a dict)
        rows = json.loads(metadata["utterances"])
    except (OSError, SafetensorError, KeyError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a log-prob cache written by `asr lm tune` ({exc})") from exc
    items = [CachedUtterance(r["audio_filepath"], r["reference"], float(r["duration"]), tensors[f"u{i}"]) for i, r in enumerate(rows)]
    return items, metadata.get("model", "")


def score_trial(items: Sequence[CachedUtterance], texts: Sequence[str], normalizer: NormalizerName) -> tuple[float, float]:
    normalize = get_normalizer(normalizer)
    score = corpus_score([score_utterance(normalize(i.reference), normalize(t)) for i, t in zip(items, texts, strict=True)], samples=0)
    return score.wer, score.cer


def search_grid(
    base: DecoderOptions, lm_weights: Sequence[float], word_scores: Sequence[float], beam_sizes: Sequence[int], trials: int = 0, seed: int = 0
) -> list[DecoderOptions]:
    """Every combination, or `trials` of them drawn at random (the same ones for the same seed)."""
    grid = [replace(base, lm_weight=a, word_score=b, beam_size=k) for k, a, b in itertools.product(beam_sizes, lm_weights, word_scores)]
    if 0 < trials < len(grid):
        grid = random.Random(seed).sample(grid, trials)
    return grid


def run_trials(items: Sequence[CachedUtterance], decoder: ParallelDecoder, grid: Sequence[DecoderOptions], normalizer: NormalizerName) -> list[Trial]:
    log_probs = [item.log_probs for item in items]
    results = []
    for options in tqdm(grid, desc="trials", unit="trial", file=sys.stderr):
        started = time.perf_counter()
        texts = [text for text, _ in decoder.decode(options, log_probs)]
        wer, cer = score_trial(items, texts, normalizer)
        results.append(Trial(options, wer, cer, time.perf_counter() - started))
    return results


def best_trial(trials: Sequence[Trial]) -> Trial:
    """Lowest WER; ties go to the lower CER, then the smaller (faster) beam."""
    return min(trials, key=lambda t: (round(t.wer, 6), round(t.cer, 6), t.options.beam_size))


def format_trials(trials: Sequence[Trial], greedy: tuple[float, float] | None = None) -> str:
    lines = ["| decoder | beam | lm_weight | word_score | WER % | CER % | decode s |", "|---|---|---|---|---|---|---|"]
    if greedy is not None:
        lines.append(f"| greedy | - | - | - | {100 * greedy[0]:.2f} | {100 * greedy[1]:.2f} | - |")
    for t in sorted(trials, key=lambda t: (t.wer, t.cer)):
        o = t.options
        name = "beam + LM" if o.lm else "beam"
        lines.append(f"| {name} | {o.beam_size} | {o.lm_weight:g} | {o.word_score:g} | {100 * t.wer:.2f} | {100 * t.cer:.2f} | {t.decode_seconds:.1f} |")
    return "\n".join(lines) + "\n"


def store_decoder_defaults(model_dir: str | Path, options: DecoderOptions, default_method: DecoderMethod = "greedy") -> Path:
    """Copy the files that options name (the LM and its word list, a lexicon) into the model
    directory and store the options in its config.json, so that `--decoder beam` uses them
    without further flags; `default_method` is the decoder the model uses when none is asked
    for (the CLI, the API and the demo)."""
    model_dir = Path(model_dir)
    files: dict[str, Any] = {name: copy_into(model_dir, Path(file)) for copy_into, name, file in named_files(options)}
    return write_decoder(model_dir, replace(options, method=default_method, **files))


def is_package_file(path: Path) -> bool:
    """Whether path lies inside the installed asr package (the bundled model is there)."""
    return path.resolve().is_relative_to(Path(__file__).resolve().parent)


def tuning_target(model: str | Path | None, output: str | Path | None = None, dry_run: bool = False) -> Path | None:
    """The model directory tuning writes into (None for a dry run): `output`, a new copy of the
    model, or the model directory itself; never the package's bundled model. Checked before any
    work: a long run must not end in a refusal."""
    if dry_run:
        return None
    if output:
        output = Path(output)
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            raise UsageError(f"--output {output}: already exists; give a new folder for the tuned model")
        return output
    model = Path(model) if model else DEFAULT_MODEL_DIR
    if is_package_file(model):
        raise UsageError(
            f"{model} is the bundled model, part of the installed package, and is never changed: "
            "give --output NEW_DIR for a tuned copy, --model DIR for a model directory of your own, or --dry-run"
        )
    return model


@dataclass(frozen=True)
class TuneGrid:
    """The values to try (every combination, or `trials` of them drawn with `seed`)."""

    lm_weights: Sequence[float] = TUNE_LM_WEIGHTS
    word_scores: Sequence[float] = TUNE_WORD_SCORES
    beam_sizes: Sequence[int] = (32,)
    trials: int = 0
    seed: int = 0


@dataclass(frozen=True)
class Tuning:
    """What a tuning run found."""

    model: Path  # the model directory tuned
    trials: list[Trial]
    greedy: tuple[float, float]  # WER and CER of greedy decoding, for comparison
    best: Trial

    @property
    def default_method(self) -> DecoderMethod:
        """The better decoder on these dev sets, which becomes the model's default."""
        return "beam" if self.best.wer < self.greedy[0] else "greedy"


def _utterances(recognizer: Recognizer, manifests: Sequence[str | Path], cache: str | Path | None) -> list[CachedUtterance]:
    """The dev sets' log-probs: from the cache file when it exists, else from the model (and
    written to the cache file when one is named)."""
    model_name = str(recognizer.path)
    if cache and Path(cache).is_file():
        items, cached_model = load_cache(cache)
        if cached_model != model_name:
            print(f"warning: {cache} was made with {cached_model}, not {model_name}", file=sys.stderr)
    else:
        items = cache_log_probs(recognizer, [entry for manifest in manifests for entry in read_manifest(manifest, require_duration=False)])
        if cache:
            save_cache(cache, items, model_name)
    if not items:
        raise ValueError("no utterance could be read")
    return items


def tune(
    manifests: Sequence[str | Path],
    model: str | Path | None = None,
    changes: Mapping[str, Any] | None = None,
    grid: TuneGrid | None = None,
    normalizer: NormalizerName = "english",
    cache: str | Path | None = None,
    workers: int = 0,
) -> Tuning:
    """Decode the dev manifests with every option of the grid on top of the model's stored beam
    search (with `changes`, e.g. another lm), and greedy for comparison."""
    recognizer = load_model(model)
    base = replace(recognizer.decoder_defaults("beam"), **(changes or {}))
    for what, name in (("language model", base.lm), ("word list", base.lexicon)):
        if name is not None and not Path(name).is_file():
            raise ConfigError(f"{name}: {what} not found")  # before the model runs over the dev sets
    items = _utterances(recognizer, manifests, cache)
    grid = grid or TuneGrid()
    options = search_grid(base, grid.lm_weights, grid.word_scores, grid.beam_sizes, grid.trials, grid.seed)
    with ParallelDecoder(recognizer.tokenizer, recognizer.output_frame_seconds, workers) as decoder:
        greedy = score_trial(items, [text for text, _ in decoder.decode(DecoderOptions(), [i.log_probs for i in items])], normalizer)
        trials = run_trials(items, decoder, options, normalizer)
    return Tuning(recognizer.path or DEFAULT_MODEL_DIR, trials, greedy, best_trial(trials))


def save_tuning(tuning: Tuning, target: Path) -> Path:
    """Write the tuned model into `target` (see tuning_target): a copy of the tuned model when
    it is another folder, with the best options and the LM stored; the path of its config.json."""
    try:
        if target.resolve() != tuning.model.resolve():
            shutil.copytree(tuning.model, target, dirs_exist_ok=True)
        return store_decoder_defaults(target, tuning.best.options, tuning.default_method)
    except OSError as exc:
        raise OSError(f"cannot write the tuned model into {target}: {exc}") from exc
