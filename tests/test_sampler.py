"""Length-aware batching: the duration sort (deepspeech.pytorch once lost its own without
noticing), SortaGrad, and the per-process shares of distributed training."""

from __future__ import annotations

import numpy as np
import pytest

from asr.sampler import epoch_batches, make_batches, padding_fraction, shard_batches


def _durations(count: int = 2000, seed: int = 0) -> list[float]:
    # Spread like read speech: mostly 2-16 s, a few very short and very long.
    rng = np.random.default_rng(seed)
    return [float(d) for d in np.clip(rng.gamma(4.0, 2.5, size=count), 0.3, 30.0)]


def test_trainer_batches_are_length_homogeneous_and_within_the_budget() -> None:
    durations = _durations()
    for epoch in range(3):
        batches = epoch_batches(durations, batch_size=32, max_batch_seconds=200.0, seed=7, epoch=epoch)
        assert sorted(i for batch in batches for i in batch) == list(range(len(durations)))
        for batch in batches:
            assert len(batch) <= 32
            padded = max(durations[i] for i in batch) * len(batch)
            assert padded <= 200.0 or len(batch) == 1
        # The sort is what keeps padding small: batches of random utterances waste ~half.
        assert padding_fraction(batches, durations) < 0.03
        rng = np.random.default_rng(epoch)
        shuffled = [batch.tolist() for batch in np.array_split(rng.permutation(len(durations)), len(batches))]
        assert padding_fraction(shuffled, durations) > 0.35
        # Within a batch, the longest utterance is close to the shortest.
        spreads = [max(durations[i] for i in b) / min(durations[i] for i in b) for b in batches if len(b) > 1]
        assert float(np.median(spreads)) < 1.1


def test_batch_order_is_shuffled_and_fixed_by_seed_and_epoch() -> None:
    durations = _durations(500)
    batches = make_batches(durations, 16, 100.0, seed=3, epoch=1)
    assert make_batches(durations, 16, 100.0, seed=3, epoch=1) == batches
    assert make_batches(durations, 16, 100.0, seed=3, epoch=2) != batches
    assert make_batches(durations, 16, 100.0, seed=4, epoch=1) != batches
    longest = [max(durations[i] for i in b) for b in batches]
    assert longest != sorted(longest)  # not in order of length


def test_sortagrad_orders_only_the_first_epoch_shortest_first() -> None:
    durations = _durations(500)
    first = epoch_batches(durations, 16, 100.0, seed=3, epoch=0, sortagrad=True)
    assert sorted(i for b in first for i in b) == list(range(500))
    order = [i for b in first for i in b]
    assert [durations[i] for i in order] == sorted(durations)
    later = epoch_batches(durations, 16, 100.0, seed=3, epoch=1, sortagrad=True)
    assert padding_fraction(first, durations) <= padding_fraction(later, durations) < 0.05
    assert later == epoch_batches(durations, 16, 100.0, seed=3, epoch=1, sortagrad=False)


@pytest.mark.parametrize("count", [40, 41])
def test_process_shares_are_equal_disjoint_and_cover_the_epoch(count: int) -> None:
    durations = _durations(count)
    full = epoch_batches(durations, 4, 30.0, seed=1, epoch=2)
    shares = [epoch_batches(durations, 4, 30.0, seed=1, epoch=2, rank=r, world_size=3) for r in range(3)]
    assert len({len(share) for share in shares}) == 1  # DDP needs the same number of steps everywhere
    assert len(shares[0]) == -(-len(full) // 3)
    taken = [tuple(b) for share in shares for b in share]
    assert {tuple(b) for b in full} == set(taken)
    # Only the padding repeats batches, and only as many as needed to even out the shares.
    assert len(taken) - len(set(taken)) == -len(full) % 3
    assert shard_batches(full, 0, 1) == full
