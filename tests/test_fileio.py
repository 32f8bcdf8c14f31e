"""Atomic writes: the whole new content or the old file, never a part; ordinary permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from asr import fileio
from asr.fileio import atomic_write_bytes


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    """Not mkstemp's owner-only 0600: what any new file gets under the process's umask."""
    atomic_write_bytes(tmp_path / "out.txt", b"x")
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o666 & ~fileio._UMASK


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.txt"
    atomic_write_bytes(target, b"old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
