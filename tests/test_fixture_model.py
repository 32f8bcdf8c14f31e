"""The tiny committed test model: small, read word for word whatever the thread count, and
made again by its recipe (tests/fixtures/make_tiny_model.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

import asr
from tests.conftest import SPEECH, fixture_texts
from tests.fixtures.make_tiny_model import TINY_MODEL, TINY_MODEL_EPOCHS


@pytest.mark.parametrize("threads", [1, 2])
def test_committed_model_reads_every_clip_on_any_thread_count(threads: int) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        recognizer = asr.load_model(TINY_MODEL)
        assert {name: recognizer.transcribe(SPEECH / name).text for name in fixture_texts()} == fixture_texts()
    finally:
        torch.set_num_threads(before)


def test_committed_model_is_small() -> None:
    assert sum(path.stat().st_size for path in TINY_MODEL.iterdir()) < 400_000
    assert asr.load_model(TINY_MODEL).config.provenance["made_by"] == "tests/fixtures/make_tiny_model.py"


def test_recipe_trains_a_model_that_reads_every_clip(trained_tiny_model_dir: Path) -> None:
    recognizer = asr.load_model(trained_tiny_model_dir)
    assert {name: recognizer.transcribe(SPEECH / name).text for name in fixture_texts()} == fixture_texts()
    log = list(csv.DictReader((trained_tiny_model_dir.parent / "train_log.csv").open()))
    assert len(log) == TINY_MODEL_EPOCHS
