"""The acoustic model over manifest entries: each utterance's log-probabilities, for evaluation
(which then decodes them) and `asr lm tune` (which caches them for its trials)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm import tqdm

from asr.audio import iter_audio_blocks
from asr.errors import AsrError
from asr.manifests import ManifestEntry
from asr.transcribe import Recognizer


@dataclass(frozen=True)
class ModelRun:
    """The acoustic model's output for one manifest entry."""

    entry: ManifestEntry
    log_probs: torch.Tensor | None  # (frames, vocab); None when the file could not be read
    duration: float  # seconds of audio read
    seconds: float  # wall time of reading, features and model
    error: str | None = None


def run_model(recognizer: Recognizer, entries: Sequence[ManifestEntry], progress: bool = False) -> list[ModelRun]:
    """Log-probs of every entry, in order; an unreadable file is reported and kept as an error."""
    runs = []
    for entry in tqdm(entries, desc="log-probs", unit="utt", disable=not progress, file=sys.stderr):
        started = time.perf_counter()
        try:
            log_probs, duration = recognizer.log_probs(iter_audio_blocks(entry.audio_filepath, recognizer.sample_rate))
            runs.append(ModelRun(entry, log_probs, duration, time.perf_counter() - started))
        except AsrError as exc:
            tqdm.write(f"error: {exc}", file=sys.stderr)
            runs.append(ModelRun(entry, None, 0.0, time.perf_counter() - started, str(exc)))
    return runs
