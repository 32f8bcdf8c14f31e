"""From audio to a Transcript: windows cut at quiet points, batched model runs, decoding."""

from __future__ import annotations

import ctypes
import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from asr.audio import FloatArray, iter_audio_blocks, prepare_array
from asr.constants import CONTEXT_SECONDS
from asr.decoding import DecoderMethod, DecoderOptions, Decoding, GreedyStream
from asr.device import resolve_device
from asr.errors import AudioError
from asr.features import LogMel
from asr.inference import InferenceModel, Quantization
from asr.model import CTCModel, output_frame_samples, output_frames
from asr.model_dir import LoadedModel, load_model_dir, stored_decoder
from asr.results import Segment, SegmentBuilder, Transcript, Word, make_transcript

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
# Long-form transcription: windows of at most WINDOW_SECONDS, cut at the quietest point of the
# last CUT_SEARCH_SECONDS (with CONTEXT_SECONDS of audio on each side that the bidirectional
# model sees but whose frames are not kept).
WINDOW_SECONDS = 30.0
CUT_SEARCH_SECONDS = 5.0
SILENCE_PEAK = 1e-4  # a window whose samples all stay below this (-80 dBFS) is silence: no model run


@dataclass(frozen=True)
class TranscribeOptions:
    batch_size: int = 4  # windows run through the model at once
    # Batches run at the same time on the CPU, each on one thread (0: one per core). An LSTM's
    # step-by-step recurrence splits poorly over threads, but the whole pipeline gains little
    # (2 cores, 10 min of speech: 390x realtime against 343x) and each thread's allocations
    # raise peak memory (an hour: 1.25 GB against 0.94 GB), so one batch at a time is the default.
    concurrent_batches: int = 1
    window_seconds: float = WINDOW_SECONDS  # longest piece of audio the model sees at once
    context_seconds: float = CONTEXT_SECONDS  # extra audio on each side, seen but not kept
    cut_search_seconds: float = CUT_SEARCH_SECONDS  # where to look for a quiet cut point
    decoder: DecoderOptions = field(default_factory=DecoderOptions)  # greedy unless told otherwise

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.concurrent_batches < 0:
            raise ValueError("concurrent_batches must be 0 (one per core) or more")
        if not 0 < self.cut_search_seconds < self.window_seconds:
            raise ValueError("cut_search_seconds must be positive and shorter than window_seconds")


@dataclass(frozen=True)
class Window:
    """A piece of audio for the model, and which of its output frames belong to it alone."""

    samples: FloatArray
    keep_from: int  # first output frame to keep
    keep_to: int  # one past the last output frame to keep


def quietest_unit(energy: npt.NDArray[np.float32]) -> int:
    """Index of the middle of the longest run of the quietest frames: a cut in the middle of a
    pause, away from the edges of the words around it."""
    quiet = energy <= 2 * energy.min() + 1e-8
    best_start, best_length, start = 0, 0, None
    for index, is_quiet in enumerate([*quiet.tolist(), False]):
        if is_quiet and start is None:
            start = index
        elif not is_quiet and start is not None:
            if index - start > best_length:
                best_start, best_length = start, index - start
            start = None
    return best_start + best_length // 2


def plan_windows(
    blocks: Iterable[FloatArray], unit: int, window: int, context: int, search: int, frames_of: Callable[[int], int]
) -> Iterator[Window]:
    """Cut a stream of sample blocks into windows of at most `window` samples (plus `context`
    each side). Cuts fall on multiples of `unit` (one output frame), at the quietest frame of
    the last `search` samples, so that kept frames tile the audio without gaps or overlap. The
    last window keeps every frame the model gives for its samples (`frames_of`): centred
    windows give one more than the samples fill when they end on a frame boundary, and CTC
    models often emit the last letter there."""
    source = iter(blocks)
    pieces: list[FloatArray] = []
    buffered = 0
    buf_start = 0  # absolute index of the first buffered sample
    core_start = 0
    exhausted = False
    while True:
        while not exhausted and buf_start + buffered < core_start + window + context:
            block = next(source, None)
            if block is None:
                exhausted = True
            else:
                pieces.append(block)
                buffered += block.size
        if not pieces:
            return  # an empty stream
        buf = np.concatenate(pieces) if len(pieces) != 1 else pieces[0]
        pieces = [buf]
        available_end = buf_start + buffered
        chunk_start = max(core_start - context, 0)
        if exhausted and available_end - core_start <= window:
            if available_end <= core_start:
                return
            samples = buf[chunk_start - buf_start :]
            keep_to = frames_of(available_end - chunk_start)
            yield Window(samples, (core_start - chunk_start) // unit, keep_to)
            return
        region = buf[core_start + window - search - buf_start : core_start + window - buf_start]
        energy = (region[: region.size // unit * unit].reshape(-1, unit) ** 2).sum(axis=1)
        core_end = core_start + window - search + quietest_unit(energy) * unit
        if core_end <= core_start:  # degenerate settings: never stand still
            core_end = core_start + unit
        chunk_end = min(core_end + context, available_end)
        yield Window(buf[chunk_start - buf_start : chunk_end - buf_start], (core_start - chunk_start) // unit, (core_end - chunk_start) // unit)
        core_start = core_end
        drop = max(core_start - context, 0) - buf_start
        pieces = [buf[drop:]]
        buf_start += drop
        buffered -= drop


def _batches(windows: Iterable[Window], size: int) -> Iterator[list[Window]]:
    batch: list[Window] = []
    for window in windows:
        batch.append(window)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


TRIM_EVERY_BATCHES = 4  # about 8 minutes of audio at the default batch size


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed_memory() -> None:
    """Give freed heap memory back to the system. Between model batches, glibc keeps the freed
    activations of large batches in a heap that small allocations (decoding, writing) pin, and
    an hour of audio peaked about 180 MB higher without this. Trimming costs page faults later,
    so it runs every TRIM_EVERY_BATCHES batches, not after each."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class ReadUntilFailure:
    """The blocks of an audio stream up to where reading it fails. The failure is kept, to be
    raised once everything read before it is transcribed: the .partial output of a truncated
    recording then holds all that could be decoded, not only the windows finished before."""

    def __init__(self, blocks: Iterable[FloatArray]) -> None:
        self._blocks = blocks
        self.failure: AudioError | None = None

    def __iter__(self) -> Iterator[FloatArray]:
        try:
            yield from self._blocks
        except AudioError as exc:
            self.failure = exc


def clamp_word(word: Word, duration: float) -> Word:
    """The last frame may reach a little past the audio; times never exceed the duration."""
    return word if word.end <= duration else Word(word.text, min(word.start, duration), duration, word.confidence)


class Recognizer:
    """A loaded model ready to transcribe files or arrays. Create it with asr.load_model()."""

    def __init__(self, loaded: LoadedModel, device: str | torch.device = "cpu", quantize: Quantization | None = None) -> None:
        self.config = loaded.config
        self.tokenizer = loaded.tokenizer
        self.path = loaded.path
        self.device = torch.device(device)
        if quantize == "int8" and self.device.type != "cpu":
            raise ValueError(f"{quantize} quantization runs on the CPU only, not on {self.device}")
        self.quantization = quantize
        self.model: torch.nn.Module = loaded.model.to(self.device).eval()
        if isinstance(loaded.model, CTCModel):  # (tests may bring a stand-in model)
            self.model = InferenceModel(loaded.model, quantize).to(self.device)
        self.frontend = LogMel(self.config.features).to(self.device)
        features = self.config.features
        self.sample_rate = features.sample_rate
        self.frame_samples = output_frame_samples(features, self.config.model)
        self.output_frame_seconds = self.config.output_frame_seconds
        self.decoding = Decoding(self.tokenizer, self.output_frame_seconds)

    @property
    def has_lm(self) -> bool:
        """Whether the model directory carries its own language model (see `asr lm build`)."""
        return self.decoder_defaults("beam").lm is not None

    def decoder_defaults(self, method: DecoderMethod = "beam") -> DecoderOptions:
        """Decoder options for `method` with the model directory's stored defaults (its LM and
        tuned weights, from config.json's "decoder" section) filled in."""
        return replace(stored_decoder(self.config, self.path), method=method)

    def default_decoder(self) -> DecoderOptions:
        """The decoder to use when none is asked for: the model directory's "method" (`asr lm tune`
        sets beam when beam search with the LM scored better on the dev sets), else greedy."""
        method = self.config.decoder.method
        return DecoderOptions() if method == "greedy" else self.decoder_defaults(method)

    def with_decoder(self, options: TranscribeOptions, method: DecoderMethod, **overrides: object) -> TranscribeOptions:
        """`options` with the model's decoder defaults for `method`, then `overrides`, applied."""
        return replace(options, decoder=replace(self.decoder_defaults(method), **overrides))  # type: ignore[arg-type]

    def _silence(self, window: Window) -> torch.Tensor:
        """All-blank log-probs: digital silence is far outside any training data, and a model can
        hallucinate on it, so silent windows skip the model."""
        frames = window.keep_to - window.keep_from
        log_probs = torch.full((frames, self.tokenizer.vocab_size), -1e4)
        log_probs[:, self.tokenizer.blank_id] = 0.0
        return log_probs

    def _run(self, windows: list[Window]) -> list[torch.Tensor]:
        """Log-probs of the kept frames of each window in a batch."""
        silent = [float(np.abs(w.samples).max()) < SILENCE_PEAK for w in windows]
        batch = [w for w, quiet in zip(windows, silent, strict=True) if not quiet]
        heard = iter(self._run_model(batch) if batch else [])
        return [self._silence(w) if quiet else next(heard) for w, quiet in zip(windows, silent, strict=True)]

    def _run_model(self, batch: list[Window]) -> list[torch.Tensor]:
        min_samples = self.config.features.n_fft  # the STFT's reflect padding needs this much
        lengths = [max(w.samples.size, min_samples) for w in batch]
        waves = torch.zeros(len(batch), max(lengths))
        for row, window in enumerate(batch):
            waves[row, : window.samples.size] = torch.from_numpy(window.samples)
        waves = waves.to(self.device)
        sample_lengths = torch.tensor(lengths, device=self.device)
        feats = self.frontend(waves)
        log_probs, out_lengths = self.model(feats, self.frontend.lengths(sample_lengths))
        kept = []
        for row, window in enumerate(batch):
            valid = int(out_lengths[row])
            kept.append(log_probs[row, window.keep_from : min(window.keep_to, valid)].cpu())
        return kept

    def log_prob_pieces(
        self,
        blocks: Iterable[FloatArray],
        options: TranscribeOptions = TranscribeOptions(),
        progress: Callable[[float], None] | None = None,
    ) -> Iterator[tuple[torch.Tensor, float]]:
        """(frames, vocab) log-probabilities of a stream of audio blocks, window after window,
        each with the seconds of audio read so far (the duration, once the stream ends)."""
        sr, unit = self.sample_rate, self.frame_samples

        def to_units(seconds: float) -> int:
            return max(1, round(seconds * sr / unit)) * unit

        total = 0

        def counted(source: Iterable[FloatArray]) -> Iterator[FloatArray]:
            nonlocal total
            for block in source:
                total += block.size
                yield block

        context = round(options.context_seconds * sr / unit) * unit
        frames_of = partial(output_frames, self.config.features, self.config.model)
        windows = plan_windows(counted(blocks), unit, to_units(options.window_seconds), context, to_units(options.cut_search_seconds), frames_of)
        frames = 0
        for count, pieces in enumerate(self._run_batches(_batches(windows, options.batch_size), options), start=1):
            if count % TRIM_EVERY_BATCHES == 0:
                release_freed_memory()
            for piece in pieces:
                frames += piece.shape[0]
                yield piece, total / sr
            if progress is not None:
                progress(frames * self.output_frame_seconds)

    def _run_batches(self, batches: Iterator[list[Window]], options: TranscribeOptions) -> Iterator[list[torch.Tensor]]:
        """Each batch's log-probs, in order. On the CPU, several batches run at once on threads of
        one core each; at most that many are read ahead, so memory stays bounded."""
        workers = options.concurrent_batches or (torch.get_num_threads() if self.device.type == "cpu" else 1)
        if workers == 1:
            for batch in batches:
                yield self._run_quietly(batch)
            return
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # process-wide: restored below
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr-model") as pool:
                running: deque[Future[list[torch.Tensor]]] = deque()
                for batch in batches:
                    running.append(pool.submit(self._run_quietly, batch))
                    if len(running) == workers:
                        yield running.popleft().result()
                while running:
                    yield running.popleft().result()
        finally:
            torch.set_num_threads(threads)

    def _run_quietly(self, batch: list[Window]) -> list[torch.Tensor]:
        with torch.inference_mode():
            return self._run(batch)

    def log_probs(
        self,
        blocks: Iterable[FloatArray],
        options: TranscribeOptions = TranscribeOptions(),
        progress: Callable[[float], None] | None = None,
    ) -> tuple[torch.Tensor, float]:
        """(frames, vocab) log-probabilities for a stream of audio blocks, and its duration."""
        pieces = list(self.log_prob_pieces(blocks, options, progress))
        if not pieces:
            return torch.zeros(0, self.tokenizer.vocab_size), 0.0
        return torch.cat([piece for piece, _ in pieces]), pieces[-1][1]

    def transcribe(
        self,
        audio: str | Path | npt.NDArray[np.floating[Any]] | npt.NDArray[np.integer[Any]],
        sample_rate: int | None = None,
        options: TranscribeOptions | None = None,
        progress: Callable[[float], None] | None = None,
        on_segment: Callable[[Segment], None] | None = None,
    ) -> Transcript:
        """Transcribe a file path, or an array (then sample_rate is required). Without options,
        with the model's default decoder (default_decoder).

        on_segment gets each segment as soon as it is final: with greedy decoding that is while
        later audio is still being read, so a long recording's transcript can be written as it
        grows; a beam search needs all the audio first and hands them over at the end."""
        if isinstance(audio, (str, Path)):
            blocks = ReadUntilFailure(iter_audio_blocks(audio, self.sample_rate))
        else:
            if sample_rate is None:
                raise AudioError(None, "sample_rate is required when transcribing an array")
            blocks = ReadUntilFailure([prepare_array(audio, sample_rate, self.sample_rate)])
        if options is None:
            options = TranscribeOptions(decoder=self.default_decoder())
        if options.decoder.method != "greedy":
            transcript = self.decode(*self.log_probs(blocks, options, progress), options.decoder)
            if on_segment is not None:
                for segment in transcript.segments:
                    on_segment(segment)
        else:
            transcript = self._transcribe_greedy(blocks, options, progress, on_segment)
        if blocks.failure is not None:
            raise blocks.failure  # on_segment has had everything read before it
        return transcript

    def _transcribe_greedy(
        self,
        blocks: Iterable[FloatArray],
        options: TranscribeOptions,
        progress: Callable[[float], None] | None,
        on_segment: Callable[[Segment], None] | None,
    ) -> Transcript:
        """Decode each window as it comes, so memory does not grow with the recording's length."""
        stream, builder = GreedyStream(self.tokenizer, self.output_frame_seconds), SegmentBuilder()
        words: list[Word] = []
        duration = 0.0

        def emit(segment: Segment | None) -> None:
            if segment is not None and on_segment is not None:
                on_segment(segment)

        def take(new_words: list[Word]) -> None:
            for word in new_words:
                word = clamp_word(word, duration)
                words.append(word)
                emit(builder.add(word))

        for piece, seconds_read in self.log_prob_pieces(blocks, options, progress):
            duration = seconds_read
            take(stream.feed(piece))
        take(stream.finish())
        emit(builder.finish())
        return make_transcript(words, duration)

    def decode(self, log_probs: torch.Tensor, duration: float, options: DecoderOptions = DecoderOptions()) -> Transcript:
        """A Transcript from (frames, vocab) log-probs, e.g. those of `log_probs()`."""
        words, alternatives = self.decoding.decode(log_probs, options)
        return make_transcript([clamp_word(w, duration) for w in words], duration, alternatives)


def load_model(path: str | Path | None = None, device: str = "cpu", quantize: Quantization | None = None) -> Recognizer:
    """Load a model directory (default: the bundled English model) for transcription.
    quantize="int8" runs the LSTM and output layers with int8 weights (CPU only), "bf16" the
    whole network in bfloat16; both are faster and slightly less accurate (see README's "Speed
    and deployment")."""
    if quantize == "int8" and device != "auto" and not device.startswith("cpu"):  # checked before loading onto the device
        raise ValueError(f"{quantize} quantization runs on the CPU only, not on {device}")
    device = resolve_device(device, cpu_only=quantize == "int8")
    return Recognizer(load_model_dir(path or DEFAULT_MODEL_DIR, device), device, quantize)
