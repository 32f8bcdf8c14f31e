from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch

from asr import checkpoint as checkpoint_module
from asr.checkpoint import load_checkpoint, remove_stale_temporaries, save_checkpoint
from asr.errors import CheckpointError


def _state(step: int) -> dict[str, object]:
    return {"model": {"w": torch.full((3,), float(step))}, "state": {"step": step}}


def test_round_trip_and_replacement(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    assert load_checkpoint(path) is None
    save_checkpoint(path, _state(1))
    save_checkpoint(path, _state(2))
    loaded = load_checkpoint(path)
    assert loaded is not None and loaded["state"]["step"] == 2
    assert torch.equal(loaded["model"]["w"], torch.full((3,), 2.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, _state(1))

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint_module.os, "fsync", full_disk)
    with pytest.raises(
        CheckpointError, match=r"checkpoint.pt: could not write the checkpoint \(No space left on device\); the previous checkpoint is unchanged"
    ):
        save_checkpoint(path, _state(2))
    loaded = load_checkpoint(path)
    assert loaded is not None and loaded["state"]["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_truncated_or_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, _state(1))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        load_checkpoint(path)
    torch.save({"something": 1}, path)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_checkpoint(path)


def test_stale_temporaries_of_a_killed_write_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    stale = tmp_path / ".checkpoint.pt.abc123.tmp"
    stale.write_bytes(b"half")
    other = tmp_path / ".other.tmp"
    other.write_bytes(b"not ours")
    assert remove_stale_temporaries(path) == [stale]
    assert not stale.exists() and other.exists()
