"""Writing files so that a crash or kill never leaves a half-written one behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# mkstemp makes files only the owner can read; outputs should get the mode any new file gets.
# The umask can only be read by setting it, so read it once, at import.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: a reader (or a kill) never
    sees a half-written file, and an older file stays intact until the new one is complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Capped (50 characters are at most 200 bytes) so that a target name near NAME_MAX still fits.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:50]}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
