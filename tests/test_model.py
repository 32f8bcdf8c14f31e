from __future__ import annotations

import pytest
import torch

from asr.model import CTCModel, ModelConfig


@pytest.mark.parametrize("subsampling", [1, 2, 4])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_shapes_lengths_and_parameter_count(subsampling: int, bidirectional: bool) -> None:
    config = ModelConfig(subsampling=subsampling, lstm_layers=2, hidden_size=32, bidirectional=bidirectional, conv_channels=4)
    model = CTCModel(config).eval()
    assert sum(p.numel() for p in model.parameters()) == config.num_parameters()
    log_probs, lengths = model(torch.randn(2, 101, 80), torch.tensor([101, 40]))
    expected_frames = {1: 101, 2: 51, 4: 26}[subsampling]
    assert log_probs.shape == (2, expected_frames, config.vocab_size)
    assert lengths[0] == expected_frames
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, expected_frames), atol=1e-5)


def test_padding_does_not_change_outputs() -> None:
    torch.manual_seed(0)
    model = CTCModel(ModelConfig(lstm_layers=2, hidden_size=32, conv_channels=4)).eval()
    short = torch.randn(1, 60, 80)
    padded = torch.cat([short, torch.randn(1, 40, 80)], dim=1)
    alone, n = model(short, torch.tensor([60]))
    batched, m = model(padded, torch.tensor([60]))
    assert int(n[0]) == int(m[0])
    assert torch.allclose(alone[0, : int(n[0])], batched[0, : int(n[0])], atol=1e-5)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("subsampling", 3, "subsampling"), ("hidden_size", 0, "positive"), ("dropout", 1.0, "dropout"), ("hidden_size", 1_000_000_000, "parameters")],
)
def test_invalid_configs_are_refused_before_allocation(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(**{field: value})  # type: ignore[arg-type]
