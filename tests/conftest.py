"""Shared fixtures: the committed TTS clips, the tiny model overfit on them (committed, made by
tests/fixtures/make_tiny_model.py), and the location of ../shared/data (tests that need it skip
when it is absent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.fixtures.make_tiny_model import TINY_MODEL, train_tiny_model

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "fixtures" / "speech"
SPEECH_MANIFEST = SPEECH / "manifest.jsonl"
SHARED_DATA = ROOT.parent / "shared" / "data"

requires_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is not present (it exists in CI and dev sessions)")


def fixture_texts() -> dict[str, str]:
    """Clip file name -> its transcript, from the fixture manifest."""
    rows = [json.loads(line) for line in SPEECH_MANIFEST.read_text().splitlines()]
    return {row["audio_filepath"]: row["text"] for row in rows}


# A model shape and schedule for short training runs in tests (resume, early stopping).
TINY_OVERRIDES = [
    "epochs=300",
    "data.batch_size=4",
    "data.num_workers=0",
    "model.lstm_layers=2",
    "model.hidden_size=128",
    "model.subsampling=2",
    "model.conv_channels=16",
    "model.dropout=0.0",
    "optim.lr=0.003",
    "optim.warmup_steps=10",
    "optim.schedule=constant",
    "optim.weight_decay=0.0",
    "checkpoint_every_steps=100000",
    "log_every_steps=100000",
]


# Smaller still, for tests that run training several times (resume, faults, DDP): seconds a run.
FAST_OVERRIDES = [
    "data.batch_size=1",
    "data.num_workers=0",
    "model.lstm_layers=1",
    "model.hidden_size=32",
    "model.subsampling=2",
    "model.conv_channels=8",
    "optim.warmup_steps=2",
    "log_every_steps=100000",
    "keep_epoch_models=0",
]


def write_config(directory: Path, manifest: Path, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    config.write_text(f"output_dir: {directory / 'exp'}\ndata:\n  train_manifests: [{manifest}]\n{extra}")
    return config


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model overfit on the four fixture clips; greedy decoding reproduces their text. A copy
    of the committed one (tests/fixtures/tiny_model), so that no test can change that."""
    return Path(shutil.copytree(TINY_MODEL, tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture(scope="session")
def trained_tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The best/ directory of a fresh run of the tiny model's recipe (one thread, so the same
    weights whatever OMP_NUM_THREADS says), with its train_log.csv and epochs/ beside it."""
    return train_tiny_model(tmp_path_factory.mktemp("trained"))
