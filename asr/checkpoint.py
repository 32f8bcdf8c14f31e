"""Training checkpoints: written atomically, read back with weights_only.

A checkpoint is written to a temporary file in the same folder, flushed to disk, then renamed
over the old one, so a kill (even SIGKILL) or a full disk at any moment leaves the previous
checkpoint intact. Temporaries left by a killed run are removed when training starts again."""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import torch

from asr.errors import CheckpointError

CHECKPOINT_NAME = "checkpoint.pt"
# Test hook: seconds to pause halfway through writing a checkpoint's temporary file, so that a
# test can kill the process in the middle of a write. Unset in normal use.
PAUSE_ENV = "ASR_TEST_CHECKPOINT_WRITE_PAUSE"


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write state to path atomically. Raises CheckpointError (previous checkpoint untouched)
    when the file cannot be written, e.g. because the disk is full."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getbuffer()
    pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temporary_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            if pause:
                handle.flush()
                time.sleep(pause)
            handle.write(data[half:])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        previous = "the previous checkpoint is unchanged" if path.exists() else "there is no earlier checkpoint"
        raise CheckpointError(
            f"{path}: could not write the checkpoint ({exc.strerror or exc}); {previous}. Free space and run the same command to resume"
        ) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at path, or None if there is none. weights_only: a checkpoint is tensors and
    plain containers, and nothing in it may run code."""
    if not path.exists():
        return None
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint ({exc}); move it away to start afresh") from exc
    if not isinstance(state, dict) or "model" not in state or "state" not in state:
        raise CheckpointError(f"{path}: not a training checkpoint of this program")
    return state


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete half-written temporaries of path left by a killed run; returns what was removed."""
    stale = sorted(path.parent.glob(f"{_temporary_prefix(path)}*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale
