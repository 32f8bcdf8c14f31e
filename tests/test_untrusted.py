"""Model directories and checkpoints from strangers: nothing in them runs code, and nothing in
them makes the loader allocate absurd amounts of memory. (tests/test_model_dir.py covers the
basic refusals: a raw pickle as weights, a 10^9-unit layer, mismatched shapes.)"""

from __future__ import annotations

import json
import pickle
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from asr.errors import ModelError
from asr.model import CTCModel, ModelConfig
from asr.model_dir import MAX_CONFIG_BYTES, ModelDirConfig, load_model_dir, save_model_dir

PACKAGE = Path(__file__).resolve().parents[1] / "asr"


def _save(path: Path) -> Path:
    torch.manual_seed(0)
    model = CTCModel(ModelConfig(lstm_layers=1, hidden_size=16, conv_channels=4)).eval()
    return save_model_dir(path, model, ModelDirConfig(model=model.config))


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return _save(tmp_path / "model")


class WritesMarker:
    """Unpickling this creates the marker file: proof that a loader ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "pwned"))  # type: ignore[return-value]


def test_package_source_never_unpickles() -> None:
    """torch.load only with weights_only=True, no pickle.load(s), np.load only without pickles."""
    offences = []
    for source in sorted(PACKAGE.rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        for match in re.finditer(r"\btorch\.load\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text):
            if "weights_only=True" not in match.group(1):
                offences.append(f"{source.name}: {match.group(0)}")
        for match in re.finditer(r"\b(?:pickle|cPickle|dill|joblib)\.loads?\(|\bnp\.load\((?![^)]*allow_pickle=False)[^)]*\)", text):
            offences.append(f"{source.name}: {match.group(0)}")
    assert offences == []


def test_torch_save_file_as_weights_is_refused_without_running_it(model_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    torch.save({"model": WritesMarker(marker)}, model_dir / "model.safetensors")  # a zip holding a pickle
    with pytest.raises(ModelError, match="not a valid safetensors file"):
        load_model_dir(model_dir)
    assert not marker.exists()


def test_pickle_as_config_is_refused_without_running_it(model_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    (model_dir / "config.json").write_bytes(pickle.dumps(WritesMarker(marker)))
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model_dir(model_dir)
    assert not marker.exists()


def test_malicious_training_checkpoint_is_refused_without_running_it(tmp_path: Path) -> None:
    checkpoint = pytest.importorskip("asr.checkpoint")
    marker = tmp_path / "executed"
    for name, writer in (
        ("raw.pt", lambda p: p.write_bytes(pickle.dumps({"model": WritesMarker(marker)}))),
        ("zip.pt", lambda p: torch.save(WritesMarker(marker), p)),
    ):
        path = tmp_path / name
        writer(path)
        with pytest.raises(checkpoint.CheckpointError, match="unreadable checkpoint"):
            checkpoint.load_checkpoint(path)
    assert not marker.exists()


def _safetensors_header_only(path: Path, header: dict[str, Any], data_bytes: int = 0) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(data_bytes))


def test_weights_announcing_data_beyond_the_file_are_refused(model_dir: Path) -> None:
    _safetensors_header_only(model_dir / "model.safetensors", {"output.weight": {"dtype": "F32", "shape": [10**9, 1000], "data_offsets": [0, 4 * 10**12]}})
    with pytest.raises(ModelError, match="not a valid safetensors file"):
        load_model_dir(model_dir)
    (model_dir / "model.safetensors").write_bytes(struct.pack("<Q", 2**62) + b"{}")  # header length absurd
    with pytest.raises(ModelError, match="not a valid safetensors file"):
        load_model_dir(model_dir)


def _mutate(model_dir: Path, change: Callable[[dict[str, Any]], object]) -> None:
    path = model_dir / "config.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _set(section: str | None, key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda data: (data[section] if section else data).__setitem__(key, value)


def _wide_input(data: dict[str, Any]) -> None:
    """A million mel bands in a network small enough to pass the parameter limit."""
    data["model"].update(n_mels=10**6, subsampling=1, conv_channels=1, hidden_size=1, lstm_layers=1)
    data["features"]["n_mels"] = 10**6
    data["normalization"] = {"mean": [], "std": []}


def _huge_vocab(data: dict[str, Any]) -> None:
    alphabet = " " + "".join(chr(0x4E00 + i) for i in range(20_000))
    data["alphabet"] = alphabet
    data["model"]["vocab_size"] = len(alphabet) + 1
    data["model"]["hidden_size"] = 10_000


ABSURD_CONFIGS: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "10^9 LSTM layers": (_set("model", "lstm_layers", 10**9), "parameters"),
    "10^9 conv channels": (_set("model", "conv_channels", 10**9), "parameters"),
    "10^400-unit layer": (_set("model", "hidden_size", 10**400), "about 10^"),
    "huge vocabulary": (_huge_vocab, "parameters"),
    "negative hidden size": (_set("model", "hidden_size", -320), "hidden_size must be positive"),
    "hidden size as text": (_set("model", "hidden_size", "320"), "expected an integer"),
    "hidden size as float": (_set("model", "hidden_size", 320.5), "expected an integer"),
    "model section as list": (_set(None, "model", [4, 320]), "expected a mapping"),
    "a million mel bands": (_wide_input, "n_mels 1000000 is outside"),
    "n_fft 10^9": (_set("features", "n_fft", 10**9), "n_fft 1000000000 is outside"),
    "window of 10^9 ms": (_set("features", "win_ms", 1e9), "window"),
    "sample rate 0": (_set("features", "sample_rate", 0), "sample_rate 0 is outside"),
    "hop of 0 ms": (_set("features", "hop_ms", 0.0), "hop_ms must be a positive number"),
    "NaN normalization": (lambda d: d["normalization"].__setitem__("std", [float("nan")] * 80), "NaN or infinite"),
    "repeated alphabet letters": (_set(None, "alphabet", " abcdefghijklmnopqrstuvwxyza"), "repeated characters"),
    "format version as text": (_set(None, "format_version", "9"), "format_version must be an integer"),
    "future format version": (_set(None, "format_version", 99), "newer than this asr"),
}


@pytest.mark.parametrize("name", list(ABSURD_CONFIGS))
def test_absurd_configs_are_refused_with_a_clear_error(model_dir: Path, name: str) -> None:
    change, reason = ABSURD_CONFIGS[name]
    _mutate(model_dir, change)
    with pytest.raises(ModelError, match=re.escape(reason)) as info:
        load_model_dir(model_dir)
    assert str(model_dir) in str(info.value)
    assert len(str(info.value)) < 400  # one readable line, even for a 400-digit size
    assert "\n" not in str(info.value)


def test_hostile_config_files_are_refused(model_dir: Path) -> None:
    config = model_dir / "config.json"
    config.write_text('{"model": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ModelError, match="nested too deeply"):
        load_model_dir(model_dir)
    config.write_bytes(b'{"alphabet": "\xff\xfe"}')
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model_dir(model_dir)
    config.write_bytes(b" " * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ModelError, match="implausibly large"):
        load_model_dir(model_dir)


# Loads every hostile directory given on the command line in one process and prints its peak
# resident memory (MB) after the warm-up load of a good model and after each refusal.
_MEMORY_PROBE = """
import resource, sys
from asr.errors import ModelError
from asr.model_dir import load_model_dir
from asr.transcribe import Recognizer
Recognizer(load_model_dir(sys.argv[1]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
for path in sys.argv[2:]:
    try:
        Recognizer(load_model_dir(path))
    except ModelError:
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    else:
        print("loaded", path)
"""


def test_refusals_happen_before_allocating(tmp_path: Path) -> None:
    good = _save(tmp_path / "good")
    hostile = []
    for index, (change, _) in enumerate(ABSURD_CONFIGS.values()):
        directory = _save(tmp_path / f"hostile{index}")
        _mutate(directory, change)
        hostile.append(directory)
    # Weights with an extra 64 MB tensor: refused from the header alone.
    padded = _save(tmp_path / "padded")
    from safetensors.torch import load_file, save_file

    state = load_file(str(padded / "model.safetensors"))
    save_file({**state, "payload": torch.ones(16 * 2**20)}, str(padded / "model.safetensors"))
    hostile.append(padded)
    probe = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(good), *map(str, hostile)], capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr
    peaks = [int(line) for line in probe.stdout.split()]
    assert len(peaks) == len(hostile) + 1, probe.stdout
    assert peaks[-1] - peaks[0] < 32, peaks  # MB: far less than one 64 MB payload or a 10^9-unit layer
