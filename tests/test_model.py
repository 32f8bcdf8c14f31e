from __future__ import annotations

import pytest
import torch

from asr.features import FeatureConfig
from asr.model import ConvSubsampling, CTCModel, ModelConfig, as_packed_lstm, output_frame_seconds, output_frames, upgrade_weight_name


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


def _packed_forward(model: CTCModel, packed_lstm: torch.nn.LSTM, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CTCModel.forward as it was before LSTMStack: one nn.LSTM over packed sequences."""
    x = model.subsampling((features - model.feature_mean) / model.feature_std)
    out_lengths = model.output_lengths(lengths).clamp(min=1, max=x.shape[1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, out_lengths, batch_first=True, enforce_sorted=False)
    x, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_lstm(packed)[0], batch_first=True, total_length=x.shape[1])
    return torch.log_softmax(model.output(x), dim=-1), out_lengths


def _loss_and_gradients(model: CTCModel, packed: torch.nn.LSTM | None, batch: tuple[torch.Tensor, ...]) -> tuple[float, dict[str, torch.Tensor]]:
    """CTC loss and gradients by weight name, through the model's own LSTMStack or, given
    `packed` (its weights as one nn.LSTM), through packed sequences as before LSTMStack."""
    features, lengths, targets, target_lengths = batch
    model.zero_grad()
    if packed is None:
        log_probs, out_lengths = model(features, lengths)
    else:
        packed.zero_grad()
        log_probs, out_lengths = _packed_forward(model, packed, features, lengths)
    loss = torch.nn.CTCLoss(zero_infinity=True)(log_probs.transpose(0, 1), targets, out_lengths, target_lengths)
    loss.backward()  # type: ignore[no-untyped-call]
    grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    if packed is not None:
        grads.update({upgrade_weight_name(f"lstm.{name}"): p.grad for name, p in packed.named_parameters() if p.grad is not None})
    return float(loss.detach()), grads


@pytest.mark.parametrize("bidirectional", [True, False])
def test_losses_and_gradients_equal_those_of_a_packed_lstm(bidirectional: bool) -> None:
    """On random unequal-length batches the unpacked stack gives the packed nn.LSTM's CTC loss
    (relative 1e-5) and gradients (within 1e-5 of each weight's largest gradient) for the same weights."""
    generator = torch.Generator().manual_seed(3)
    for trial in range(3):
        torch.manual_seed(trial)
        model = CTCModel(ModelConfig(lstm_layers=3, hidden_size=24, conv_channels=4, bidirectional=bidirectional, dropout=0.0))
        lengths = torch.randint(20, 121, (5,), generator=generator)
        batch = (torch.randn(5, int(lengths.max()), 80, generator=generator), lengths, torch.randint(1, 28, (5, 6), generator=generator), torch.full((5,), 6))
        loss, grads = _loss_and_gradients(model, None, batch)
        packed_loss, packed_grads = _loss_and_gradients(model, as_packed_lstm(model.lstm), batch)
        assert loss == pytest.approx(packed_loss, rel=1e-5)
        assert grads.keys() == packed_grads.keys() == {name for name, _ in model.named_parameters()}
        for name, grad in grads.items():
            assert torch.allclose(grad, packed_grads[name], rtol=0, atol=1e-5 * float(grad.abs().max())), name


def test_weights_saved_as_one_nn_lstm_load_under_the_new_names() -> None:
    torch.manual_seed(0)
    model = CTCModel(ModelConfig(lstm_layers=2, hidden_size=16, conv_channels=4)).eval()
    packed = as_packed_lstm(model.lstm)
    old_state = {name: t for name, t in model.state_dict().items() if not name.startswith("lstm.")}
    old_state.update({f"lstm.{name}": t for name, t in packed.state_dict().items()})
    assert "lstm.weight_ih_l1_reverse" in old_state
    fresh = CTCModel(model.config).eval()
    fresh.load_state_dict(old_state)
    features, lengths = torch.randn(2, 50, 80), torch.tensor([50, 31])
    assert torch.equal(fresh(features, lengths)[0], model(features, lengths)[0])
    assert upgrade_weight_name("lstm.bias_hh_l3_reverse") == "lstm.layers.3.behind.0.bias_hh_l0"
    assert upgrade_weight_name("output.weight") == "output.weight"


def test_a_seed_draws_the_initial_weights_nn_lstm_drew() -> None:
    """LSTMStack builds its layers in nn.LSTM's parameter order, so seeds keep their meaning."""
    config = ModelConfig(lstm_layers=3, hidden_size=16, conv_channels=4)
    torch.manual_seed(5)
    model = CTCModel(config)
    torch.manual_seed(5)
    ConvSubsampling(config)
    reference = torch.nn.LSTM(config.conv_output_size, 16, 3, batch_first=True, bidirectional=True, dropout=config.dropout)
    forget = slice(16, 32)  # the forget gate's biases are set, not drawn (open_forget_gate)
    for name, tensor in as_packed_lstm(model.lstm).state_dict().items():
        expected = reference.state_dict()[name].clone()
        if name.startswith("bias_"):
            expected[forget] = 1.0 if name.startswith("bias_ih") else 0.0
        assert torch.equal(tensor, expected), name


def test_new_networks_start_where_ctc_learns_quickly() -> None:
    """He-initialized convolutions keep the normalized features' scale (PyTorch's default init
    shrinks it about 7x over two layers), and every LSTM starts with its forget gates open."""
    torch.manual_seed(0)
    hidden = 32
    model = CTCModel(ModelConfig(subsampling=4, conv_channels=16, lstm_layers=2, hidden_size=hidden))
    features = model.subsampling(torch.randn(8, 400, 80))
    assert 0.4 < float(features.std()) < 1.0
    for lstm in (module for module in model.modules() if isinstance(module, torch.nn.LSTM)):
        gate_bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()  # gate order: input, forget, cell, output
        assert torch.equal(gate_bias[hidden : 2 * hidden], torch.ones(hidden))
        assert float(gate_bias[:hidden].abs().max()) < 0.4  # the input gate keeps PyTorch's draw


@pytest.mark.parametrize("subsampling", [1, 2, 4])
def test_output_frames_agree_with_the_network(subsampling: int) -> None:
    features = FeatureConfig()
    config = ModelConfig(subsampling=subsampling, lstm_layers=1, hidden_size=8, conv_channels=2)
    model = CTCModel(config).eval()
    for samples in (400, 1234, 16000, 16161):
        frames = features.num_frames(samples)
        log_probs, lengths = model(torch.randn(1, frames, 80), torch.tensor([frames]))
        assert output_frames(features, config, samples) == log_probs.shape[1] == int(lengths[0])
    assert output_frame_seconds(features, config) == pytest.approx(0.01 * subsampling)
