"""What the demo computes, without any UI: one model pass per request (log-probs kept for the
posteriorgram, then decoded), friendly messages for bad input, and microphone streaming with
partial results whose final result equals transcribing the whole recording at once."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr
import torch

from asr.audio import FloatArray, audio_duration, load_audio, prepare_array, to_mono
from asr.constants import CONTEXT_SECONDS, DEMO_MAX_SECONDS, DEMO_PARTIAL_WINDOW_SECONDS
from asr.decoding import DecoderOptions, parse_hotwords
from asr.errors import AsrError
from asr.results import Transcript
from asr.transcribe import Recognizer, TranscribeOptions

GREEDY = "greedy"
BEAM = "beam"
BEAM_LM = "beam + LM"
DEMO_SILENCE_DBFS = -50.0  # a recording whose peak stays below this is called silent


class DemoInputError(AsrError):
    """Input the demo cannot transcribe; the message is shown to the person as is."""


def decoder_choices(recognizer: Recognizer) -> list[str]:
    """The decoders to offer: beam + LM only when the model directory carries an LM."""
    return [GREEDY, BEAM, BEAM_LM] if recognizer.has_lm else [GREEDY, BEAM]


def default_choice(recognizer: Recognizer) -> str:
    """The UI's decoder when none is chosen: the model's default decoder (Recognizer.default_decoder)."""
    if recognizer.default_decoder().method == "greedy":
        return GREEDY
    return BEAM_LM if recognizer.has_lm else BEAM


def decoder_options(recognizer: Recognizer, choice: str, hotwords: str = "") -> DecoderOptions:
    """DecoderOptions for a UI choice. Beam without LM drops the model's stored LM and lexicon;
    hotwords ('word:boost, other') apply to the beam decoders only."""
    if choice == GREEDY:
        return DecoderOptions()
    if choice not in (BEAM, BEAM_LM):
        raise DemoInputError(f"unknown decoder {choice!r}; choose from {', '.join(decoder_choices(recognizer))}")
    if choice == BEAM_LM and not recognizer.has_lm:
        raise DemoInputError("this model has no language model; choose greedy or beam")
    options = recognizer.decoder_defaults("beam")
    if choice == BEAM:
        options = replace(options, lm=None, lexicon=None)
    return replace(options, hotwords=parse_hotwords(hotwords)) if hotwords.strip() else options


@dataclass(frozen=True)
class Analysis:
    """One transcribed recording with what the UI shows besides the text."""

    transcript: Transcript
    samples: FloatArray  # the audio at the model's rate (for the waveform)
    log_probs: torch.Tensor  # (frames, vocab), natural log
    notice: str = ""  # e.g. "no speech recognized", shown next to the result


def peak_dbfs(samples: FloatArray) -> float:
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def analyse_samples(recognizer: Recognizer, samples: FloatArray, decoder: DecoderOptions = DecoderOptions()) -> Analysis:
    """Run the model once over model-rate samples and decode; silence is refused with a message."""
    level = peak_dbfs(samples)
    if level < DEMO_SILENCE_DBFS:
        shown = "-inf" if math.isinf(level) else f"{level:.0f}"
        raise DemoInputError(f"the recording is silent (peak {shown} dBFS); check the microphone or the file")
    log_probs, duration = recognizer.log_probs([samples], TranscribeOptions())
    transcript = recognizer.decode(log_probs, duration, decoder)
    notice = "" if transcript.text else f"no speech recognized in {duration:.1f} s of audio"
    return Analysis(transcript, samples, log_probs, notice)


def _too_long(seconds: float, max_seconds: float) -> DemoInputError:
    return DemoInputError(f"the recording is {seconds:.1f} s long; this demo accepts at most {max_seconds:g} s (use `asr transcribe` for long files)")


def analyse_file(recognizer: Recognizer, path: str | Path, decoder: DecoderOptions = DecoderOptions(), max_seconds: float = DEMO_MAX_SECONDS) -> Analysis:
    """Transcribe an uploaded file. Messages name the file by its own name: uploads live under
    temporary paths that mean nothing to the person."""
    name = Path(path).name
    try:
        seconds = audio_duration(path)  # from the header: long files are refused before decoding
        if seconds > max_seconds:
            raise _too_long(seconds, max_seconds)
        samples = load_audio(path, recognizer.sample_rate)
    except DemoInputError as exc:
        raise DemoInputError(f"{name}: {exc}") from exc
    except AsrError as exc:
        reason = getattr(exc, "reason", str(exc))
        raise DemoInputError(f"{name}: {reason}") from exc
    if samples.size > max_seconds * recognizer.sample_rate:  # headers can lie
        raise DemoInputError(f"{name}: {_too_long(samples.size / recognizer.sample_rate, max_seconds)}")
    try:
        return analyse_samples(recognizer, samples, decoder)
    except DemoInputError as exc:
        raise DemoInputError(f"{name}: {exc}") from exc


def analyse_array(recognizer: Recognizer, samples: npt.NDArray[Any], sample_rate: int, decoder: DecoderOptions = DecoderOptions()) -> Analysis:
    """Transcribe an in-memory recording, exactly as `recognizer.transcribe(samples, sample_rate)`."""
    try:
        prepared = prepare_array(samples, sample_rate, recognizer.sample_rate)
    except AsrError as exc:
        raise DemoInputError(f"recording: {exc}") from exc
    return analyse_samples(recognizer, prepared, decoder)


@dataclass
class StreamState:
    """A microphone recording in progress (one per browser session).

    `chunks` keep the audio exactly as it arrived, so that the final result is the whole
    recording transcribed at once. Partial results only re-run the model on the last
    DEMO_PARTIAL_WINDOW_SECONDS (plus context): frames before that were computed in earlier
    passes with at least half a window of right context and are kept (`committed`)."""

    sample_rate: int = 0
    chunks: list[FloatArray] = field(default_factory=list)
    received: int = 0  # samples at sample_rate
    resampled: list[FloatArray] = field(default_factory=list)  # model-rate audio for partials
    resampler: soxr.ResampleStream | None = None
    committed: list[torch.Tensor] = field(default_factory=list)  # log-probs of settled frames
    committed_frames: int = 0
    truncated: bool = False  # the recording reached the maximum length
    finished: bool = False  # stop was pressed; late chunks are ignored

    @property
    def seconds(self) -> float:
        return self.received / self.sample_rate if self.sample_rate else 0.0


def _model_rate_audio(state: StreamState) -> FloatArray:
    audio = np.concatenate(state.resampled) if len(state.resampled) != 1 else state.resampled[0]
    state.resampled = [audio]
    return audio


def add_chunk(
    recognizer: Recognizer,
    state: StreamState,
    sample_rate: int,
    chunk: npt.NDArray[Any],
    max_seconds: float = DEMO_MAX_SECONDS,
) -> bool:
    """Append a microphone chunk; False (and the chunk is dropped) once the recording is full."""
    if state.sample_rate and sample_rate != state.sample_rate:
        raise DemoInputError(f"the microphone changed its sample rate from {state.sample_rate} to {sample_rate} Hz; record again")
    if sample_rate <= 0:
        raise DemoInputError(f"invalid sample rate {sample_rate}")
    samples = to_mono(chunk)
    if not np.isfinite(samples).all():
        raise DemoInputError("the microphone sent NaN or infinite samples")
    room = int(max_seconds * sample_rate) - state.received
    if room <= 0:
        state.truncated = True
        return False
    if samples.size > room:
        samples, state.truncated = samples[:room], True
    if not state.sample_rate:
        state.sample_rate = sample_rate
        if sample_rate != recognizer.sample_rate:
            state.resampler = soxr.ResampleStream(sample_rate, recognizer.sample_rate, 1, dtype="float32", quality="HQ")
    state.chunks.append(samples)
    state.received += samples.size
    model_rate = samples if state.resampler is None else state.resampler.resample_chunk(samples).astype(np.float32)
    state.resampled.append(model_rate)
    return not state.truncated


def partial_transcript(recognizer: Recognizer, state: StreamState, decoder: DecoderOptions = DecoderOptions()) -> Transcript:
    """The recording so far, re-decoding only its last window: cost per update stays flat however
    long the recording grows. Words near the end may still change when more audio arrives."""
    audio = _model_rate_audio(state)
    frame = recognizer.frame_samples
    context = round(CONTEXT_SECONDS * recognizer.sample_rate / frame)  # in frames
    window = round(DEMO_PARTIAL_WINDOW_SECONDS * recognizer.sample_rate / frame)
    start = max(state.committed_frames - context, 0)
    tail = audio[start * frame :]
    if tail.size:
        tail_log_probs, _ = recognizer.log_probs([tail], TranscribeOptions())
        fresh = tail_log_probs[state.committed_frames - start :]
    else:
        fresh = torch.zeros(0, recognizer.tokenizer.vocab_size)
    if fresh.shape[0] > window:
        # Settle the older half: those frames have now seen half a window of audio after them.
        settle = fresh.shape[0] - window // 2
        state.committed.append(fresh[:settle].clone())
        state.committed_frames += settle
        fresh = fresh[settle:]
    log_probs = torch.cat([*state.committed, fresh]) if state.committed else fresh
    return recognizer.decode(log_probs, audio.size / recognizer.sample_rate, decoder)


def finish_stream(recognizer: Recognizer, state: StreamState, decoder: DecoderOptions = DecoderOptions()) -> Analysis:
    """The final result of a recording: the whole of it through the model at once."""
    if not state.chunks:
        raise DemoInputError("nothing was recorded; allow the microphone and speak after pressing record")
    recording = np.concatenate(state.chunks)
    return analyse_array(recognizer, recording, state.sample_rate, decoder)
