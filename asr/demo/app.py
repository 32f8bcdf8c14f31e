"""The Gradio user interface of `asr demo`: microphone streaming, upload, examples, and the
result shown as shaded words, a posteriorgram and downloadable files."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy.typing as npt

from asr.constants import CONTEXT_SECONDS, DEMO_MAX_SECONDS, DEMO_PARTIAL_WINDOW_SECONDS
from asr.demo.analysis import (
    GREEDY,
    Analysis,
    DemoInputError,
    StreamState,
    add_chunk,
    analyse_file,
    decoder_choices,
    decoder_options,
    default_choice,
    finish_stream,
    partial_transcript,
)
from asr.demo.render import DownloadStore, posteriorgram_image, transcript_html
from asr.errors import AsrError
from asr.transcribe import Recognizer

log = logging.getLogger("asr.demo")

# The examples bundled with the source tree (demo/examples next to the package); an installed
# wheel has none, and the demo then simply shows no examples.
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "demo" / "examples"
MODEL_QUEUE = "model"  # every event that runs the model shares one concurrency limit
# Model calls run at once (more wait in a queue of at most DEMO_QUEUE_SIZE), and how often the
# microphone stream is re-decoded.
DEMO_CONCURRENCY = 2
DEMO_QUEUE_SIZE = 64
DEMO_STREAM_EVERY_SECONDS = 0.5

# What the person sees: the status line, the shaded transcript, the plain text, the plot, the files.
Outputs = tuple[str, str, str, Any, Any]


def help_text(max_seconds: float) -> str:
    return f"""
**Microphone.** Press record and speak: the text is refreshed every {DEMO_STREAM_EVERY_SECONDS:g} s.
Each refresh runs the model again over the last {DEMO_PARTIAL_WINDOW_SECONDS:g} s of audio (plus
{CONTEXT_SECONDS:g} s of context); text older than that is kept from earlier refreshes. When you
press stop, the whole recording is transcribed once more, and that final text is exactly what
`asr transcribe` gives for the same recording.

**The latency trade-off.** The model reads the audio in both directions (a bidirectional LSTM),
so a word is only certain once the model has heard what follows it: the last word or two of a
partial result may still change. A shorter refresh interval makes the text appear sooner but
costs more model runs (with many people on the demo, they wait in a queue); a longer re-decoded
window makes partial results steadier but each refresh slower. The final result needs one pass
over the whole recording, so it arrives a moment after you stop, and later for longer recordings.
Recordings and uploads are limited to {max_seconds:g} s.

**Reading the result.** Each word is shaded by its confidence (green: sure, red: unsure); hover
over a word for its start and end time. The plot shows the waveform and, on the same time axis,
the probability the model gives every symbol at every frame (the CTC posteriorgram): most
frames are *blank*, and each letter shows up as a short bright spike. Greedy decoding takes the
brightest symbol per frame; beam search keeps several hypotheses and can use a language model
and hotwords (`word:boost`, comma separated).
"""


def given_or_default(decoder: str | None, hotwords: str | None, default_decoder: str) -> tuple[str, str]:
    """The decoder and hotwords a request asks for; what an API client leaves out (None) or
    sends empty means the defaults: the model's default decoder, no hotwords."""
    return decoder or default_decoder, hotwords or ""


@dataclass
class DemoApp:
    """The model (loaded once) and the request handlers the UI calls."""

    recognizer: Recognizer
    max_seconds: float = DEMO_MAX_SECONDS
    downloads: DownloadStore | None = None
    default_decoder: str = field(init=False, default=GREEDY)  # the model's default decoder, as a UI choice

    def __post_init__(self) -> None:
        if self.downloads is None:
            self.downloads = DownloadStore()
        self.default_decoder = default_choice(self.recognizer)

    def _result(self, analysis: Analysis, stem: str, note: str = "") -> Outputs:
        transcript = analysis.transcript
        image = posteriorgram_image(
            analysis.samples, self.recognizer.sample_rate, analysis.log_probs, self.recognizer.output_frame_seconds, self.recognizer.tokenizer, transcript
        )
        assert self.downloads is not None
        files = [str(path) for path in self.downloads.write(transcript, stem)]
        plot = str(self.downloads.write_image(image))
        parts = [f"{transcript.duration:.1f} s of audio, {len(transcript.words)} words"]
        parts += [text for text in (analysis.notice, note) if text]
        return "Done: " + "; ".join(parts), transcript_html(transcript), transcript.text, plot, files

    @staticmethod
    def _problem(message: str) -> Outputs:
        return f"Problem: {message}", "", "", None, None

    def _guarded(self, work: Any, *args: Any) -> Outputs:
        """Run a handler; bad input becomes a message, and a bug is logged, never a crash."""
        try:
            result: Outputs = work(*args)
            return result
        except AsrError as exc:  # bad input (a DemoInputError), or hotwords or an LM that do not fit the model
            return self._problem(str(exc))
        except Exception as exc:  # a demo serving many people must survive its own bugs
            log.error("request failed:\n%s", traceback.format_exc())
            return self._problem(f"internal error ({type(exc).__name__}: {exc})")

    def _hotword_note(self, decoder: str, hotwords: str) -> str:
        return "hotwords apply to beam search only" if hotwords.strip() and decoder == GREEDY else ""

    def transcribe_file(self, path: str | None, decoder: str | None = None, hotwords: str | None = "") -> Outputs:
        """Handler for an upload or an example clip (and the /transcribe API endpoint)."""
        decoder, hotwords = given_or_default(decoder, hotwords, self.default_decoder)

        def work() -> Outputs:
            if not path:
                raise DemoInputError("choose or drop an audio file first")
            analysis = analyse_file(self.recognizer, path, decoder_options(self.recognizer, decoder, hotwords), self.max_seconds)
            return self._result(analysis, Path(path).stem, self._hotword_note(decoder, hotwords))

        return self._guarded(work)

    def stream_chunk(
        self, chunk: tuple[int, npt.NDArray[Any]] | None, state: StreamState | None, decoder: str | None, hotwords: str | None
    ) -> tuple[StreamState, str, str, str]:
        """Handler for each microphone chunk: a partial result (status, html, text)."""
        decoder, hotwords = given_or_default(decoder, hotwords, self.default_decoder)
        state = state if state is not None else StreamState()
        if chunk is None or state.finished:
            return state, gr.skip(), gr.skip(), gr.skip()
        try:
            sample_rate, samples = chunk
            added = add_chunk(self.recognizer, state, sample_rate, samples, self.max_seconds)
            transcript = partial_transcript(self.recognizer, state, decoder_options(self.recognizer, decoder, hotwords))
        except AsrError as exc:
            return state, f"Problem: {exc}", gr.skip(), gr.skip()
        status = f"Listening: {state.seconds:.1f} s (partial result; press stop for the final text)"
        if not added:
            status = f"Problem: the recording reached the {self.max_seconds:g} s limit; press stop for the final text"
        return state, status, transcript_html(transcript), transcript.text

    def stop_recording(self, state: StreamState | None, decoder: str | None, hotwords: str | None) -> tuple[StreamState, str, str, str, Any, Any]:
        """Handler for the stop button: the final result over the whole recording."""
        decoder, hotwords = given_or_default(decoder, hotwords, self.default_decoder)
        state = state if state is not None else StreamState()
        state.finished = True  # chunks that arrive after stop must not overwrite the final text

        def work() -> Outputs:
            note = f"cut at the {self.max_seconds:g} s limit" if state.truncated else ""
            analysis = finish_stream(self.recognizer, state, decoder_options(self.recognizer, decoder, hotwords))
            return self._result(analysis, "recording", "; ".join(n for n in (note, self._hotword_note(decoder, hotwords)) if n))

        return (state, *self._guarded(work))

    @staticmethod
    def start_recording() -> StreamState:
        return StreamState()


def example_files(directory: Path = EXAMPLES_DIR) -> list[str]:
    return sorted(str(path) for path in directory.glob("*.flac")) if directory.is_dir() else []


def build_demo(app: DemoApp, examples: Sequence[str] | None = None) -> gr.Blocks:
    """The Blocks UI around a DemoApp. Call .queue() (done by launch_demo) before launching."""
    examples = example_files() if examples is None else list(examples)
    choices = decoder_choices(app.recognizer)
    demo = gr.Blocks(title="asr demo", delete_cache=(600, 1800))
    with demo:
        gr.Markdown(
            "# asr: speech to text with a BiLSTM-CTC model\n"
            f"Model: `{app.recognizer.path or 'bundled'}`. Record from the microphone or upload a file "
            f"(at most {app.max_seconds:g} s); see *How it works* for what the result shows."
        )
        # The result components are made first (and placed later) so that the examples, which
        # sit under the upload box, can name them as their outputs.
        status = gr.Markdown("Upload a file, click an example, or record.", elem_id="status", render=False)
        shaded = gr.HTML(label="transcript", elem_id="transcript-html", render=False)
        text = gr.Textbox(label="text", interactive=False, elem_id="transcript-text", render=False)
        plot = gr.Image(type="filepath", format="png", interactive=False, show_label=False, elem_id="posteriorgram", render=False)
        files = gr.File(label="downloads (txt, srt, vtt, json)", file_count="multiple", interactive=False, elem_id="downloads", render=False)
        outputs = [status, shaded, text, plot, files]
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Tab("Upload"):
                    upload = gr.Audio(sources=["upload"], type="filepath", label="audio file", elem_id="upload-audio")
                    transcribe_button = gr.Button("Transcribe", variant="primary", elem_id="transcribe-button")
                    examples_block = gr.Examples([[path] for path in examples], inputs=[upload], label="example clips") if examples else None
                with gr.Tab("Microphone"):
                    microphone = gr.Audio(sources=["microphone"], type="numpy", streaming=True, label="microphone", elem_id="microphone-audio")
                decoder = gr.Radio(choices, value=app.default_decoder, label="decoder", elem_id="decoder")
                # value="": the API declares a default, so that a client may leave hotwords out.
                hotwords = gr.Textbox("", label="hotwords (beam search only)", placeholder="Thornton:5, Avonlea", elem_id="hotwords")
                with gr.Accordion("How it works", open=False):
                    gr.Markdown(help_text(app.max_seconds))
            with gr.Column(scale=2):
                for component in outputs:
                    component.render()  # type: ignore[no-untyped-call]
        common = {"concurrency_limit": DEMO_CONCURRENCY, "concurrency_id": MODEL_QUEUE}
        transcribe_button.click(app.transcribe_file, [upload, decoder, hotwords], outputs, api_name="transcribe", **common)  # type: ignore[arg-type]
        upload.upload(app.transcribe_file, [upload, decoder, hotwords], outputs, api_visibility="private", **common)  # type: ignore[arg-type]
        if examples_block is not None:  # a click on an example loads it, then transcribes it in the model's queue
            examples_block.load_input_event.then(app.transcribe_file, [upload, decoder, hotwords], outputs, api_visibility="private", **common)

        stream_state = gr.State(None)
        microphone.start_recording(app.start_recording, None, stream_state, api_visibility="private", queue=False)
        microphone.stream(
            app.stream_chunk,
            [microphone, stream_state, decoder, hotwords],
            [stream_state, status, shaded, text],
            stream_every=DEMO_STREAM_EVERY_SECONDS,
            time_limit=int(app.max_seconds) + 5,
            api_visibility="private",
            **common,  # type: ignore[arg-type]
        )
        microphone.stop_recording(app.stop_recording, [stream_state, decoder, hotwords], [stream_state, *outputs], api_visibility="private", **common)  # type: ignore[arg-type]
    return demo


def launch_demo(model: str | None = None, port: int | None = None, share: bool = False, max_seconds: float = DEMO_MAX_SECONDS, host: str = "127.0.0.1") -> None:
    """Load the model once, then serve the demo until interrupted."""
    from asr.transcribe import load_model

    app = DemoApp(load_model(model), max_seconds)
    demo = build_demo(app)
    demo.queue(max_size=DEMO_QUEUE_SIZE, default_concurrency_limit=DEMO_CONCURRENCY)
    try:
        demo.launch(server_name=host, server_port=port, share=share, allowed_paths=[str(EXAMPLES_DIR)] if EXAMPLES_DIR.is_dir() else None, show_error=True)
    finally:
        assert app.downloads is not None
        app.downloads.close()
