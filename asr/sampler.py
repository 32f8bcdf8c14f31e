"""Batches of similar-length utterances, in an order fixed by the seed and the epoch, and each
process's share of them under distributed training."""

from __future__ import annotations

import numpy as np

BUCKET_BATCHES = 50  # utterances are sorted by length within groups of this many batches


def _cut(order: list[int], durations: list[float], batch_size: int, max_batch_seconds: float) -> list[list[int]]:
    """Cut length-sorted indices into batches whose padded length (longest x count) stays within
    max_batch_seconds (an utterance longer than that on its own makes a batch of one)."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0.0
    for index in order:
        longest_if_added = max(longest, durations[index])
        if current and (len(current) == batch_size or longest_if_added * (len(current) + 1) > max_batch_seconds):
            batches.append(current)
            current, longest_if_added = [], durations[index]
        current.append(index)
        longest = longest_if_added
    if current:
        batches.append(current)
    return batches


def make_batches(durations: list[float], batch_size: int, max_batch_seconds: float, seed: int, epoch: int, shortest_first: bool = False) -> list[list[int]]:
    """Shuffle, sort by duration inside large buckets, cut into batches, then shuffle the batch
    order. shortest_first (SortaGrad, Amodei et al. 2016) instead sorts the whole set and keeps
    the batches in order of length, which steadies the start of training.

    The same (seed, epoch) always gives the same batches, which is what lets a resumed run skip
    exactly the batches it had already done."""
    if shortest_first:
        # A stable sort: ties keep index order, so the result does not depend on the seed.
        return _cut(sorted(range(len(durations)), key=lambda i: durations[i]), durations, batch_size, max_batch_seconds)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(durations))
    batches: list[list[int]] = []
    bucket = BUCKET_BATCHES * batch_size
    for begin in range(0, len(order), bucket):
        chunk = sorted(order[begin : begin + bucket].tolist(), key=lambda i: durations[i])
        batches += _cut(chunk, durations, batch_size, max_batch_seconds)
    return [batches[i] for i in rng.permutation(len(batches))]


def shard_batches(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """Process `rank`'s share: every world_size-th batch, starting at `rank`. The list is first
    padded by repeating its first batches, so every process gets the same number of batches
    (DistributedDataParallel needs each process to take part in every step)."""
    if world_size == 1:
        return batches
    if not batches:
        return []
    padded = batches + [batches[i % len(batches)] for i in range(-len(batches) % world_size)]
    return padded[rank::world_size]


def epoch_batches(
    durations: list[float],
    batch_size: int,
    max_batch_seconds: float,
    seed: int,
    epoch: int,
    sortagrad: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> list[list[int]]:
    """The batches one process trains on in one epoch: what the trainer iterates over."""
    batches = make_batches(durations, batch_size, max_batch_seconds, seed, epoch, shortest_first=sortagrad and epoch == 0)
    return shard_batches(batches, rank, world_size)


def padding_fraction(batches: list[list[int]], durations: list[float]) -> float:
    """Share of the padded batch seconds that is padding: near 0 when batches are length-sorted."""
    padded = sum(max(durations[i] for i in batch) * len(batch) for batch in batches if batch)
    real = sum(durations[i] for batch in batches for i in batch)
    return 1.0 - real / padded if padded else 0.0
