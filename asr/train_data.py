"""What training reads: the manifests' usable utterances (a Split), the feature normalization
statistics, log-mel features of a batch on the training device, and greedy validation."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import jiwer
import torch
from torch.utils.data import DataLoader

from asr.data import Batch, SpeechDataset, collate
from asr.decoding import greedy_text
from asr.errors import ManifestError
from asr.feature_cache import FeatureCache
from asr.features import FeatureStats, LogMel
from asr.manifests import ManifestEntry, iter_manifest
from asr.model import CTCModel, output_frames
from asr.tokenizer import CharTokenizer, normalize_text
from asr.train_config import TrainConfig
from asr.train_log import log

MISSING_AUDIO_SHOWN = 5  # missing audio files named in the log, per split


@dataclass
class Split:
    entries: list[ManifestEntry]
    targets: list[list[int]]

    @property
    def hours(self) -> float:
        return sum(e.duration for e in self.entries) / 3600


def load_split(manifests: list[str], tokenizer: CharTokenizer, config: TrainConfig, name: str, say: Callable[[str], None] = log) -> Split:
    """Read manifests, skipping (and reporting) broken lines, missing audio files, utterances out
    of the duration range, empty transcripts, and those whose labels cannot fit the output frames."""
    entries: list[ManifestEntry] = []
    targets: list[list[int]] = []
    skipped = dict.fromkeys(
        ["broken line", "audio file missing", "duration out of range", "empty text", "text too long for the audio", "labels longer than frames"], 0
    )
    tokenizer.oov_counts.clear()
    for manifest in manifests:
        for item in iter_manifest(manifest):
            if isinstance(item, ManifestError):
                say(f"skipping {item}")
                skipped["broken line"] += 1
                continue
            if not item.audio_filepath.is_file():
                if skipped["audio file missing"] < MISSING_AUDIO_SHOWN:
                    say(f"skipping {manifest}: audio file not found: {item.audio_filepath}")
                skipped["audio file missing"] += 1
                continue
            if not config.data.min_duration <= item.duration <= config.data.max_duration:
                skipped["duration out of range"] += 1
                continue
            ids = tokenizer.encode(item.text)
            if not ids:
                skipped["empty text"] += 1
                continue
            if len(ids) > config.data.max_chars_per_second * item.duration:
                skipped["text too long for the audio"] += 1
                continue
            # CTC needs a frame per label, plus a blank between repeated letters.
            needed = len(ids) + sum(a == b for a, b in itertools.pairwise(ids))
            if needed > output_frames(config.features, config.model, int(item.duration * config.features.sample_rate)):
                skipped["labels longer than frames"] += 1
                continue
            entries.append(item)
            targets.append(ids)
    split = Split(entries, targets)
    report = ", ".join(f"{count} {why}" for why, count in skipped.items() if count)
    say(f"{name}: {len(entries)} utterances, {split.hours:.2f} h" + (f"; skipped {report}" if report else ""))
    if tokenizer.oov_counts:
        common = ", ".join(f"{ch!r}x{n}" for ch, n in tokenizer.oov_counts.most_common(10))
        say(f"{name}: characters outside the alphabet were left out of the targets: {common}")
    return split


def batch_features(batch: Batch, frontend: LogMel, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel features of a batch on the training device: from the feature cache when the
    workers read them there, else computed here from waveforms (on the GPU when training on one,
    which keeps the workers' share of the work to decoding audio)."""
    if batch.features is not None and batch.feature_lengths is not None:
        return batch.features.to(device, non_blocking=True), batch.feature_lengths.to(device)
    return frontend(batch.waveforms.to(device, non_blocking=True)), frontend.lengths(batch.sample_lengths.to(device))


def compute_stats(split: Split, config: TrainConfig, frontend: LogMel, cache: FeatureCache | None, device: torch.device) -> tuple[list[float], list[float]]:
    """Per-band mean/std of log-mel features over (a seeded sample of) the training set."""
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(split.entries), generator=generator)[: config.data.stats_utterances].tolist()
    dataset = SpeechDataset([split.entries[i] for i in order], [split.targets[i] for i in order], config.features.sample_rate, feature_cache=cache)
    stats = FeatureStats(config.features.n_mels)
    loader = DataLoader(dataset, batch_size=1, num_workers=config.data.num_workers, collate_fn=collate, generator=torch.Generator())
    with torch.no_grad():
        for batch in loader:
            if batch.indices:
                stats.update(batch_features(batch, frontend, device)[0][0])
    return stats.mean_std()


def validate(
    model: CTCModel, frontend: LogMel, split: Split, tokenizer: CharTokenizer, cfg: TrainConfig, device: torch.device, cache: FeatureCache | None = None
) -> tuple[float, float]:
    """Greedy WER and CER on a validation split, references normalized like the targets.
    The dataset has no augmenter: validation always sees the audio as it is."""
    dataset = SpeechDataset(split.entries, split.targets, cfg.features.sample_rate, feature_cache=cache)
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size, num_workers=cfg.data.num_workers, collate_fn=collate, generator=torch.Generator())
    refs: list[str] = []
    hyps: list[str] = []
    model.eval()
    with torch.inference_mode():
        for batch in loader:
            if not batch.indices:
                continue
            feats, feat_lengths = batch_features(batch, frontend, device)
            log_probs, lengths = model(feats, feat_lengths)
            for row, index in enumerate(batch.indices):
                hyps.append(greedy_text(log_probs[row, : int(lengths[row])], tokenizer))
                refs.append(normalize_text(split.entries[index].text))
    model.train()
    if not refs:
        return float("nan"), float("nan")
    return float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps))
