"""Reading audio files: any format soundfile reads (librosa as fallback), mixed to mono and
resampled to the model's rate, in blocks so that memory does not grow with file length."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from asr.errors import AudioError

FloatArray = npt.NDArray[np.float32]

READ_BLOCK_SECONDS = 60.0  # how much audio is read from disk at a time

# One read never holds more than a minute of 16 kHz stereo (7.7 MB as float32), whatever the
# file's rate and channel count.
MAX_BLOCK_SAMPLES = int(READ_BLOCK_SECONDS * 16_000 * 2)
# A file that yields less than this share of the frames its header announces was cut off. Not
# 100%: an MP3 without a Xing header announces an estimate.
MIN_FRAMES_READ = 0.9
OGG_TAIL_BYTES = 65_536 + 282  # an Ogg page is at most 65,307 bytes: the last one starts in here


def _check_path(path: Path) -> None:
    """Fail early, with a reason a person understands, on paths that cannot hold audio."""
    if path.is_symlink() and not path.exists():
        raise AudioError(path, "broken symbolic link")
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if not path.is_file():  # a FIFO would block forever, a device could stream without end
        raise AudioError(path, "is not a regular file")
    # Opening is the only reliable permission test: os.access() answers for the real user id
    # and ignores capabilities, ACLs and read-only mounts.
    try:
        with open(path, "rb"):
            pass
    except PermissionError as exc:
        raise AudioError(path, "permission denied") from exc
    except OSError as exc:
        raise AudioError(path, f"cannot be opened ({exc.strerror or exc})") from exc
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")


def _block_frames(block_seconds: float, sample_rate: int, channels: int) -> int:
    """Frames per read: block_seconds of audio, but never more than MAX_BLOCK_SAMPLES samples, so
    that a 192 kHz, 8-channel file takes no more memory per block than a 16 kHz stereo one."""
    return max(1, min(int(block_seconds * sample_rate), MAX_BLOCK_SAMPLES // max(channels, 1)))


def _wav_is_truncated(handle: sf.SoundFile) -> bool:
    """Whether a WAV file holds less data than its header announces. libsndfile then quietly
    counts only the frames present; its log still tells. 0 and 0xFFFFFFFF are the sizes that
    streaming recorders write when they cannot know the length, not truncation."""
    match = re.search(r"^data : (\d+) \(should be (\d+)\)", handle.extra_info, re.MULTILINE)
    return match is not None and int(match[1]) not in (0, 0xFFFFFFFF) and int(match[1]) > int(match[2])


def _ogg_is_truncated(path: Path) -> bool:
    """Whether an Ogg file lacks its end-of-stream page. libsndfile counts an Ogg file's frames
    from its last page, so a cut-off file looks complete and only this flag tells."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - OGG_TAIL_BYTES))
        tail = handle.read()
    last_page = tail.rfind(b"OggS")
    # Page header: "OggS", version (1 byte), header type (1 byte; bit 2 = end of stream).
    return last_page < 0 or last_page + 5 >= len(tail) or not tail[last_page + 5] & 0x04


def to_mono(samples: npt.NDArray[np.floating[Any]] | npt.NDArray[np.integer[Any]]) -> FloatArray:
    """Average the channels of a (frames,) or (frames, channels) array into float32 mono.

    Integer arrays are scaled to [-1, 1] by their type's range."""
    array = np.asarray(samples)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        scale = float(max(abs(info.min), info.max))
        offset = 0.0 if info.min < 0 else (info.max + 1) / 2  # unsigned PCM is centred on mid-range
        array = (array.astype(np.float64) - offset) / scale
    if array.ndim == 2:
        array = array.mean(axis=1)
    elif array.ndim != 1:
        raise AudioError(None, f"expected audio of shape (frames,) or (frames, channels), got {array.shape}")
    with np.errstate(over="ignore"):  # values beyond float32's range become inf: refused as such
        return np.ascontiguousarray(array, dtype=np.float32)


MAX_ARRAY_CHANNELS = 64  # an in-memory array's shorter axis is its channels when it is at most this long


def frames_first(samples: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """An in-memory array as (frames,) or (frames, channels): a 2-D array may come either way
    round ((channels, frames) is what torchaudio.load returns); its channels are the shorter
    axis, which must be clearly shorter. Anything else is an AudioError."""
    array = np.asarray(samples)
    if array.ndim == 1 or (array.ndim == 2 and array.size == 0):
        return array.reshape(-1)
    if array.ndim != 2:
        raise AudioError(None, f"expected audio of shape (frames,), (frames, channels) or (channels, frames), got {array.shape}")
    rows, columns = array.shape
    if min(rows, columns) > MAX_ARRAY_CHANNELS or (rows == columns and rows > 1):
        raise AudioError(
            None, f"cannot tell channels from frames in an array of shape {array.shape}: give (frames,), or 2-D with at most {MAX_ARRAY_CHANNELS} channels"
        )
    return array if columns <= rows else array.T


def _check_finite(path: Path | None, block: FloatArray) -> None:
    if not np.isfinite(block).all():
        raise AudioError(path, "contains NaN or infinite samples")


def prepare_array(
    samples: npt.NDArray[np.floating[Any]] | npt.NDArray[np.integer[Any]],
    sample_rate: int,
    target_rate: int,
    layout: Literal["guess", "frames_first"] = "guess",
) -> FloatArray:
    """Turn an in-memory array at any rate and channel count into float32 mono at target_rate.
    A 2-D array may be (frames, channels) or (channels, frames) (see frames_first), unless
    layout says it is (frames, channels), as soundfile reads it."""
    if sample_rate <= 0:
        raise AudioError(None, f"invalid sample rate {sample_rate}")
    mono = to_mono(frames_first(samples) if layout == "guess" else samples)
    if mono.size == 0:
        raise AudioError(None, "contains no audio samples")
    _check_finite(None, mono)  # NaN stays NaN through resampling, but is cheaper to find first
    if sample_rate != target_rate:
        mono = soxr.resample(mono, sample_rate, target_rate, quality="HQ").astype(np.float32)
        _check_finite(None, mono)  # the filter can overshoot samples near float32's limit to inf
    return mono


def _open_soundfile(path: Path) -> sf.SoundFile | None:
    """Open with soundfile, or None when libsndfile does not know the format."""
    try:
        # Bytes, not str: soundfile encodes a str path strictly, which fails on file names that
        # are not valid UTF-8 (Python holds those as lone surrogates).
        return sf.SoundFile(os.fsencode(path))
    except sf.LibsndfileError:
        return None
    except (RuntimeError, TypeError) as exc:  # soundfile raises these for some broken headers
        raise AudioError(path, f"not a readable audio file ({exc})") from exc


def _load_with_librosa(path: Path, target_rate: int | None) -> tuple[FloatArray, int]:
    """Fallback for formats libsndfile cannot open (librosa may need ffmpeg for those): the
    samples at target_rate (None: the file's own), and their rate."""
    try:
        with warnings.catch_warnings():  # librosa warns as it falls back to audioread
            warnings.simplefilter("ignore")
            import librosa

            samples, rate = librosa.load(os.fsdecode(path), sr=target_rate, mono=True)
    except Exception as exc:  # librosa/audioread raise many unrelated types for bad input
        raise AudioError(path, "not a readable audio file (unknown format or corrupt data)") from exc
    return np.asarray(samples, dtype=np.float32), int(rate)


def _read_block(handle: sf.SoundFile, buffer: FloatArray, path: Path) -> tuple[FloatArray, AudioError | None]:
    """The next frames, read into buffer, and the error that cut the read short, if any.
    libsndfile has then already decoded the frames before the damage into buffer, and the
    file position says how many there are: they are kept, not thrown away with the error."""
    start = handle.tell()
    try:
        return handle.read(len(buffer), dtype="float32", always_2d=True, out=buffer), None
    except (sf.LibsndfileError, RuntimeError) as exc:
        try:
            decoded = min(max(handle.tell() - start, 0), len(buffer))
        except (sf.LibsndfileError, RuntimeError):
            decoded = 0
        seconds = (start + decoded) / handle.samplerate
        return buffer[:decoded], AudioError(path, f"corrupt or truncated audio data after {seconds:.2f} s ({exc})")


def iter_audio_blocks(
    path: str | Path,
    target_rate: int,
    block_seconds: float = READ_BLOCK_SECONDS,
) -> Iterator[FloatArray]:
    """Yield the file as consecutive float32 mono blocks at target_rate.

    Raises AudioError (naming the file) for every problem, also midway through a file: then
    after yielding every frame that could be decoded before the damage."""
    path = Path(path)
    _check_path(path)
    handle = _open_soundfile(path)
    if handle is None:
        samples, _ = _load_with_librosa(path, target_rate)
        if samples.size == 0:
            raise AudioError(path, "contains no audio samples")
        _check_finite(path, samples)
        yield samples
        return
    with handle:
        if handle.frames == 0:
            raise AudioError(path, "contains no audio samples")
        if handle.samplerate <= 0:
            raise AudioError(path, f"invalid sample rate {handle.samplerate}")
        if handle.format in ("WAV", "WAVEX") and _wav_is_truncated(handle):
            raise AudioError(path, "truncated WAV (it holds less data than its header announces)")
        if handle.format == "OGG" and _ogg_is_truncated(path):
            raise AudioError(path, "truncated Ogg stream (the end-of-stream page is missing)")
        resampler = None
        if handle.samplerate != target_rate:
            resampler = soxr.ResampleStream(handle.samplerate, target_rate, 1, dtype="float32", quality="HQ")
        buffer = np.empty((_block_frames(block_seconds, handle.samplerate, handle.channels), handle.channels), dtype=np.float32)
        produced = 0
        frames_read = 0
        while True:
            raw, failure = _read_block(handle, buffer, path)
            last = failure is not None or len(raw) < len(buffer)
            frames_read += len(raw)
            block = to_mono(raw)
            _check_finite(path, block)
            if resampler is not None:
                block = resampler.resample_chunk(block, last=last).astype(np.float32)
                _check_finite(path, block)  # the filter can overshoot samples near float32's limit to inf
            if block.size:
                produced += block.size
                yield block
            if failure is not None:
                raise failure  # after the frames decoded before the damage
            if last:
                break
        if produced == 0:
            raise AudioError(path, "contains no audio samples")
        if frames_read < MIN_FRAMES_READ * handle.frames:
            announced, rate = handle.frames / handle.samplerate, handle.samplerate
            raise AudioError(path, f"truncated: the header announces {announced:.2f} s, only {frames_read / rate:.2f} s could be decoded")


def load_audio(path: str | Path, target_rate: int) -> FloatArray:
    """Read a whole file as float32 mono at target_rate."""
    blocks = list(iter_audio_blocks(path, target_rate))
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the header when possible (no decoding), else by decoding."""
    path = Path(path)
    _check_path(path)
    handle = _open_soundfile(path)
    if handle is None:
        samples, native_rate = _load_with_librosa(path, None)
        return samples.size / native_rate
    with handle:
        if handle.samplerate <= 0:
            raise AudioError(path, f"invalid sample rate {handle.samplerate}")
        frames: int = handle.frames
        rate: int = handle.samplerate
        return frames / rate
