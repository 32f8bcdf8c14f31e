"""NeMo-style JSONL manifests and the training dataset built on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from asr.audio import load_audio
from asr.errors import AsrError, ManifestError


@dataclass(frozen=True)
class ManifestEntry:
    audio_filepath: Path  # absolute, or relative to the working directory
    duration: float  # seconds
    text: str


def parse_manifest_line(line: str, base_dir: Path, where: str) -> ManifestEntry:
    """One JSON line -> entry; audio paths are resolved against the manifest's folder."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{where}: not valid JSON ({exc.msg})") from exc
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    audio, duration, text = row.get("audio_filepath"), row.get("duration"), row.get("text")
    if not isinstance(audio, str) or not audio:
        raise ManifestError(f"{where}: missing or invalid 'audio_filepath'")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not duration > 0:
        raise ManifestError(f"{where}: missing or invalid 'duration' {duration!r}")
    if not isinstance(text, str):
        raise ManifestError(f"{where}: missing or invalid 'text'")
    path = Path(audio)
    return ManifestEntry(path if path.is_absolute() else base_dir / path, float(duration), text)


def iter_manifest(path: str | Path) -> Iterator[ManifestEntry | ManifestError]:
    """Entries of a manifest in order; a broken line comes out as a ManifestError so that a
    caller can report it and go on with the good lines."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: manifest not found") from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: manifest is not UTF-8 text") from exc
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                yield parse_manifest_line(line, path.parent, f"{path}:{number}")
            except ManifestError as exc:
                yield exc


def read_manifest(path: str | Path) -> list[ManifestEntry]:
    """All entries of a manifest; the first broken line is an error."""
    entries = []
    for item in iter_manifest(path):
        if isinstance(item, ManifestError):
            raise item
        entries.append(item)
    return entries


@dataclass(frozen=True)
class Example:
    waveform: torch.Tensor  # (samples,) float32 at the model's rate
    targets: torch.Tensor  # (labels,) int64 token ids
    index: int  # position in the dataset


class SpeechDataset(Dataset[Example | None]):
    """Decodes audio with soundfile in DataLoader workers. Targets are tokenized once, up front.

    An item whose audio cannot be read comes back as None and is dropped by the collate step
    (and counted), so one corrupt file does not stop a training run."""

    def __init__(self, entries: list[ManifestEntry], targets: list[list[int]], sample_rate: int) -> None:
        self.entries = entries
        self.targets = targets
        self.sample_rate = sample_rate

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Example | None:
        try:
            audio = load_audio(self.entries[index].audio_filepath, self.sample_rate)
        except AsrError:
            return None
        return Example(torch.from_numpy(audio), torch.tensor(self.targets[index], dtype=torch.long), index)


@dataclass(frozen=True)
class Batch:
    waveforms: torch.Tensor  # (batch, max_samples), zero padded
    sample_lengths: torch.Tensor  # (batch,)
    targets: torch.Tensor  # (sum of label lengths,) concatenated, as CTCLoss accepts
    target_lengths: torch.Tensor  # (batch,)
    indices: list[int]  # dataset positions, to look up reference texts
    failed: int  # items dropped because their audio could not be read


def collate(items: list[Example | None]) -> Batch:
    good = [item for item in items if item is not None]
    lengths = torch.tensor([item.waveform.numel() for item in good], dtype=torch.long)
    waveforms = torch.zeros(len(good), int(lengths.max()) if good else 0)
    for row, item in enumerate(good):
        waveforms[row, : item.waveform.numel()] = item.waveform
    return Batch(
        waveforms=waveforms,
        sample_lengths=lengths,
        targets=torch.cat([item.targets for item in good]) if good else torch.zeros(0, dtype=torch.long),
        target_lengths=torch.tensor([item.targets.numel() for item in good], dtype=torch.long),
        indices=[item.index for item in good],
        failed=len(items) - len(good),
    )
