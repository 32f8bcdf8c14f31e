"""The demo's request handlers (what each browser event returns), called directly: messages
instead of crashes, the final result after stop, and the decoders on a model with an LM."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

import asr
from asr.cli import build_parser
from asr.constants import DEMO_MAX_SECONDS
from asr.demo.analysis import BEAM, BEAM_LM, GREEDY, decoder_choices
from asr.demo.app import DEMO_CONCURRENCY, DemoApp, build_demo, example_files
from asr.lm import build_lm
from tests.conftest import ROOT, SPEECH, fixture_texts
from tests.test_demo_analysis import microphone_chunks


@pytest.fixture(scope="module")
def app(tiny_model_dir: Path) -> DemoApp:
    return DemoApp(asr.load_model(tiny_model_dir))


@pytest.fixture(scope="module")
def model_with_lm(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a word trigram LM of its four sentences stored in its directory."""
    directory = tmp_path_factory.mktemp("with_lm") / "model"
    shutil.copytree(tiny_model_dir, directory)
    corpus = directory.parent / "corpus.txt"
    corpus.write_text("".join(text + "\n" for text in fixture_texts().values()))
    build_lm([corpus], directory / "lm.arpa", use_kenlm=False)
    config = json.loads((directory / "config.json").read_text())
    config["decoder"] = {"lm": "lm.arpa", "lm_weight": 0.5, "word_score": 0.0}
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def test_upload_result_has_every_output(app: DemoApp) -> None:
    status, shaded, text, image, files = app.transcribe_file(str(SPEECH / "flite_slt_bread.flac"))
    expected = fixture_texts()["flite_slt_bread.flac"]
    assert (status, text) == ("Done: 1.9 s of audio, 5 words", expected)
    assert shaded.count('class="asr-word"') == 5
    from PIL import Image

    with Image.open(image) as plot:  # a file of its own for each request (Gradio copies it whole)
        assert (plot.format, plot.size, plot.mode) == ("PNG", (1000, 480), "RGB")
    assert Path(image).parent != Path(files[0]).parent
    assert [Path(f).name for f in files] == [f"flite_slt_bread.{ext}" for ext in ("txt", "srt", "vtt", "json")]


def test_problems_become_messages(app: DemoApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert app.transcribe_file(None) == ("Problem: choose or drop an audio file first", "", "", None, None)
    short = DemoApp(app.recognizer, max_seconds=1.0, downloads=app.downloads)
    assert short.transcribe_file(str(SPEECH / "espeak_us_cat.flac"))[0].startswith("Problem: espeak_us_cat.flac: the recording is 1.9 s long")
    assert app.transcribe_file(str(SPEECH / "espeak_us_cat.flac"), "viterbi")[0] == "Problem: unknown decoder 'viterbi'; choose from greedy, beam"

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("asr.demo.app.analyse_file", broken)
    assert app.transcribe_file(str(SPEECH / "espeak_us_cat.flac"))[0] == "Problem: internal error (RuntimeError: disk on fire)"


def test_hotwords_with_greedy_are_noted(app: DemoApp) -> None:
    status = app.transcribe_file(str(SPEECH / "espeak_us_cat.flac"), GREEDY, "mat:3")[0]
    assert status == "Done: 1.9 s of audio, 6 words; hotwords apply to beam search only"
    status, _, text, _, _ = app.transcribe_file(str(SPEECH / "espeak_us_cat.flac"), BEAM, "mat:3")
    assert (status, text) == ("Done: 1.9 s of audio, 6 words", fixture_texts()["espeak_us_cat.flac"])


def test_microphone_handlers_stream_then_finish(app: DemoApp) -> None:
    chunks = microphone_chunks(SPEECH / "espeak_gb_ship.flac")
    state = app.start_recording()
    statuses = []
    for chunk in chunks:
        state, status, _, text = app.stream_chunk((48_000, chunk), state, GREEDY, "")
        statuses.append(status)
    assert statuses[0] == "Listening: 0.5 s (partial result; press stop for the final text)"
    assert text == fixture_texts()["espeak_gb_ship.flac"]
    state, status, _, final, _, files = app.stop_recording(state, GREEDY, "")
    assert status == "Done: 2.2 s of audio, 6 words" and final == text
    assert Path(files[0]).name == "recording.txt"
    late = app.stream_chunk((48_000, chunks[0]), state, GREEDY, "")  # a chunk that arrives after stop
    assert late[1:] == (gr.skip(), gr.skip(), gr.skip())  # the page keeps the final result
    assert state.seconds == pytest.approx(2.2, abs=0.1)


def test_microphone_limits_and_empty_recordings(app: DemoApp) -> None:
    short = DemoApp(app.recognizer, max_seconds=1.0, downloads=app.downloads)
    state = short.start_recording()
    tone = (3000 * np.sin(np.arange(24_000) / 3)).astype(np.int16)
    state, status, _, _ = short.stream_chunk((16_000, tone), state, GREEDY, "")
    assert status == "Problem: the recording reached the 1 s limit; press stop for the final text"
    assert short.stop_recording(state, GREEDY, "")[1].endswith("; cut at the 1 s limit")
    assert app.stop_recording(app.start_recording(), GREEDY, "")[1] == "Problem: nothing was recorded; allow the microphone and speak after pressing record"
    silent = app.start_recording()
    silent, *_ = app.stream_chunk((16_000, np.zeros(16_000, dtype=np.int16)), silent, GREEDY, "")
    assert app.stop_recording(silent, GREEDY, "")[1] == "Problem: the recording is silent (peak -inf dBFS); check the microphone or the file"


def test_every_handler_takes_missing_inputs_as_the_defaults(app: DemoApp) -> None:
    """An API client may send None (or nothing) for the decoder and the hotwords."""
    clip, expected = str(SPEECH / "espeak_gb_ship.flac"), fixture_texts()["espeak_gb_ship.flac"]
    for decoder, hotwords in ((None, None), ("", ""), (BEAM, None), (None, "ship:2")):
        status, _, text, _, _ = app.transcribe_file(clip, decoder, hotwords)
        assert status.startswith("Done: ") and text == expected, (decoder, hotwords)
    state, status, _, text = app.stream_chunk((48_000, microphone_chunks(SPEECH / "espeak_gb_ship.flac")[0]), None, None, None)
    assert status.startswith("Listening: ")
    assert app.stop_recording(state, None, None)[1].startswith("Done: ")
    assert app.stop_recording(None, None, None)[1].startswith("Problem: nothing was recorded")
    status = app.transcribe_file(clip, BEAM, "::")[0]  # hotwords the model cannot spell: a message, not an internal error
    assert status == "Problem: hotword ':' cannot be spelled with the model's alphabet"


def test_model_with_an_lm_offers_beam_with_lm(model_with_lm: Path) -> None:
    app = DemoApp(asr.load_model(model_with_lm))
    assert decoder_choices(app.recognizer) == [GREEDY, BEAM, BEAM_LM]
    for clip, expected in fixture_texts().items():
        status, _, text, _, _ = app.transcribe_file(str(SPEECH / clip), BEAM_LM)
        assert status.startswith("Done: ") and text == expected


def test_bundled_examples_are_found() -> None:
    assert [Path(p).name for p in example_files()] == ["library_notice.flac", "weather_report.flac"]
    assert example_files(ROOT / "no such folder") == []


def test_every_model_event_waits_in_one_queue(app: DemoApp) -> None:
    demo = build_demo(app)
    handlers = {"transcribe_file", "stream_chunk", "stop_recording"}
    model_events = [f for f in demo.fns.values() if getattr(f.fn, "__name__", "") in handlers]
    assert {f.fn.__name__ for f in model_events} == handlers  # upload, button, example click, stream, stop
    assert len(model_events) == 5
    assert all((f.concurrency_id, f.concurrency_limit, f.queue) == ("model", DEMO_CONCURRENCY, True) for f in model_events)
    assert [f.api_name for f in demo.fns.values() if f.api_visibility == "public"] == ["transcribe"]


def test_command_line_and_launcher() -> None:
    args = build_parser().parse_args(["demo", "--model", "m", "--port", "8080", "--share", "--max-seconds", "30"])
    assert (args.model, args.port, args.share, args.max_seconds, args.host) == ("m", 8080, True, 30.0, "127.0.0.1")
    assert build_parser().parse_args(["demo"]).max_seconds == DEMO_MAX_SECONDS
    launcher = subprocess.run([sys.executable, str(ROOT / "demo" / "app.py"), "--help"], capture_output=True, text=True, check=True)
    assert "--max-seconds" in launcher.stdout and "Gradio web demo" in launcher.stdout
