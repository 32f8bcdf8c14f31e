from __future__ import annotations

import torch

from asr.data import Example, collate
from asr.sampler import make_batches


def test_collate_pads_and_drops_unreadable_items() -> None:
    items = [Example(torch.ones(3), torch.tensor([1, 2]), 0), None, Example(torch.ones(5), torch.tensor([3]), 2)]
    batch = collate(items)
    assert batch.waveforms.shape == (2, 5)
    assert batch.waveforms[0].tolist() == [1, 1, 1, 0, 0]
    assert batch.targets.tolist() == [1, 2, 3]
    assert batch.target_lengths.tolist() == [2, 1]
    assert batch.indices == [0, 2]
    assert batch.failed == 1


def test_batches_cover_every_utterance_once_and_respect_limits() -> None:
    durations = [float(d) for d in torch.rand(500, generator=torch.Generator().manual_seed(0)) * 19 + 1]
    batches = make_batches(durations, batch_size=16, max_batch_seconds=100.0, seed=3, epoch=1)
    assert sorted(i for b in batches for i in b) == list(range(500))
    for batch in batches:
        assert len(batch) <= 16
        assert max(durations[i] for i in batch) * len(batch) <= 100.0 or len(batch) == 1
    assert make_batches(durations, 16, 100.0, 3, 1) == batches
    assert make_batches(durations, 16, 100.0, 3, 2) != batches
    # Length bucketing: within a batch, durations are close (sorted inside large buckets).
    spread = sum(max(durations[i] for i in b) - min(durations[i] for i in b) for b in batches) / len(batches)
    assert spread < 2.0
