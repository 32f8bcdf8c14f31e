from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from asr.errors import ModelError
from asr.model import CTCModel, ModelConfig
from asr.model_dir import ModelDirConfig, load_model_dir, save_model_dir


def _saved(tmp_path: Path, half: bool = False) -> tuple[Path, CTCModel]:
    torch.manual_seed(0)
    model = CTCModel(ModelConfig(lstm_layers=1, hidden_size=16, conv_channels=4)).eval()
    model.set_normalization([0.5] * 80, [2.0] * 80)
    return save_model_dir(tmp_path / "m", model, ModelDirConfig(model=model.config, provenance={"note": "test"}), half=half), model


def test_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    path, model = _saved(tmp_path)
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_model_dir(path)
    feats = torch.randn(1, 50, 80)
    with torch.no_grad():
        assert torch.equal(model(feats, torch.tensor([50]))[0], loaded.model(feats, torch.tensor([50]))[0])
    assert loaded.config.provenance == {"note": "test"}
    assert loaded.model.feature_mean[0] == 0.5
    # The statistics live in config.json, readable without torch; the weights hold the rest.
    config = json.loads((path / "config.json").read_text())
    assert config["normalization"] == {"mean": [0.5] * 80, "std": [2.0] * 80}
    assert "feature_mean" not in load_file(str(path / "model.safetensors"))


def test_half_precision_weights_are_close(tmp_path: Path) -> None:
    path, model = _saved(tmp_path, half=True)
    loaded = load_model_dir(path)
    feats = torch.randn(1, 50, 80)
    with torch.no_grad():
        assert torch.allclose(model(feats, torch.tensor([50]))[0], loaded.model(feats, torch.tensor([50]))[0], atol=1e-2)


def test_missing_and_broken_directories(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_model_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_model_dir(tmp_path / "empty")
    path, _ = _saved(tmp_path)
    (path / "config.json").write_text("{ broken")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model_dir(path)


def test_pickle_in_place_of_weights_is_refused_without_running_it(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    marker = tmp_path / "executed"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (marker.write_text, ("pwned",))

    (path / "model.safetensors").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModelError, match="not a valid safetensors file"):
        load_model_dir(path)
    assert not marker.exists()


def test_absurd_sizes_are_refused_before_allocating(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["model"]["hidden_size"] = 10**9
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="parameters"):
        load_model_dir(path)


def test_mismatched_weights_and_unknown_keys(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["model"]["hidden_size"] = 24
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="shape"):
        load_model_dir(path)
    config["model"]["hidden_size"] = 16
    config["model"]["colour"] = "blue"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="colour"):
        load_model_dir(path)
    config["model"].pop("colour")
    config["alphabet"] = " ab"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="vocab_size"):
        load_model_dir(path)
    config["alphabet"] = " abcdefghijklmnopqrstuvwxyz'"
    config["normalization"]["std"] = [1.0] * 40
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="40 values for 80 mel bands"):
        load_model_dir(path)
