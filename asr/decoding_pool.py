"""Decoding many utterances on all cores: a pool of processes, each with its own decoders.

flashlight's beam search holds the GIL, so threads would not run decodes side by side."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch

from asr.decoding import DecoderOptions, Decoding
from asr.tokenizer import CharTokenizer

_WORKER: dict[str, Any] = {}


def _init_worker(alphabet: str, output_frame_seconds: float, threads: int) -> None:
    torch.set_num_threads(threads)
    _WORKER["decoding"] = Decoding(CharTokenizer(alphabet), output_frame_seconds)


def _decode_share(options: DecoderOptions, log_probs: list[torch.Tensor]) -> list[tuple[str, float]]:
    decoding: Decoding = _WORKER["decoding"]
    results = []
    for item in log_probs:
        started = time.perf_counter()
        words, _ = decoding.decode(item, options)
        results.append((" ".join(w.text for w in words), time.perf_counter() - started))
    return results


class ParallelDecoder:
    """Decodes lists of (frames, vocab) log-probs into texts over `workers` processes (default:
    one per core). Each worker keeps its decoders and loaded LMs from one call to the next."""

    def __init__(self, tokenizer: CharTokenizer, output_frame_seconds: float, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.pool: ProcessPoolExecutor | None = None
        if self.workers > 1:
            context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
            self.pool = ProcessPoolExecutor(self.workers, context, _init_worker, (tokenizer.alphabet, output_frame_seconds, 1))
        else:
            _init_worker(tokenizer.alphabet, output_frame_seconds, torch.get_num_threads())

    def decode(self, options: DecoderOptions, log_probs: Sequence[torch.Tensor]) -> list[tuple[str, float]]:
        """(text, decode seconds) per utterance, in order."""
        if self.pool is None:
            return _decode_share(options, list(log_probs))
        # Interleaved shares balance long and short utterances across the workers.
        shares = [list(log_probs[start :: self.workers]) for start in range(self.workers)]
        done = list(self.pool.map(_decode_share, [options] * self.workers, shares))
        results: list[tuple[str, float]] = [("", 0.0)] * len(log_probs)
        for start, share in enumerate(done):
            results[start :: self.workers] = share
        return results

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def __enter__(self) -> ParallelDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
