"""DistributedDataParallel on CPU: torchrun, the gloo backend and 2 processes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from tests.conftest import FAST_OVERRIDES, ROOT, SPEECH_MANIFEST, write_config

# No dropout and no augmentation: then two processes averaging their gradients do exactly what
# one process does when it sums the same two batches' gradients (accum_steps=2), since halving is
# exact in floating point.
OVERRIDES = [*FAST_OVERRIDES, "epochs=2", "device=cpu", "model.dropout=0.0", "checkpoint_every_steps=1"]
# One thread per process for both runs, so that no result depends on how the work was split.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _torchrun(config: Path, extra: list[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "asr", "train", str(config), *OVERRIDES, *extra]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _weights(exp: Path) -> dict[str, torch.Tensor]:
    return load_file(str(exp / "last" / "model.safetensors"))


def test_two_processes_match_one_process_accumulating_the_same_batches(tmp_path: Path) -> None:
    ddp = write_config(tmp_path / "ddp", SPEECH_MANIFEST)
    result = _torchrun(ddp, [])
    assert "all 2 processes ended with identical weights" in result.stderr
    exp = tmp_path / "ddp" / "exp"
    # Only rank 0 wrote: one log with one row per epoch, one model, one checkpoint.
    rows = list(csv.DictReader((exp / "train_log.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert torch.load(exp / "checkpoint.pt", weights_only=True)["state"]["step"] == 4  # 4 clips, 2 per step
    assert len(torch.load(exp / "checkpoint.pt", weights_only=True)["rng"]) == 2  # both processes' RNG states

    single = write_config(tmp_path / "single", SPEECH_MANIFEST)
    one = subprocess.run([sys.executable, "-m", "asr", "train", str(single), *OVERRIDES, "accum_steps=2"], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = _weights(exp), _weights(tmp_path / "single" / "exp")
    for name in a:
        assert torch.equal(a[name], b[name]), name

    # Stopped after one step and started again: the same weights as the uninterrupted run. This
    # run also validates (on rank 0 only, while the other process waits), which changes nothing.
    resumed = write_config(tmp_path / "resumed", SPEECH_MANIFEST, f"  valid_manifests: [{SPEECH_MANIFEST}]\n")
    _torchrun(resumed, ["max_steps=1"])
    assert torch.load(tmp_path / "resumed" / "exp" / "checkpoint.pt", weights_only=True)["state"]["step"] == 1
    again = _torchrun(resumed, [])
    assert "resuming from" in again.stderr
    c = _weights(tmp_path / "resumed" / "exp")
    for name in a:
        assert torch.equal(a[name], c[name]), name
    rows = list(csv.DictReader((tmp_path / "resumed" / "exp" / "train_log.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(float(row["valid_cer"]) >= 0.0 for row in rows)  # a number, not nan: rank 0 validated
