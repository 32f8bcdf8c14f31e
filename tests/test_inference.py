"""The model prepared for inference (asr.inference): the training network's outputs in fp32,
its int8 and bfloat16 variants close to them on real speech, the caller's model untouched."""

from __future__ import annotations

from pathlib import Path

import jiwer
import pytest
import torch

import asr
from asr.inference import InferenceModel, Quantization
from asr.model import CTCModel, ModelConfig, reorder_steps, reversal_index
from tests.conftest import ROOT, SPEECH, fixture_texts

REAL_SPEECH = sorted((ROOT / "demo" / "examples").glob("*.flac")) + sorted(SPEECH.glob("*.flac"))


def test_reversal_index_reverses_each_row_within_its_length() -> None:
    index = reversal_index(torch.tensor([4, 2, 5]), 5)
    assert index.tolist() == [[3, 2, 1, 0, 4], [1, 0, 2, 3, 4], [4, 3, 2, 1, 0]]
    x = torch.arange(30.0).reshape(3, 5, 2)
    assert torch.equal(reorder_steps(reorder_steps(x, index), index), x)
    assert reorder_steps(x, index)[1, :, 0].tolist() == [12.0, 10.0, 14.0, 16.0, 18.0]


@pytest.mark.parametrize("quantize", [None, "int8", "bf16"])
def test_inference_model_follows_the_network_and_leaves_it_as_it_was(quantize: Quantization | None) -> None:
    torch.manual_seed(0)
    model = CTCModel(ModelConfig(lstm_layers=3, hidden_size=24, conv_channels=4)).train()
    model.set_normalization(torch.randn(80).tolist(), (torch.rand(80) + 0.5).tolist())
    before = {name: t.clone() for name, t in model.state_dict().items()}
    features, lengths = torch.randn(3, 97, 80), torch.tensor([97, 50, 13])
    inference = InferenceModel(model, quantize)
    with torch.inference_mode():
        got, got_lengths = inference(features, lengths)
        expected, expected_lengths = model.eval()(features, lengths)
    assert got_lengths.tolist() == expected_lengths.tolist() == [25, 13, 4]
    assert got.dtype == torch.float32
    tolerance = {None: 1e-6, "int8": 0.5, "bf16": 0.5}[quantize]  # log-probabilities of an untrained network
    for row, valid in enumerate(expected_lengths.tolist()):
        assert torch.allclose(got[row, :valid], expected[row, :valid], atol=tolerance)
    assert all(torch.equal(t, before[name]) for name, t in model.state_dict().items())
    assert not model.bf16


def test_quantization_options_are_checked() -> None:
    model = CTCModel(ModelConfig(lstm_layers=1, hidden_size=8, conv_channels=2))
    with pytest.raises(ValueError, match="unknown quantization"):
        InferenceModel(model, quantize="int4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CPU only"):
        asr.load_model(device="cuda", quantize="int8")


@pytest.mark.parametrize("quantize", ["int8", "bf16"])
def test_quantized_model_transcribes_what_the_fp32_model_does(tiny_model_dir: Path, quantize: Quantization) -> None:
    """The tiny model still reads its training clips word for word with int8 weights or in
    bfloat16; the bundled model's transcripts of real speech stay within 5% CER of fp32 ones."""
    tiny = asr.load_model(tiny_model_dir, quantize=quantize)
    assert tiny.quantization == quantize
    if quantize == "int8":
        assert any(isinstance(m, torch.ao.nn.quantized.dynamic.LSTM) for m in tiny.model.modules())
    else:
        assert {p.dtype for name, p in tiny.model.named_parameters()} == {torch.bfloat16}
    for name, text in fixture_texts().items():
        assert tiny.transcribe(SPEECH / name).text == text
    fp32, quantized = asr.load_model(), asr.load_model(quantize=quantize)
    reference = [fp32.transcribe(path).text for path in REAL_SPEECH]
    hypotheses = [quantized.transcribe(path).text for path in REAL_SPEECH]
    assert len(REAL_SPEECH) == 6 and all(reference)
    assert jiwer.cer(reference, hypotheses) < 0.05
