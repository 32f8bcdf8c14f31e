"""How the demo shows results: shaded transcript HTML, the posteriorgram image, download files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from asr.demo.render import KEPT_DOWNLOAD_DIRS, DownloadStore, confidence_color, posteriorgram_image, symbol_labels, transcript_html
from asr.results import Word, make_transcript
from asr.tokenizer import CharTokenizer
from asr.writers import get_writers

TRANSCRIPT = make_transcript([Word("<b>rock", 0.12, 0.5, 0.25), Word("n'roll", 0.6, 1.04, 0.9)], duration=1.2)


def test_words_are_shaded_by_confidence_with_times_on_hover() -> None:
    page = transcript_html(TRANSCRIPT)
    spans = re.findall(r'<span class="asr-word" title="([^"]*)"[^>]*style="background-color: (hsl\([^)]*\))[^>]*>([^<]*)</span>', page)
    assert spans == [
        ("0.12–0.50 s · confidence 25%", "hsl(30, 75%, 82%)", "&lt;b&gt;rock"),  # text is escaped, never markup
        ("0.60–1.04 s · confidence 90%", "hsl(108, 75%, 82%)", "n&#x27;roll"),
    ]
    assert 'data-start="0.120" data-end="0.500" data-confidence="0.2500"' in page
    assert transcript_html(make_transcript([], 1.0)) == '<div class="asr-transcript asr-empty">(no words)</div>'


def test_confidence_colors_run_from_red_to_green_and_clamp() -> None:
    assert [confidence_color(c) for c in (-1.0, 0.0, 0.5, 1.0, 2.0)] == [
        "hsl(0, 75%, 82%)",
        "hsl(0, 75%, 82%)",
        "hsl(60, 75%, 82%)",
        "hsl(120, 75%, 82%)",
        "hsl(120, 75%, 82%)",
    ]


def test_posteriorgram_rows_name_every_symbol_with_blank_visible() -> None:
    tokenizer = CharTokenizer()
    labels = symbol_labels(tokenizer)
    assert labels[:3] == ["blank", "space", "a"] and labels[-1] == "'" and len(labels) == tokenizer.vocab_size


def test_posteriorgram_image_shows_the_probabilities() -> None:
    tokenizer = CharTokenizer()
    frames = 30
    log_probs = torch.full((frames, tokenizer.vocab_size), -20.0)
    log_probs[:, tokenizer.blank_id] = 0.0
    log_probs[10:20, tokenizer.blank_id] = -20.0
    log_probs[10:20, tokenizer.encode("a")[0]] = 0.0
    samples = (0.5 * np.sin(np.arange(frames * 640) / 5)).astype(np.float32)
    image = posteriorgram_image(samples, 16_000, log_probs, 0.04, tokenizer, TRANSCRIPT)
    assert image.shape == (480, 1000, 3) and image.dtype == np.uint8
    # The plot is not blank: the waveform's blue and the colormap's bright yellow (p = 1) both appear.
    assert (np.abs(image.astype(int) - [74, 111, 165]).sum(axis=2) < 30).sum() > 1000
    assert ((image[:, :, 0] > 240) & (image[:, :, 1] > 220) & (image[:, :, 2] > 140)).sum() > 200


def test_downloads_hold_what_the_writers_render(tmp_path: Path) -> None:
    store = DownloadStore(tmp_path / "store")
    files = store.write(TRANSCRIPT, "talk")
    assert [f.name for f in files] == ["talk.txt", "talk.srt", "talk.vtt", "talk.json"]
    for path in files:
        assert path.read_text(encoding="utf-8") == get_writers(path.suffix[1:])[0].render(TRANSCRIPT)
    assert json.loads(files[-1].read_text())["text"] == "<b>rock n'roll"
    assert store.write(TRANSCRIPT, "")[0].name == "recording.txt"


def test_download_store_keeps_only_recent_results(tmp_path: Path) -> None:
    store = DownloadStore(tmp_path / "store")
    first = store.write(TRANSCRIPT, "a")[0]
    for _ in range(KEPT_DOWNLOAD_DIRS + 5):
        last = store.write(TRANSCRIPT, "b")[0]
    assert not first.exists() and last.exists()
    assert len(list((tmp_path / "store").iterdir())) == KEPT_DOWNLOAD_DIRS
    store.close()
    assert not (tmp_path / "store").exists()
