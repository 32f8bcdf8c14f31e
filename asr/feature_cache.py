"""An on-disk cache of per-utterance log-mel features, for corpora read many times over.

An entry is keyed by the audio file's resolved path, its modification time and size, and the
feature configuration, so editing a file or changing the front-end never serves stale features.
Entries are written atomically; one that cannot be read is recomputed and rewritten.

Waveform augmentation (speed, noise, reverberation, gain) changes the audio every epoch, so it
cannot be combined with a cache of clean features: the trainer refuses that combination.
SpecAugment works on features and combines with the cache."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from asr.audio import load_audio
from asr.features import FeatureConfig, LogMel
from asr.fileio import atomic_write_bytes

CACHE_FORMAT = 1  # bump when the stored layout or the feature computation changes


class FeatureCache:
    def __init__(self, directory: str | Path, config: FeatureConfig) -> None:
        self.directory = Path(directory)
        self.config = config
        self._frontend: LogMel | None = None  # built on first use, inside each worker process

    def key(self, audio_path: Path) -> str:
        stat = audio_path.stat()
        identity = [str(audio_path.resolve()), stat.st_mtime_ns, stat.st_size, asdict(self.config), CACHE_FORMAT]
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    def entry_path(self, audio_path: Path) -> Path:
        key = self.key(audio_path)
        return self.directory / key[:2] / f"{key}.npz"

    def load(self, audio_path: Path) -> tuple[torch.Tensor, int] | None:
        """(features (frames, n_mels), audio samples) if cached and readable, else None."""
        entry = self.entry_path(audio_path)
        try:
            with np.load(entry, allow_pickle=False) as stored:
                return torch.from_numpy(stored["features"].astype(np.float32)), int(stored["samples"])
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            return None  # absent, or damaged (e.g. by a full disk): recompute

    def features(self, audio_path: Path) -> tuple[torch.Tensor, int]:
        """Cached features of a file, computing and storing them on a miss.
        Raises AudioError when the audio cannot be read."""
        cached = self.load(audio_path)
        if cached is not None:
            return cached
        waveform = torch.from_numpy(load_audio(audio_path, self.config.sample_rate))
        if self._frontend is None:
            self._frontend = LogMel(self.config)
        with torch.no_grad():
            feats = self._frontend(waveform.unsqueeze(0))[0].contiguous()
        buffer = _npz_bytes(feats.numpy(), waveform.numel())
        # A cache that cannot be written (full disk, read-only) only costs speed.
        with contextlib.suppress(OSError):
            atomic_write_bytes(self.entry_path(audio_path), buffer)
        return feats, waveform.numel()


def _npz_bytes(features: npt.NDArray[np.float32], samples: int) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, features=features, samples=np.array(samples, dtype=np.int64))
    return buffer.getvalue()
