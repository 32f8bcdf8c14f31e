"""The training dataset over manifest entries: audio (augmented or as cached features) and targets, batched."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch.utils.data import Dataset

from asr.audio import load_audio
from asr.augment import WaveformAugmenter, utterance_generator
from asr.constants import LOG_FLOOR
from asr.errors import AsrError
from asr.feature_cache import FeatureCache
from asr.manifests import ManifestEntry


@dataclass(frozen=True)
class Example:
    waveform: torch.Tensor  # (samples,) float32 at the model's rate; empty when features are given
    targets: torch.Tensor  # (labels,) int64 token ids
    index: int  # position in the dataset
    features: torch.Tensor | None = None  # (frames, n_mels) log-mel, when read from the feature cache
    samples: int = -1  # audio length in samples (-1: the waveform's length)

    @property
    def num_samples(self) -> int:
        return self.samples if self.samples >= 0 else self.waveform.numel()


@dataclass(frozen=True)
class Unreadable:
    index: int
    reason: str  # names the file and the problem


class SpeechDataset(Dataset[Example | Unreadable]):
    """Decodes audio with soundfile in DataLoader workers. Targets are tokenized once, up front.

    With an augmenter, each utterance is augmented with its own generator seeded by (seed,
    epoch, index): the same audio whatever the worker count, and again after a resume. With a
    feature cache, items carry log-mel features instead of waveforms.

    An item whose audio cannot be read comes back as Unreadable and is dropped by the collate
    step (and reported), so one corrupt file does not stop a training run."""

    def __init__(
        self,
        entries: list[ManifestEntry],
        targets: list[list[int]],
        sample_rate: int,
        augmenter: WaveformAugmenter | None = None,
        feature_cache: FeatureCache | None = None,
        seed: int = 0,
    ) -> None:
        if augmenter is not None and feature_cache is not None:
            raise ValueError("waveform augmentation cannot be combined with a feature cache")
        self.entries = entries
        self.targets = targets
        self.sample_rate = sample_rate
        self.augmenter = augmenter
        self.feature_cache = feature_cache
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Call before building the epoch's DataLoader (workers get a copy of the dataset)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Example | Unreadable:
        path = self.entries[index].audio_filepath
        targets = torch.tensor(self.targets[index], dtype=torch.long)
        try:
            if self.feature_cache is not None:
                feats, samples = self.feature_cache.features(path)
                return Example(torch.zeros(0), targets, index, features=feats, samples=samples)
            audio = load_audio(path, self.sample_rate)
            if self.augmenter is not None:
                audio = self.augmenter(audio, utterance_generator(self.seed, self.epoch, index))
        except AsrError as exc:
            return Unreadable(index, str(exc))
        return Example(torch.from_numpy(audio), targets, index)


@dataclass(frozen=True)
class Batch:
    waveforms: torch.Tensor  # (batch, max_samples), zero padded; (batch, 0) when features are given
    sample_lengths: torch.Tensor  # (batch,)
    targets: torch.Tensor  # (sum of label lengths,) concatenated, as CTCLoss accepts
    target_lengths: torch.Tensor  # (batch,)
    indices: list[int]  # dataset positions, to look up reference texts
    failed: int  # items dropped because their audio could not be read
    failures: tuple[str, ...] = ()  # why each dropped item could not be read
    features: torch.Tensor | None = None  # (batch, max_frames, n_mels), padded with log(LOG_FLOOR)
    feature_lengths: torch.Tensor | None = None  # (batch,)

    def pin_memory(self) -> Batch:
        """Called by DataLoader(pin_memory=True): page-locked tensors copy to a GPU asynchronously."""
        return replace(self, waveforms=self.waveforms.pin_memory(), features=None if self.features is None else self.features.pin_memory())


def collate(items: list[Example | Unreadable | None]) -> Batch:
    good = [item for item in items if isinstance(item, Example)]
    failures = tuple(item.reason for item in items if isinstance(item, Unreadable))
    lengths = torch.tensor([item.num_samples for item in good], dtype=torch.long)
    features = feature_lengths = None
    if good and good[0].features is not None:
        frames = [item.features.shape[0] for item in good if item.features is not None]
        feature_lengths = torch.tensor(frames, dtype=torch.long)
        # Padding with the log of silence, as the front-end gives for zero-padded audio.
        features = torch.full((len(good), max(frames), good[0].features.shape[1]), math.log(LOG_FLOOR))
        for row, item in enumerate(good):
            assert item.features is not None
            features[row, : item.features.shape[0]] = item.features
        waveforms = torch.zeros(len(good), 0)
    else:
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
        failures=failures,
        features=features,
        feature_lengths=feature_lengths,
    )
