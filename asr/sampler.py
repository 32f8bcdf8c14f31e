"""Batches of similar-length utterances, in an order fixed by the seed and the epoch."""

from __future__ import annotations

import numpy as np

BUCKET_BATCHES = 50  # utterances are sorted by length within groups of this many batches


def make_batches(durations: list[float], batch_size: int, max_batch_seconds: float, seed: int, epoch: int) -> list[list[int]]:
    """Shuffle, sort by duration inside large buckets, cut into batches whose padded length
    (longest x count) stays within max_batch_seconds, then shuffle the batch order.

    The same (seed, epoch) always gives the same batches, which is what lets a resumed run skip
    exactly the batches it had already done."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(durations))
    batches: list[list[int]] = []
    bucket = BUCKET_BATCHES * batch_size
    for begin in range(0, len(order), bucket):
        chunk = sorted(order[begin : begin + bucket].tolist(), key=lambda i: durations[i])
        current: list[int] = []
        longest = 0.0
        for index in chunk:
            longest_if_added = max(longest, durations[index])
            if current and (len(current) == batch_size or longest_if_added * (len(current) + 1) > max_batch_seconds):
                batches.append(current)
                current, longest_if_added = [], durations[index]
            current.append(index)
            longest = longest_if_added
        if current:
            batches.append(current)
    return [batches[i] for i in rng.permutation(len(batches))]
