"""How the demo shows a result: the transcript as HTML (words shaded by confidence, times on
hover), the CTC posteriorgram under the waveform as an image, and the downloadable files."""

from __future__ import annotations

import html
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from asr.audio import FloatArray
from asr.results import Transcript
from asr.tokenizer import CharTokenizer
from asr.writers import get_writers

DOWNLOAD_FORMATS = ("txt", "srt", "vtt", "json")
KEPT_DOWNLOAD_DIRS = 32  # older result folders are deleted: disk use stays flat under load
PLOT_WIDTH_PX, PLOT_HEIGHT_PX, PLOT_DPI = 1000, 480, 100


def confidence_color(confidence: float) -> str:
    """Red (0) through amber to green (1), pale enough to read black text on."""
    hue = round(120 * min(max(confidence, 0.0), 1.0))
    return f"hsl({hue}, 75%, 82%)"


def transcript_html(transcript: Transcript) -> str:
    """Each word a span shaded by its confidence, with its time and confidence on hover."""
    if not transcript.words:
        return '<div class="asr-transcript asr-empty">(no words)</div>'
    spans = []
    for word in transcript.words:
        title = f"{word.start:.2f}–{word.end:.2f} s · confidence {word.confidence:.0%}"
        spans.append(
            f'<span class="asr-word" title="{title}" data-start="{word.start:.3f}" data-end="{word.end:.3f}" '
            f'data-confidence="{word.confidence:.4f}" style="background-color: {confidence_color(word.confidence)}; '
            f'padding: 1px 3px; margin: 1px; border-radius: 4px; display: inline-block; color: #111">{html.escape(word.text)}</span>'
        )
    legend = (
        '<div class="asr-legend" style="font-size: 0.8em; margin-top: 6px">confidence: '
        + " ".join(f'<span style="background-color: {confidence_color(c)}; padding: 0 4px; color: #111">{c:.0%}</span>' for c in (0.0, 0.25, 0.5, 0.75, 1.0))
        + " · hover over a word for its time</div>"
    )
    return f'<div class="asr-transcript" style="line-height: 2">{" ".join(spans)}</div>{legend}'


def symbol_labels(tokenizer: CharTokenizer) -> list[str]:
    """Row names of the posteriorgram: blank and space made visible."""
    labels = []
    for index in range(tokenizer.vocab_size):
        if index == tokenizer.blank_id:
            labels.append("blank")
        elif index == tokenizer.space_id:
            labels.append("space")
        else:
            labels.append(tokenizer.decode([index]))
    return labels


def _envelope(samples: FloatArray, columns: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Min and max per column: the waveform's outline at screen resolution, cheap to draw."""
    columns = max(1, min(columns, samples.size))
    usable = samples[: samples.size // columns * columns].reshape(columns, -1)
    return usable.min(axis=1), usable.max(axis=1)


def posteriorgram_image(
    samples: FloatArray, sample_rate: int, log_probs: torch.Tensor, output_frame_seconds: float, tokenizer: CharTokenizer, transcript: Transcript
) -> npt.NDArray[np.uint8]:
    """An RGB image: the waveform with the recognized words above, and below it on the same
    time axis the per-frame probability of every symbol (blank included)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    duration = max(samples.size / sample_rate, log_probs.shape[0] * output_frame_seconds, 1e-3)
    figure = Figure(figsize=(PLOT_WIDTH_PX / PLOT_DPI, PLOT_HEIGHT_PX / PLOT_DPI), dpi=PLOT_DPI)
    canvas = FigureCanvasAgg(figure)
    wave_axes, gram_axes = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 2.6]})
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    low, high = _envelope(samples / peak if peak > 0 else samples, PLOT_WIDTH_PX)  # scaled to fill the axes
    times = np.linspace(0, samples.size / sample_rate, low.size)
    wave_axes.fill_between(times, low, high, color="#4a6fa5", linewidth=0.5)
    wave_axes.set_ylim(-1.05, 1.05)
    wave_axes.set_yticks([])
    wave_axes.set_title("waveform (scaled to its peak) and recognized words", fontsize=9, loc="left")
    for word in transcript.words:
        wave_axes.axvspan(word.start, word.end, color="#f2c14e", alpha=0.25, linewidth=0)
        wave_axes.text((word.start + word.end) / 2, 0.92, word.text, ha="center", va="top", fontsize=7, clip_on=True)
    probs = log_probs.detach().float().exp().numpy().T  # (vocab, frames)
    labels = symbol_labels(tokenizer)
    gram_axes.imshow(
        probs,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap="magma",
        vmin=0.0,
        vmax=1.0,
        extent=(0.0, probs.shape[1] * output_frame_seconds, -0.5, len(labels) - 0.5),
    )
    gram_axes.set_yticks(range(len(labels)), labels, fontsize=6)
    gram_axes.set_ylabel("symbol", fontsize=8)
    gram_axes.set_xlabel("time (s)", fontsize=8)
    gram_axes.set_title("CTC posteriorgram: probability of each symbol per frame (bright = likely)", fontsize=9, loc="left")
    gram_axes.set_xlim(0, duration)
    gram_axes.tick_params(axis="x", labelsize=7)
    figure.tight_layout()
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    image = rgba[:, :, :3].copy()
    figure.clear()  # drop references early: many requests must not pile up figures
    return image


class DownloadStore:
    """Result files in a private temporary folder, one subfolder per request; only the newest
    KEPT_DOWNLOAD_DIRS subfolders are kept (the web server keeps its own copies meanwhile)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="asr-demo-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._dirs: list[Path] = []

    def _new_folder(self) -> Path:
        directory = Path(tempfile.mkdtemp(dir=self.root))
        with self._lock:
            self._dirs.append(directory)
            stale, self._dirs = self._dirs[:-KEPT_DOWNLOAD_DIRS], self._dirs[-KEPT_DOWNLOAD_DIRS:]
        for old in stale:
            shutil.rmtree(old, ignore_errors=True)
        return directory

    def write(self, transcript: Transcript, stem: str) -> list[Path]:
        """txt, srt, vtt and json files for a transcript, named STEM.EXT."""
        directory = self._new_folder()
        audio_name = f"{stem or 'recording'}.audio"  # writers name outputs after the audio's stem
        return [writer.write(transcript, audio_name, directory) for fmt in DOWNLOAD_FORMATS for writer in get_writers(fmt)]

    def write_image(self, image: npt.NDArray[np.uint8]) -> Path:
        """An RGB image as a PNG file of its own. Gradio copies a file it is given into its cache
        whole, under a new name (an array it would write itself, in place, under a name taken
        from its content: two requests with the same plot then raced, and a client could be sent
        a half-rewritten file)."""
        from PIL import Image

        path = self._new_folder() / "posteriorgram.png"
        Image.fromarray(image).save(path)
        return path

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
