from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from asr.audio import audio_duration, iter_audio_blocks, load_audio, prepare_array, to_mono
from asr.errors import AudioError


def tone(rate: int, seconds: float = 1.0, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_any_rate_and_sample_format_is_resampled_to_16k(tmp_path: Path, rate: int, subtype: str) -> None:
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(path, tone(rate, 1.0), rate, subtype=subtype)
    audio = load_audio(path, 16000)
    assert audio.dtype == np.float32
    assert abs(audio.size - 16000) <= 2
    assert dominant_frequency(audio, 16000) == pytest.approx(440, abs=2)
    assert np.abs(audio).max() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(("fmt", "ext"), [("FLAC", "flac"), ("OGG", "ogg"), ("MP3", "mp3"), ("WAV", "wav")])
def test_compressed_formats(tmp_path: Path, fmt: str, ext: str) -> None:
    path = tmp_path / f"tone.{ext}"
    sf.write(path, tone(16000, 2.0), 16000, format=fmt)
    audio = load_audio(path, 16000)
    assert abs(audio.size - 32000) < 2000  # codecs may pad a frame
    assert dominant_frequency(audio, 16000) == pytest.approx(440, abs=2)


def test_stereo_is_averaged(tmp_path: Path) -> None:
    left = tone(16000, 1.0, 440)
    right = tone(16000, 1.0, 440)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, -right], axis=1), 16000)  # opposite phase cancels
    assert np.abs(load_audio(path, 16000)).max() < 1e-3
    path8 = tmp_path / "eight.wav"
    sf.write(path8, tone(16000, 0.5, channels=8), 16000)
    assert load_audio(path8, 16000).shape == (8000,)


def test_blocks_are_bounded_and_reassemble_the_file(tmp_path: Path) -> None:
    path = tmp_path / "long.flac"
    rate = 22050
    sf.write(path, tone(rate, 25.0), rate)
    blocks = list(iter_audio_blocks(path, 16000, block_seconds=4.0))
    assert len(blocks) >= 6
    assert max(b.size for b in blocks) <= 4 * 16000 + 1000  # the streaming resampler's delay
    # Streaming resampling gives what resampling the whole file at once gives.
    whole = soxr.resample(sf.read(path, dtype="float32")[0], rate, 16000, quality="HQ")
    streamed = np.concatenate(blocks)
    assert streamed.size == whole.size
    assert np.abs(streamed - whole).max() < 1e-3


def test_prepare_array_accepts_int_and_float_arrays() -> None:
    pcm = (tone(8000, 1.0) * 32767).astype(np.int16)
    audio = prepare_array(pcm, 8000, 16000)
    assert audio.size == 16000
    assert np.abs(audio).max() == pytest.approx(0.5, abs=0.02)
    assert to_mono(np.array([[0, 255], [128, 128]], dtype=np.uint8)).tolist() == pytest.approx([0.0, 0.0], abs=0.01)
    with pytest.raises(AudioError, match="NaN"):
        prepare_array(np.array([0.0, np.nan]), 16000, 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        prepare_array(np.zeros(0), 16000, 16000)


def _expect(path: Path, reason: str) -> None:
    with pytest.raises(AudioError, match=reason) as info:
        load_audio(path, 16000)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


def test_bad_inputs_raise_audio_error_naming_the_file(tmp_path: Path) -> None:
    _expect(tmp_path / "missing.wav", "file not found")
    (tmp_path / "empty.wav").write_bytes(b"")
    _expect(tmp_path / "empty.wav", "empty file")
    (tmp_path / "notes.wav").write_text("this is not audio\n" * 20)
    _expect(tmp_path / "notes.wav", "not a readable audio file")
    (tmp_path / "folder.wav").mkdir()
    _expect(tmp_path / "folder.wav", "is a directory")
    sf.write(tmp_path / "zero.wav", np.zeros(0), 16000)
    _expect(tmp_path / "zero.wav", "no audio samples")
    sf.write(tmp_path / "nan.wav", np.array([0.1, np.nan, 0.2] * 100, dtype=np.float32), 16000, subtype="FLOAT")
    _expect(tmp_path / "nan.wav", "NaN")
    os.symlink(tmp_path / "gone.wav", tmp_path / "link.wav")
    _expect(tmp_path / "link.wav", "broken symbolic link")


def test_truncated_flac_is_an_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.flac"
    sf.write(path, tone(16000, 5.0) + 0.01 * np.random.default_rng(0).standard_normal(80000), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(AudioError) as info:
        load_audio(path, 16000)
    assert str(path) in str(info.value)


def test_frames_decoded_before_damage_come_out_before_the_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.flac"
    samples = np.clip(0.3 * np.random.default_rng(0).standard_normal(16000 * 30), -1, 1).astype(np.float32)
    sf.write(path, samples, 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])
    blocks = []
    with pytest.raises(AudioError, match="truncated audio data after"):
        for block in iter_audio_blocks(path, 16000, block_seconds=20.0):
            blocks.append(block)
    got = np.concatenate(blocks)
    assert 16000 * 15 < got.size < 16000 * 20  # what the failing first read decoded before the damage
    np.testing.assert_allclose(got, samples[: got.size], atol=1 / 32768)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.wav"
    sf.write(path, tone(16000), 16000)
    path.chmod(0)
    _expect(path, "permission denied")


def test_duration_from_header(tmp_path: Path) -> None:
    path = tmp_path / "d.flac"
    sf.write(path, tone(8000, 3.5), 8000)
    assert audio_duration(path) == pytest.approx(3.5)


def test_permission_denied_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs as root too (where chmod 0 does not stop reads): the refusal is simulated at open()."""
    path = tmp_path / "locked.wav"
    sf.write(path, tone(16000), 16000)
    real_open = open

    def refusing_open(file: object, *args: object, **kwargs: object) -> object:
        if Path(str(file)) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("asr.audio.open", refusing_open, raising=False)
    _expect(path, "permission denied")


def test_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.wav"
    os.mkfifo(path)
    _expect(path, "not a regular file")


@pytest.mark.parametrize(("fmt", "ext"), [("MP3", "mp3"), ("OGG", "ogg"), ("WAV", "wav")])
def test_truncated_files_are_reported_not_half_transcribed(tmp_path: Path, fmt: str, ext: str) -> None:
    path = tmp_path / f"cut.{ext}"
    sf.write(path, tone(16000, 6.0) + 0.01 * np.random.default_rng(0).standard_normal(96000), 16000, format=fmt)
    assert load_audio(path, 16000).size == pytest.approx(96000, abs=2000)  # whole, it reads fine
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect(path, "truncated")


def test_non_utf8_file_name(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9.wav"
    sf.write(raw.decode("latin-1"), tone(16000), 16000)  # written under another name, then renamed
    os.rename(os.fsencode(tmp_path) + b"/caf\xc3\xa9.wav", raw)
    assert load_audio(os.fsdecode(raw), 16000).size == 16000


def test_many_channels_at_high_rate_are_read_in_bounded_blocks(tmp_path: Path) -> None:
    """A minute-long block of 192 kHz x 8 channels would be 368 MB of float32; reads are capped."""
    import tracemalloc

    path = tmp_path / "wide.wav"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal((192000 * 5, 8)), 192000, subtype="PCM_16")
    tracemalloc.start()
    try:
        blocks = [b.size for b in iter_audio_blocks(path, 16000, block_seconds=60.0)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(blocks) == pytest.approx(80000, abs=2)
    assert peak < 5 * 192000 * 8 * 4 / 2  # under half of the whole file as float32 (31 MB)
