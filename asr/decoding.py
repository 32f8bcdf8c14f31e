"""Turning per-frame CTC log-probabilities into words with times and confidences."""

from __future__ import annotations

import numpy as np
import torch

from asr.results import Word
from asr.tokenizer import CharTokenizer


def greedy_token_runs(log_probs: torch.Tensor, blank_id: int = 0) -> list[tuple[int, int, int, float]]:
    """Best path through (frames, vocab) log-probs, collapsed into (token, first_frame,
    last_frame, probability) runs, blanks removed. The probability is the run's peak."""
    best_logp_t, best_t = log_probs.detach().float().max(dim=-1)
    best = best_t.cpu().numpy()
    if best.size == 0:
        return []
    best_logp = best_logp_t.cpu().numpy()
    # A run starts wherever the best symbol changes.
    starts = np.flatnonzero(np.concatenate([[True], best[1:] != best[:-1]]))
    ends = np.append(starts[1:], best.size) - 1
    peaks = np.exp(np.maximum.reduceat(best_logp, starts))
    keep = best[starts] != blank_id
    return [
        (int(token), int(start), int(end), float(peak))
        for token, start, end, peak in zip(best[starts][keep], starts[keep], ends[keep], peaks[keep], strict=True)
    ]


def greedy_decode(log_probs: torch.Tensor, tokenizer: CharTokenizer, frame_seconds: float, offset: float = 0.0) -> list[Word]:
    """Greedy CTC decoding of (frames, vocab) log-probs into timed words.

    A word spans from the first frame of its first character to the end of the last frame of
    its last character; its confidence is the mean peak probability of its characters."""
    words: list[Word] = []
    chars: list[str] = []
    probs: list[float] = []
    first = last = 0

    def flush() -> None:
        if chars:
            words.append(
                Word(
                    text="".join(chars),
                    start=round(offset + first * frame_seconds, 3),
                    end=round(offset + (last + 1) * frame_seconds, 3),
                    confidence=round(sum(probs) / len(probs), 4),
                )
            )
            chars.clear()
            probs.clear()

    for token, start, end, peak in greedy_token_runs(log_probs, tokenizer.blank_id):
        if token == tokenizer.space_id:
            flush()
            continue
        if not chars:
            first = start
        chars.append(tokenizer.decode([token]))
        probs.append(peak)
        last = end
    flush()
    return words


def greedy_text(log_probs: torch.Tensor, tokenizer: CharTokenizer) -> str:
    """Just the text of the best path, for validation during training."""
    tokens = [run[0] for run in greedy_token_runs(log_probs, tokenizer.blank_id)]
    return " ".join(tokenizer.decode(tokens).split())
