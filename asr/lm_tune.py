"""`asr lm tune`: pick beam-search weights on a dev set. The acoustic model runs once per
utterance and its log-probabilities are cached; every trial then only decodes, in parallel
over the cores, and is scored with the same normalizer as `asr evaluate`."""

from __future__ import annotations

import itertools
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from tqdm import tqdm

from asr.decoding import DecoderMethod, DecoderOptions, named_files
from asr.decoding_pool import ParallelDecoder
from asr.errors import ConfigError
from asr.fileio import atomic_write_bytes
from asr.manifests import ManifestEntry
from asr.model_dir import write_decoder
from asr.model_runs import run_model
from asr.scoring import NormalizerName, corpus_score, get_normalizer, score_utterance
from asr.transcribe import Recognizer


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
