"""Property tests for audio loading: random bytes (behind real format signatures, so that the
decoders get past their first check) give float32 mono samples or AudioError, nothing else."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from asr.audio import load_audio, prepare_array
from asr.errors import AudioError

FUZZ = settings(max_examples=150, deadline=None, database=None)


def _wav_header(channels: int, rate: int, bits: int, fmt: int, data_bytes: int) -> bytes:
    block = max(1, channels * bits // 8) % 2**16
    return (
        b"RIFF" + struct.pack("<I", (36 + data_bytes) % 2**32) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, fmt, channels, rate, (rate * block) % 2**32, block, bits)
        + b"data" + struct.pack("<I", data_bytes % 2**32)
    )  # fmt: skip


WAV_HEADERS = st.builds(
    _wav_header,
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0, 1, 7, 8, 16, 24, 32, 64, 65535]),
    st.sampled_from([1, 3, 6, 7, 0xFFFE, 0]),
    st.integers(0, 2**32 - 1),
)
SIGNATURES = st.sampled_from(
    [b"", b"RIFF\x00\x00\x00\x00WAVE", b"fLaC", b"OggS\x00\x02", b"ID3\x04\x00", b"\xff\xfb\x90\x00", b"FORM\x00\x00\x00\x00AIFF", b".snd", b"caff"]
)


def _load(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.wav"
        path.write_bytes(data)
        try:
            samples = load_audio(path, 16000)
        except AudioError as exc:
            assert exc.path == str(path)
            return
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size > 0
    assert np.isfinite(samples).all()


@FUZZ
@given(SIGNATURES, st.binary(max_size=2000))
def test_random_bytes_load_or_raise_audio_error(signature: bytes, body: bytes) -> None:
    _load(signature + body)


@FUZZ
@given(WAV_HEADERS, st.binary(max_size=4000))
def test_random_wav_headers_load_or_raise_audio_error(header: bytes, body: bytes) -> None:
    _load(header + body)


@FUZZ
@given(
    arrays(
        st.sampled_from([np.float32, np.float64, np.int16, np.int32, np.uint8, np.int8]),
        st.tuples(st.integers(0, 400)) | st.tuples(st.integers(0, 200), st.integers(1, 9)),
    ),
    st.integers(-10, 400_000),
)
def test_arrays_of_any_type_rate_and_value(samples: np.ndarray, rate: int) -> None:
    try:
        audio = prepare_array(samples, max(rate, 100) if rate > 0 else rate, 16000)
    except AudioError:
        wide = samples.astype(np.float64)
        # Refused only for a reason: no rate, no samples, a shape that does not tell channels from
        # frames, or values that are not audio (NaN, inf, or so large that they overflow float32).
        square = samples.ndim == 2 and samples.shape[0] == samples.shape[1] > 1
        assert rate <= 0 or samples.size == 0 or square or not np.isfinite(wide).all() or np.abs(wide).max() > 1e37
        return
    assert audio.dtype == np.float32 and audio.ndim == 1 and np.isfinite(audio).all()
