"""A checkpoint of another model shape is one line that says what to do, not a page of torch's
size-mismatch lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asr.errors import ConfigError
from asr.model import CTCModel, ModelConfig
from asr.resume import load_resumed_weights

SAVED = ModelConfig(lstm_layers=2, hidden_size=16, conv_channels=4)


@pytest.mark.parametrize(
    ("config", "summary"),
    [
        (ModelConfig(lstm_layers=2, hidden_size=8, conv_channels=4), "tensor(s) of other sizes, e.g. "),
        (ModelConfig(lstm_layers=3, hidden_size=16, conv_channels=4), " missing)"),
        (ModelConfig(lstm_layers=1, hidden_size=16, conv_channels=4), " unexpected)"),
    ],
)
def test_another_shape_is_one_line(config: ModelConfig, summary: str) -> None:
    weights = CTCModel(SAVED).state_dict()
    with pytest.raises(ConfigError) as info:
        load_resumed_weights(CTCModel(config), weights, Path("exp/checkpoint.pt"))
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert message.startswith("exp/checkpoint.pt holds a model of another shape than the config asks for (") and summary in message
    assert message.endswith("train into a new output_dir, or add resume=false to start afresh in this one")


def test_the_same_shape_loads() -> None:
    saved = CTCModel(SAVED)
    model = CTCModel(SAVED)
    load_resumed_weights(model, saved.state_dict(), Path("exp/checkpoint.pt"))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), saved.state_dict().values(), strict=True))
