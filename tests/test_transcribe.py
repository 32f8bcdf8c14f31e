from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

import asr
from asr.audio import load_audio
from asr.errors import AudioError, ModelError
from asr.features import FeatureConfig
from asr.model import ModelConfig, output_frames
from asr.model_dir import LoadedModel, load_model_dir
from asr.results import Segment
from asr.transcribe import Recognizer, TranscribeOptions, plan_windows
from tests.conftest import SPEECH, fixture_texts

GAP_SECONDS = 0.6


def speech_sequence(repeats: int) -> tuple[np.ndarray, list[str]]:
    """The fixture clips one after another with short pauses, `repeats` times over."""
    texts = fixture_texts()
    gap = np.zeros(int(GAP_SECONDS * 16000), dtype=np.float32)
    clips = [(load_audio(SPEECH / name, 16000), text) for name, text in texts.items()]
    pieces, words = [], []
    for _ in range(repeats):
        for audio, text in clips:
            pieces += [audio, gap]
            words += text.split()
    return np.concatenate(pieces), words


@pytest.mark.parametrize("total", [1, 639, 640, 641, 16000 * 95 + 77])
def test_windows_tile_the_audio_without_gaps_or_overlap(total: int) -> None:
    audio = np.random.default_rng(total).standard_normal(total).astype(np.float32)
    blocks = [audio[i : i + 50_000] for i in range(0, total, 50_000)]
    unit = 640
    frames_of = partial(output_frames, FeatureConfig(), ModelConfig())  # x4 subsampling of 10 ms frames: unit 640
    windows = list(plan_windows(blocks, unit, window=unit * 500, context=unit * 25, search=unit * 100, frames_of=frames_of))
    # Every frame the model gives for the whole audio: one more than the samples fill when they
    # end on a frame boundary (640 samples: 2 frames).
    assert sum(w.keep_to - w.keep_from for w in windows) == frames_of(total)
    assert [frames_of(n) for n in (1, 639, 640, 641)] == [1, 1, 2, 2]
    assert all(w.samples.size <= unit * 550 for w in windows)
    # The kept frames of each window start where the previous window's kept frames ended.
    position = 0
    for window in windows:
        assert window.samples.size > 0
        position += window.keep_to - window.keep_from
    assert position * unit >= total


@pytest.mark.parametrize("seconds", [1.0, 0.9, 2.6])
def test_transcription_keeps_every_frame_the_model_gives(tiny_model_dir: Path, seconds: float) -> None:
    """Audio that ends on an output-frame boundary (1.0 s, 2.6 s at x4: AN4's clip lengths) once
    lost its last frame, and with it the last letter ("ye" for "yes")."""
    recognizer = asr.load_model(tiny_model_dir)
    audio = speech_sequence(1)[0][: int(seconds * 16000)]
    wave = torch.from_numpy(audio)[None]
    with torch.inference_mode():
        expected, lengths = recognizer.model(recognizer.frontend(wave), recognizer.frontend.lengths(torch.tensor([audio.size])))
    got, duration = recognizer.log_probs([audio])
    assert duration == pytest.approx(seconds)
    assert got.shape[0] == int(lengths[0])
    assert torch.allclose(got, expected[0, : int(lengths[0])], atol=1e-5)


def test_an_empty_stream_has_no_windows() -> None:
    assert list(plan_windows([], 640, window=640 * 500, context=640 * 25, search=640 * 100, frames_of=lambda n: n // 640 + 1)) == []


def test_api_transcribes_arrays_at_any_rate(tiny_model_dir: Path) -> None:
    recognizer = asr.load_model(tiny_model_dir)
    audio = load_audio(SPEECH / "espeak_us_cat.flac", 16000)
    # Upsampled (an 8 kHz copy would lose the band above 4 kHz that this tiny model memorized).
    at_44k = soxr.resample(audio, 16000, 44100)
    stereo_int16 = (np.stack([at_44k, at_44k], axis=1) * 32767).astype(np.int16)
    result = recognizer.transcribe(stereo_int16, sample_rate=44100)
    assert result.text == "the cat sat on the mat"
    assert result.duration == pytest.approx(audio.size / 16000, abs=0.01)
    with pytest.raises(AudioError, match="sample_rate"):
        recognizer.transcribe(audio)


def test_api_takes_channels_first_arrays_and_refuses_ambiguous_ones(tiny_model_dir: Path) -> None:
    """torchaudio.load gives (channels, frames): the shape tells which axis is which."""
    recognizer = asr.load_model(tiny_model_dir)
    audio = load_audio(SPEECH / "espeak_us_cat.flac", 16000)
    for layout in (audio[None, :], np.stack([audio, audio]), np.stack([audio, audio], axis=1), torch.from_numpy(audio)[None, :]):
        result = recognizer.transcribe(layout, sample_rate=16000)  # type: ignore[arg-type]
        assert result.text == "the cat sat on the mat"
        assert result.duration == pytest.approx(audio.size / 16000, abs=0.01)
    for shape in [(4, 4), (100, 200), (2, 3, 4)]:
        with pytest.raises(AudioError, match="shape"):
            recognizer.transcribe(np.zeros(shape, dtype=np.float32), sample_rate=16000)


def test_everything_decoded_before_damage_is_transcribed(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A FLAC file cut off part way: the segments handed over reach the damage, then the error comes."""
    audio, _ = speech_sequence(repeats=12)  # 120 s: two 60 s reads
    path = tmp_path / "cut.flac"
    sf.write(path, audio, 16000)
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.8)])
    segments: list[Segment] = []
    with pytest.raises(AudioError, match=r"after (\d+\.\d+) s") as info:
        asr.load_model(tiny_model_dir).transcribe(path, on_segment=segments.append)
    decodable = float(str(info.value).split("after ")[1].split(" s")[0])
    assert 0.7 < decodable / (audio.size / 16000) < 0.9
    assert segments[-1].end > decodable - 3


class ToneReader(torch.nn.Module):
    """A stand-in acoustic model with no context: every output frame (`subsampling` feature frames) is a
    space in silence, else the letter of its loudest mel band's group. A tone burst therefore
    reads as a one-letter word, so a transcript shows any word lost or repeated at a cut."""

    def __init__(self, loaded: LoadedModel) -> None:
        super().__init__()
        self.config = loaded.model.config
        self.vocab = loaded.tokenizer.vocab_size

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames = features[:, :: self.config.subsampling]
        loud = frames.max(dim=-1).values > -2.0
        letter = 2 + frames.argmax(dim=-1) // 10  # ids 2.. are a, b, c, ...
        ids = torch.where(loud, letter, torch.ones_like(letter))  # id 1 is the space
        log_probs = torch.full((*ids.shape, self.vocab), -20.0)
        log_probs.scatter_(-1, ids.unsqueeze(-1), 0.0)
        return log_probs, torch.div(lengths - 1, self.config.subsampling, rounding_mode="floor") + 1


def tone_bursts(count: int, seed: int) -> tuple[np.ndarray, list[float]]:
    """Bursts of 0.3-1.2 s at one of five pitches, separated by 0.2-1.5 s of silence."""
    rng = np.random.default_rng(seed)
    pieces, freqs = [], []
    for _ in range(count):
        freq = float(rng.choice([400.0, 900.0, 1800.0, 3000.0, 5000.0]))  # one per group of 10 mel bands
        t = np.arange(int(rng.uniform(0.3, 1.2) * 16000)) / 16000
        fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)  # 10 ms ramps: no broadband clicks
        pieces += [0.5 * fade * np.sin(2 * np.pi * freq * t), np.zeros(int(rng.uniform(0.2, 1.5) * 16000))]
        freqs.append(freq)
    return np.concatenate(pieces).astype(np.float32), freqs


def tone_recognizer(model_dir: Path) -> Recognizer:
    loaded = load_model_dir(model_dir)
    loaded.model = ToneReader(loaded)  # type: ignore[assignment]
    return Recognizer(loaded)


def test_long_audio_is_cut_at_pauses_without_lost_or_repeated_words(tiny_model_dir: Path) -> None:
    recognizer = tone_recognizer(tiny_model_dir)
    audio, freqs = tone_bursts(count=150, seed=0)  # about 2.5 minutes
    whole = recognizer.transcribe(audio, sample_rate=16000, options=TranscribeOptions(window_seconds=1000.0))
    letter_of = {f: w.text for f, w in zip(freqs, whole.words, strict=True)}
    assert len(set(letter_of.values())) == 5  # five pitches read as five letters
    assert whole.text.split() == [letter_of[f] for f in freqs]
    for window, search, context in [(30.0, 5.0, 1.0), (6.0, 2.0, 0.5), (3.0, 2.5, 0.0)]:
        options = TranscribeOptions(batch_size=3, window_seconds=window, cut_search_seconds=search, context_seconds=context)
        windowed = recognizer.transcribe(audio, sample_rate=16000, options=options)
        assert windowed.words == whole.words, (window, search, context)
    assert all(0 <= w.start < w.end <= whole.duration for w in whole.words)
    assert [w.start for w in whole.words] == sorted(w.start for w in whole.words)


def test_segments_are_handed_over_while_the_audio_is_still_being_read(tiny_model_dir: Path) -> None:
    recognizer = tone_recognizer(tiny_model_dir)
    audio, _ = tone_bursts(count=150, seed=2)
    options = TranscribeOptions(batch_size=2, window_seconds=10.0, cut_search_seconds=3.0)
    blocks_read = 0

    def blocks() -> Iterator[np.ndarray]:
        nonlocal blocks_read
        for start in range(0, audio.size, 16000):
            blocks_read += 1
            yield audio[start : start + 16000]

    handed: list[tuple[Segment, int]] = []
    streamed = recognizer._transcribe_greedy(blocks(), options, None, lambda segment: handed.append((segment, blocks_read)))
    whole = recognizer.decode(*recognizer.log_probs([audio], options))
    assert streamed == whole  # same words, times, segments and duration as decoding at the end
    assert [segment for segment, _ in handed] == list(whole.segments)
    assert len(whole.segments) > 20
    assert handed[0][1] < blocks_read / 4  # the first cue came within the first quarter of the audio
    via_api = recognizer.transcribe(audio, sample_rate=16000, options=options, on_segment=lambda segment: handed.append((segment, 0)))
    assert via_api == whole and len(handed) == 2 * len(whole.segments)


def test_concurrent_batches_give_the_same_transcript_and_restore_threads(tiny_model_dir: Path) -> None:
    recognizer = asr.load_model(tiny_model_dir)
    audio, _ = speech_sequence(repeats=6)
    threads = torch.get_num_threads()
    results = []
    for workers in (1, 2, 3):
        options = TranscribeOptions(batch_size=1, window_seconds=4.0, cut_search_seconds=2.0, concurrent_batches=workers)
        results.append(recognizer.transcribe(audio, sample_rate=16000, options=options))
        assert torch.get_num_threads() == threads
    assert results[0].words and results[1] == results[0] and results[2] == results[0]
    with pytest.raises(ValueError, match="concurrent_batches"):
        TranscribeOptions(concurrent_batches=-1)


def test_beam_search_hands_over_its_segments_at_the_end(tiny_model_dir: Path) -> None:
    recognizer = tone_recognizer(tiny_model_dir)
    audio, _ = tone_bursts(count=20, seed=3)
    options = recognizer.with_decoder(TranscribeOptions(), "beam", beam_size=4)
    handed: list[Segment] = []
    result = recognizer.transcribe(audio, sample_rate=16000, options=options, on_segment=handed.append)
    assert handed == list(result.segments) and result.words


def test_silence_gives_an_empty_transcript(tiny_model_dir: Path) -> None:
    recognizer = asr.load_model(tiny_model_dir)
    for seconds in (0.1, 3.0, 75.0):
        result = recognizer.transcribe(np.zeros(int(16000 * seconds)), sample_rate=16000)
        assert result.text == ""
        assert result.segments == ()
        assert result.duration == pytest.approx(seconds)


def test_silent_windows_skip_the_model_but_keep_the_timing(tiny_model_dir: Path) -> None:
    recognizer = tone_recognizer(tiny_model_dir)
    bursts, _ = tone_bursts(count=10, seed=1)
    silence = np.zeros(16000 * 70, dtype=np.float32)
    alone = recognizer.transcribe(bursts, sample_rate=16000)
    padded = recognizer.transcribe(np.concatenate([silence, bursts, silence, bursts]), sample_rate=16000)
    assert padded.text == f"{alone.text} {alone.text}"
    assert [w.start for w in padded.words[:10]] == pytest.approx([70 + w.start for w in alone.words], abs=1e-6)
    assert padded.duration == pytest.approx(140 + 2 * bursts.size / 16000)


def test_missing_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        asr.load_model(tmp_path / "no_model")


MEMORY_PROBE = """
import resource, sys, json
import asr
recognizer = asr.load_model(sys.argv[1])
result = recognizer.transcribe(sys.argv[2])
print(json.dumps({"words": len(result.words), "duration": result.duration,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_length(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Peak RSS is measured in this test, in a fresh process per file: 3 min vs 30 min."""
    chunk, words = speech_sequence(repeats=1)
    results = {}
    for minutes in (3, 30):
        path = tmp_path / f"{minutes}min.flac"
        repeats = int(minutes * 60 * 16000 / chunk.size) + 1
        with sf.SoundFile(path, "w", 16000, 1, format="FLAC") as handle:
            for _ in range(repeats):
                handle.write(chunk)
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(tiny_model_dir), str(path)], capture_output=True, text=True, check=True)
        results[minutes] = json.loads(out.stdout)
        assert results[minutes]["words"] > repeats * len(words) / 2
    assert results[30]["duration"] > 1800
    growth = results[30]["peak_mb"] - results[3]["peak_mb"]
    print(f"peak RSS: 3 min {results[3]['peak_mb']:.0f} MB, 30 min {results[30]['peak_mb']:.0f} MB")
    assert growth < 100, results
