"""Recipe configs parse, and the LibriSpeech recipe's prepare and train stages run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from asr.train import train
from asr.train_config import load_train_config
from tests.conftest import ROOT, SHARED_DATA, requires_shared

CONFIGS = sorted((ROOT / "recipes").glob("*/config*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{c.parent.name}/{c.name}" for c in CONFIGS])
def test_recipe_configs_load(config: Path) -> None:
    loaded = load_train_config(config)
    assert loaded.model.vocab_size == len(loaded.data.alphabet) + 1
    assert loaded.model.n_mels == loaded.features.n_mels
    assert all(Path(m).is_relative_to(config.parent) for m in loaded.data.train_manifests)


@requires_shared
def test_librispeech_recipe_prepare_and_train_smoke(tmp_path: Path) -> None:
    subset = SHARED_DATA / "librispeech-mini" / "LibriSpeech" / "train-clean-100"
    manifest = tmp_path / "train-clean-100.jsonl"
    prepared = subprocess.run([sys.executable, "-m", "asr", "prepare", "librispeech", str(subset), "-o", str(manifest)], capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr
    assert prepared.stdout.startswith(f"{manifest}: 201 utterances")
    overrides = [
        f"data.train_manifests=[{manifest}]",
        f"data.valid_manifests=[{manifest}]",
        f"output_dir={tmp_path / 'exp'}",
        "device=cpu",
        "data.num_workers=0",
        "data.stats_utterances=20",
        "model.lstm_layers=1",
        "model.hidden_size=32",
        "max_steps=2",
    ]
    config = load_train_config(ROOT / "recipes" / "librispeech" / "config_100h.yaml", overrides)
    train(config)
    checkpoint = torch.load(tmp_path / "exp" / "checkpoint.pt", weights_only=True)
    assert checkpoint["state"]["step"] == 2
