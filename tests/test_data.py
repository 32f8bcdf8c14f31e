from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asr.data import Example, collate, iter_manifest, read_manifest
from asr.errors import ManifestError
from asr.sampler import make_batches


def test_relative_paths_resolve_against_the_manifest_folder(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text(
        '{"audio_filepath": "a/b.wav", "duration": 1.5, "text": "hi"}\n\n{"audio_filepath": "/x.wav", "duration": 2, "text": "yo"}\n'
    )
    entries = read_manifest(tmp_path / "m.jsonl")
    assert [e.audio_filepath for e in entries] == [tmp_path / "a" / "b.wav", Path("/x.wav")]
    assert entries[1].duration == 2.0


def test_broken_lines_come_out_as_errors_with_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text(
        '{"audio_filepath": "a.wav", "duration": 1, "text": "ok"}\n[1]\n{"audio_filepath": "a.wav", "duration": -1, "text": "x"}\n'
    )
    items = list(iter_manifest(tmp_path / "m.jsonl"))
    assert not isinstance(items[0], ManifestError)
    assert isinstance(items[1], ManifestError) and ":2: expected a JSON object" in str(items[1])
    assert isinstance(items[2], ManifestError) and "duration" in str(items[2])
    with pytest.raises(ManifestError, match=":2:"):
        read_manifest(tmp_path / "m.jsonl")
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "none.jsonl")


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
