from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asr.averaging import average_models
from asr.errors import ModelError
from asr.model import CTCModel, ModelConfig
from asr.model_dir import ModelDirConfig, load_model_dir, save_model_dir


def _model_dir(path: Path, seed: int, hidden: int = 16, steps: int = 0) -> Path:
    torch.manual_seed(seed)
    model = CTCModel(ModelConfig(lstm_layers=1, hidden_size=hidden, conv_channels=4))
    provenance = {"seed": seed, "steps": steps, "valid_cer": 0.5}
    return save_model_dir(path, model, ModelDirConfig(model=model.config, provenance=provenance))


def test_average_is_the_elementwise_mean(tmp_path: Path) -> None:
    a, b = _model_dir(tmp_path / "a", 0, steps=200), _model_dir(tmp_path / "b", 1, steps=100)
    averaged = load_model_dir(average_models([a, b], tmp_path / "avg")).model.state_dict()
    sa, sb = load_model_dir(a).model.state_dict(), load_model_dir(b).model.state_dict()
    for name, tensor in averaged.items():
        assert torch.allclose(tensor, (sa[name] + sb[name]) / 2, atol=1e-6), name
    provenance = load_model_dir(tmp_path / "avg").config.provenance
    assert provenance["averaged_from"] == [str(a), str(b)]
    # The latest model's training record, without validation scores that were not the average's.
    assert provenance["steps"] == 200 and provenance["seed"] == 0 and "valid_cer" not in provenance


def test_models_of_different_shapes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="different shape"):
        average_models([_model_dir(tmp_path / "a", 0), _model_dir(tmp_path / "b", 0, hidden=8)], tmp_path / "avg")
    with pytest.raises(ValueError, match="no models"):
        average_models([], tmp_path / "avg")
