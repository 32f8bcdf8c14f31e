"""asr export: TorchScript and ONNX files give the recognizer's log-probs on real speech, and run
with torch or onnxruntime alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

import asr
from asr.audio import load_audio
from asr.cli import main
from asr.export import export_model
from asr.transcribe import DEFAULT_MODEL_DIR, TranscribeOptions
from tests.test_inference import REAL_SPEECH

TOLERANCE = 1e-3  # max abs difference of log-probs (measured: about 3e-5)


def speech_batch() -> tuple[np.ndarray, np.ndarray]:
    """The committed real and synthetic speech clips as one zero-padded batch of unequal lengths."""
    clips = [load_audio(path, 16000) for path in REAL_SPEECH]
    lengths = np.array([clip.size for clip in clips], dtype=np.int64)
    waveforms = np.zeros((len(clips), lengths.max()), dtype=np.float32)
    for row, clip in enumerate(clips):
        waveforms[row, : clip.size] = clip
    return waveforms, lengths


def recognizer_log_probs(waveforms: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the recognizer's own model path gives for the same batch."""
    recognizer = asr.load_model()
    with torch.inference_mode():
        feats = recognizer.frontend(torch.from_numpy(waveforms))
        log_probs, out_lengths = recognizer.model(feats, recognizer.frontend.lengths(torch.from_numpy(lengths)))
    return log_probs.numpy(), out_lengths.numpy()


def run_exported(path: Path, export_format: str, waveforms: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    if export_format == "onnx":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        log_probs, out_lengths = session.run(None, {"waveforms": waveforms, "lengths": lengths})
        return log_probs, out_lengths, json.loads(session.get_modelmeta().custom_metadata_map["asr"])
    extra = {"asr.json": ""}
    module = torch.jit.load(str(path), _extra_files=extra)
    with torch.inference_mode():
        log_probs, out_lengths = module(torch.from_numpy(waveforms), torch.from_numpy(lengths))
    return log_probs.numpy(), out_lengths.numpy(), json.loads(extra["asr.json"])


@pytest.mark.parametrize("export_format", ["torchscript", "onnx"])
def test_exported_model_gives_the_recognizers_log_probs(export_format: str, tmp_path: Path) -> None:
    path = export_model(DEFAULT_MODEL_DIR, tmp_path / f"model.{export_format}", export_format)  # type: ignore[arg-type]
    waveforms, lengths = speech_batch()
    expected, expected_lengths = recognizer_log_probs(waveforms, lengths)
    got, got_lengths, metadata = run_exported(path, export_format, waveforms, lengths)
    assert got_lengths.tolist() == expected_lengths.tolist()
    assert got.shape == expected.shape
    worst = max(float(np.abs(got[row, :valid] - expected[row, :valid]).max()) for row, valid in enumerate(expected_lengths))
    assert worst < TOLERANCE
    assert metadata == {"alphabet": " abcdefghijklmnopqrstuvwxyz'", "blank_id": 0, "sample_rate": 16000, "min_samples": 512, "frame_seconds": 0.04}


# Greedy CTC decoding with nothing but the exported file and numpy (and torch or onnxruntime).
STANDALONE = """
import json, sys
sys.modules["asr"] = None  # the package must not be needed
import numpy as np
path, fmt, clip = sys.argv[1:]
wave = np.load(clip)[None]
lengths = np.array([wave.shape[1]], dtype=np.int64)
if fmt == "onnx":
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    log_probs, _ = session.run(None, {"waveforms": wave, "lengths": lengths})
    meta = json.loads(session.get_modelmeta().custom_metadata_map["asr"])
else:
    import torch
    extra = {"asr.json": ""}
    module = torch.jit.load(path, _extra_files=extra)
    log_probs = module(torch.from_numpy(wave), torch.from_numpy(lengths))[0].detach().numpy()
    meta = json.loads(extra["asr.json"])
ids = log_probs[0].argmax(-1)
keep = [i for k, i in enumerate(ids) if i != meta["blank_id"] and (k == 0 or i != ids[k - 1])]
print(" ".join("".join(meta["alphabet"][i - 1] for i in keep).split()))
"""


@pytest.mark.parametrize("export_format", ["torchscript", "onnx"])
def test_exported_file_transcribes_without_the_package(export_format: str, tmp_path: Path) -> None:
    path = tmp_path / f"model.{export_format}"
    assert main(["export", "--format", export_format, "-o", str(path)]) == 0
    clip = REAL_SPEECH[0]
    np.save(tmp_path / "clip.npy", load_audio(clip, 16000))
    result = subprocess.run(
        [sys.executable, "-c", STANDALONE, str(path), export_format, str(tmp_path / "clip.npy")], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == asr.load_model().transcribe(clip, options=TranscribeOptions()).text  # greedy, as the standalone script


def test_export_of_a_missing_model_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--format", "onnx", "--model", str(tmp_path / "nope"), "-o", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope'}: model directory not found"
    assert not (tmp_path / "m.onnx").exists()
