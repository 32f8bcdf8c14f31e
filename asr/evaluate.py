"""Scoring a model on a manifest: WER and CER with jiwer, references and hypotheses
normalized the same way, and the speed of the whole pipeline."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jiwer

from asr.data import read_manifest
from asr.tokenizer import normalize_text
from asr.transcribe import Recognizer


@dataclass(frozen=True)
class Score:
    manifest: str
    utterances: int
    words: int
    wer: float
    cer: float
    audio_seconds: float
    wall_seconds: float

    @property
    def speed(self) -> float:
        """Audio seconds transcribed per wall-clock second."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds else float("inf")


def score_manifest(recognizer: Recognizer, manifest: str | Path) -> tuple[Score, list[tuple[str, str]]]:
    """Transcribe every utterance from its file (decoding, features, model, decoding all timed)
    and return the score with the normalized (reference, hypothesis) pairs."""
    entries = read_manifest(manifest)
    pairs: list[tuple[str, str]] = []
    audio_seconds = 0.0
    started = time.perf_counter()
    for entry in entries:
        result = recognizer.transcribe(entry.audio_filepath)
        audio_seconds += result.duration
        pairs.append((normalize_text(entry.text), normalize_text(result.text)))
    wall = time.perf_counter() - started
    refs = [r for r, _ in pairs]
    hyps = [h for _, h in pairs]
    score = Score(
        manifest=str(manifest),
        utterances=len(pairs),
        words=sum(len(r.split()) for r in refs),
        wer=float(jiwer.wer(refs, hyps)) if pairs else float("nan"),
        cer=float(jiwer.cer(refs, hyps)) if pairs else float("nan"),
        audio_seconds=audio_seconds,
        wall_seconds=wall,
    )
    return score, pairs
