"""The demo's computations without a browser: streaming partial and final results, decoder
choices, and the messages for silence, files that are not audio and recordings that are too long."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import asr
from asr.constants import DEMO_PARTIAL_WINDOW_SECONDS
from asr.decoding import DecoderOptions, Hotword
from asr.demo.analysis import (
    BEAM,
    BEAM_LM,
    GREEDY,
    DemoInputError,
    StreamState,
    add_chunk,
    analyse_array,
    analyse_file,
    decoder_choices,
    decoder_options,
    finish_stream,
    partial_transcript,
)
from asr.transcribe import Recognizer, TranscribeOptions
from tests.conftest import ROOT, SPEECH, fixture_texts

EXAMPLES = ROOT / "demo" / "examples"


@pytest.fixture(scope="module")
def bundled() -> Recognizer:
    return asr.load_model()


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> Recognizer:
    return asr.load_model(tiny_model_dir)


def microphone_chunks(path: Path, sample_rate: int = 48_000, chunk_seconds: float = 0.5) -> list[np.ndarray]:
    """A file as a browser microphone delivers it: 16-bit chunks at 48 kHz."""
    from asr.audio import load_audio

    samples = load_audio(path, sample_rate)
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16)
    step = int(chunk_seconds * sample_rate)
    return [pcm[i : i + step] for i in range(0, pcm.size, step)]


def stream(recognizer: Recognizer, chunks: list[np.ndarray], sample_rate: int = 48_000) -> tuple[StreamState, list[str]]:
    state, partials = StreamState(), []
    for chunk in chunks:
        assert add_chunk(recognizer, state, sample_rate, chunk)
        partials.append(partial_transcript(recognizer, state).text)
    return state, partials


def test_final_stream_result_equals_transcribing_the_whole_recording(bundled: Recognizer) -> None:
    chunks = microphone_chunks(EXAMPLES / "weather_report.flac")
    state, partials = stream(bundled, chunks)
    final = finish_stream(bundled, state)
    whole = bundled.transcribe(np.concatenate(chunks), sample_rate=48_000, options=TranscribeOptions())  # greedy, as finish_stream
    assert final.transcript == whole  # text, every word's times and confidences, segments
    expected_log_probs, _ = bundled.log_probs([final.samples], TranscribeOptions())
    assert torch.equal(final.log_probs, expected_log_probs)
    assert final.samples.size == pytest.approx(state.seconds * bundled.sample_rate, abs=1)
    assert partials[-1]  # partial results were produced as the audio arrived
    assert len(partials) == len(chunks)


def test_partials_of_the_tiny_model_grow_into_the_final_text(tiny: Recognizer) -> None:
    expected = fixture_texts()["espeak_us_cat.flac"]
    state, partials = stream(tiny, microphone_chunks(SPEECH / "espeak_us_cat.flac"))
    assert partials[-1] == expected
    assert finish_stream(tiny, state).transcript.text == expected
    assert len(partials[0].split()) < len(expected.split())  # the first half second holds only the start


def test_partial_updates_rerun_the_model_on_a_bounded_window(bundled: Recognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    """However long the recording, each refresh re-decodes at most the window plus context and
    one chunk; the frames it settles match a pass over the whole recording closely."""
    seen: list[int] = []
    original = bundled.log_probs

    def counting(blocks, options=None, progress=None):  # type: ignore[no-untyped-def]
        blocks = list(blocks)
        seen.append(sum(b.size for b in blocks))
        return original(blocks, options or TranscribeOptions(), progress)

    chunks = microphone_chunks(EXAMPLES / "weather_report.flac") + microphone_chunks(EXAMPLES / "library_notice.flac")  # 13 s
    monkeypatch.setattr(bundled, "log_probs", counting)
    state, partials = stream(bundled, chunks)
    monkeypatch.undo()
    limit = (DEMO_PARTIAL_WINDOW_SECONDS + 1.0 + 0.5 + 0.1) * bundled.sample_rate
    assert max(seen) <= limit < 13 * bundled.sample_rate
    assert state.committed_frames > 0
    final = finish_stream(bundled, state)
    settled = torch.cat(state.committed)
    agree = (settled.argmax(-1) == final.log_probs[: settled.shape[0]].argmax(-1)).float().mean().item()
    assert agree > 0.9  # settled frames saw enough right context to be near final
    final_words, partial_words = final.transcript.text.split(), partials[-1].split()
    assert abs(len(final_words) - len(partial_words)) <= 3


def test_recording_stops_at_the_maximum_length(tiny: Recognizer) -> None:
    state = StreamState()
    one_second = np.full(16_000, 1000, dtype=np.int16)
    assert add_chunk(tiny, state, 16_000, one_second, max_seconds=1.5)
    assert not add_chunk(tiny, state, 16_000, one_second, max_seconds=1.5)  # cut at 1.5 s
    assert state.truncated and state.seconds == 1.5
    assert not add_chunk(tiny, state, 16_000, one_second, max_seconds=1.5)  # later chunks are dropped
    assert state.seconds == 1.5


def test_stream_problems_have_clear_messages(tiny: Recognizer) -> None:
    state = StreamState()
    add_chunk(tiny, state, 48_000, np.zeros(100, dtype=np.int16))
    with pytest.raises(DemoInputError, match="changed its sample rate from 48000 to 16000 Hz"):
        add_chunk(tiny, state, 16_000, np.zeros(100, dtype=np.int16))
    with pytest.raises(DemoInputError, match="NaN or infinite"):
        add_chunk(tiny, StreamState(), 16_000, np.array([0.0, np.nan], dtype=np.float32))
    with pytest.raises(DemoInputError, match="nothing was recorded"):
        finish_stream(tiny, StreamState())


def test_silence_is_refused_with_its_level(tiny: Recognizer) -> None:
    with pytest.raises(DemoInputError, match=r"^the recording is silent \(peak -inf dBFS\); check the microphone"):
        analyse_array(tiny, np.zeros(16_000, dtype=np.float32), 16_000)
    quiet_hum = (1e-3 * np.sin(2 * np.pi * 100 * np.arange(16_000) / 16_000)).astype(np.float32)  # peak -60 dBFS
    with pytest.raises(DemoInputError, match=r"^the recording is silent \(peak -60 dBFS\)"):
        analyse_array(tiny, quiet_hum, 16_000)
    analyse_array(tiny, quiet_hum * 100, 16_000)  # -20 dBFS is heard


def test_silent_file_is_refused_naming_the_file(tiny: Recognizer, tmp_path: Path) -> None:
    path = tmp_path / "quiet room.wav"
    sf.write(path, np.zeros(8000, dtype=np.float32), 16_000)
    with pytest.raises(DemoInputError) as error:
        analyse_file(tiny, path)
    assert str(error.value) == "quiet room.wav: the recording is silent (peak -inf dBFS); check the microphone or the file"


def test_file_that_is_not_audio_is_named_in_the_message(tiny: Recognizer, tmp_path: Path) -> None:
    text_file = tmp_path / "notes.wav"
    text_file.write_text("not audio at all\n")
    with pytest.raises(DemoInputError) as error:
        analyse_file(tiny, text_file)
    assert str(error.value) == "notes.wav: not a readable audio file (unknown format or corrupt data)"
    with pytest.raises(DemoInputError, match=r"^missing\.flac: file not found$"):
        analyse_file(tiny, tmp_path / "missing.flac")


def test_too_long_file_is_refused_before_decoding(tiny: Recognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the audio must not be decoded")

    monkeypatch.setattr("asr.demo.analysis.load_audio", no_decoding)
    with pytest.raises(DemoInputError) as error:
        analyse_file(tiny, SPEECH / "espeak_us_cat.flac", max_seconds=1.0)
    assert str(error.value) == "espeak_us_cat.flac: the recording is 1.9 s long; this demo accepts at most 1 s (use `asr transcribe` for long files)"


def test_file_analysis_matches_transcribe(tiny: Recognizer) -> None:
    clip = SPEECH / "flite_slt_bread.flac"
    analysis = analyse_file(tiny, clip)
    assert analysis.transcript == tiny.transcribe(clip)
    assert analysis.transcript.text == fixture_texts()["flite_slt_bread.flac"]
    frames, vocab = analysis.log_probs.shape
    assert vocab == tiny.tokenizer.vocab_size
    assert frames * tiny.output_frame_seconds == pytest.approx(analysis.transcript.duration, abs=tiny.output_frame_seconds)
    assert analysis.notice == ""


def test_audio_without_recognized_words_gets_a_notice(tiny: Recognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    def all_blank(blocks, options=None, progress=None):  # type: ignore[no-untyped-def]
        frames = sum(b.size for b in blocks) // tiny.frame_samples
        log_probs = torch.full((frames, tiny.tokenizer.vocab_size), -30.0)
        log_probs[:, tiny.tokenizer.blank_id] = 0.0
        return log_probs, frames * tiny.output_frame_seconds

    monkeypatch.setattr(tiny, "log_probs", all_blank)
    hum = (0.3 * np.sin(2 * np.pi * 100 * np.arange(24_000) / 16_000)).astype(np.float32)
    analysis = analyse_array(tiny, hum, 16_000)
    assert (analysis.transcript.text, analysis.notice) == ("", "no speech recognized in 1.5 s of audio")


def test_decoder_choices_follow_the_model(tiny: Recognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert decoder_choices(tiny) == [GREEDY, BEAM]
    assert decoder_options(tiny, GREEDY, "ignored:3") == DecoderOptions()
    beam = decoder_options(tiny, BEAM, "Thornton:5, Avonlea")
    assert (beam.method, beam.lm, beam.hotwords) == ("beam", None, (Hotword("Thornton", 5.0), Hotword("Avonlea")))
    with pytest.raises(DemoInputError, match="has no language model"):
        decoder_options(tiny, BEAM_LM)
    with pytest.raises(DemoInputError, match="unknown decoder 'viterbi'"):
        decoder_options(tiny, "viterbi")

    stored = replace(tiny.decoder_defaults(BEAM), lm="/models/x/lm.bin", lexicon="/models/x/words.txt", lm_weight=0.8)
    monkeypatch.setattr(Recognizer, "decoder_defaults", lambda self, method="beam": replace(stored, method=method))
    assert decoder_choices(tiny) == [GREEDY, BEAM, BEAM_LM]
    with_lm = decoder_options(tiny, BEAM_LM)
    assert (with_lm.lm, with_lm.lexicon, with_lm.lm_weight) == ("/models/x/lm.bin", "/models/x/words.txt", 0.8)
    without_lm = decoder_options(tiny, BEAM)
    assert (without_lm.lm, without_lm.lexicon) == (None, None)


def test_beam_decoding_of_the_tiny_model_agrees_with_greedy(tiny: Recognizer) -> None:
    clip = SPEECH / "flite_kal_rain.flac"
    analysis = analyse_file(tiny, clip, decoder_options(tiny, BEAM))
    assert analysis.transcript.text == fixture_texts()["flite_kal_rain.flac"]
