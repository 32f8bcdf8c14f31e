"""Training under faults: SIGKILL at random points (also mid-checkpoint-write), a full disk while
writing a checkpoint, manifests with broken rows."""

from __future__ import annotations

import csv
import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from asr import checkpoint as checkpoint_module
from asr.checkpoint import PAUSE_ENV
from asr.cli import main as cli_main
from asr.errors import CheckpointError
from asr.train import train
from asr.train_config import load_train_config
from tests.conftest import FAST_OVERRIDES, ROOT, SPEECH, SPEECH_MANIFEST, write_config

# Dropout, SpecAugment and every waveform augmentation on: the weights only match after a resume
# if every RNG state and the position in the epoch come back exactly.
KILL_OVERRIDES = [
    *FAST_OVERRIDES,
    "epochs=3",
    "checkpoint_every_steps=1",
    "model.dropout=0.2",
    "spec_augment.freq_masks=1",
    "spec_augment.time_masks=1",
    "augment.gain_db=6",
    "augment.speed_factors=[0.9,1.0,1.1]",
    "augment.noise_prob=0.5",
    "augment.reverb_prob=0.5",
]


def _command(config: Path) -> list[str]:
    return [sys.executable, "-m", "asr", "train", str(config), *KILL_OVERRIDES]


def _start(config: Path, pause: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, PAUSE_ENV: str(pause)}
    return subprocess.Popen(_command(config), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(condition: object, process: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    """Poll condition() until it holds (True) or the process ends or time runs out (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if callable(condition) and condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()


def _temporaries(exp: Path) -> list[Path]:
    return list(exp.glob(".checkpoint.pt.*.tmp"))


def _assert_checkpoint_usable(exp: Path) -> int:
    """The checkpoint (if any) loads; returns its step (0 if none)."""
    path = exp / "checkpoint.pt"
    if not path.exists():
        return 0
    state = torch.load(path, map_location="cpu", weights_only=True)
    return int(state["state"]["step"])


def test_sigkill_at_random_points_then_resume_gives_the_uninterrupted_weights(tmp_path: Path) -> None:
    straight = write_config(tmp_path / "straight", SPEECH_MANIFEST)
    subprocess.run(_command(straight), cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = write_config(tmp_path / "killed", SPEECH_MANIFEST)
    exp = tmp_path / "killed" / "exp"
    rng = random.Random(20261127)
    steps_seen: list[int] = []

    # 1. At a random moment of start-up (importing, reading data, computing statistics).
    process = _start(config, pause=0.0)
    time.sleep(rng.uniform(0.5, 3.0))
    _kill(process)
    steps_seen.append(_assert_checkpoint_usable(exp))

    # 2. In the middle of writing a checkpoint, when an earlier one exists: the test hook pauses
    # halfway through the temporary file, and the kill lands there.
    left_before = set(_temporaries(exp))  # a kill in step 1 may have left one
    process = _start(config, pause=1.0)
    caught = _wait_for(lambda: (exp / "checkpoint.pt").exists() and bool(set(_temporaries(exp)) - left_before), process)
    assert caught, "no checkpoint write was caught"
    time.sleep(0.2)
    _kill(process)
    assert _temporaries(exp), "the half-written temporary should still be there"
    steps_seen.append(_assert_checkpoint_usable(exp))

    # 3-5. A random moment shortly after a checkpoint was written (the next step, the epoch's end,
    # writing models or the log...). Checkpoint writes are slowed a little to spread them out.
    for _ in range(3):
        before = (exp / "checkpoint.pt").stat().st_mtime_ns if (exp / "checkpoint.pt").exists() else 0
        process = _start(config, pause=0.02)
        changed = _wait_for(lambda before=before: (exp / "checkpoint.pt").exists() and (exp / "checkpoint.pt").stat().st_mtime_ns != before, process)
        time.sleep(rng.uniform(0.0, 0.15))
        _kill(process)
        assert changed or process.returncode == 0
        steps_seen.append(_assert_checkpoint_usable(exp))

    # Then run to the end.
    finished = subprocess.run(_command(config), cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert max(steps_seen) > 0, f"no kill came after a checkpoint: {steps_seen}"
    assert not _temporaries(exp)
    assert _assert_checkpoint_usable(exp) == 12
    a = load_file(str(tmp_path / "straight" / "exp" / "last" / "model.safetensors"))
    b = load_file(str(exp / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    rows = list(csv.DictReader((exp / "train_log.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_path = write_config(tmp_path, SPEECH_MANIFEST)
    overrides = [*FAST_OVERRIDES, "epochs=2", "checkpoint_every_steps=1"]
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync_until_full(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] >= 4:  # the 4th checkpoint finds the disk full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(checkpoint_module.os, "fsync", fsync_until_full)
    with pytest.raises(CheckpointError, match=r"No space left on device.*previous checkpoint is unchanged"):
        train(load_train_config(config_path, overrides))
    exp = tmp_path / "exp"
    assert _assert_checkpoint_usable(exp) == 3
    assert not _temporaries(exp)

    # The command line says so in one line, and exits non-zero.
    calls["n"] = 0
    monkeypatch.setattr(checkpoint_module.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    assert cli_main(["train", str(config_path), *overrides]) == 2
    assert _assert_checkpoint_usable(exp) == 3

    # With space again, the same command resumes from step 3 and finishes.
    monkeypatch.setattr(checkpoint_module.os, "fsync", real_fsync)
    train(load_train_config(config_path, overrides))
    assert _assert_checkpoint_usable(exp) == 8


def test_manifest_with_broken_rows_trains_on_the_good_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = [line.replace('"audio_filepath": "', f'"audio_filepath": "{SPEECH}/') for line in SPEECH_MANIFEST.read_text().splitlines()]
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + b"\x00" * 100)  # a FLAC header and nothing usable
    rows = [
        good[0],
        "{not json",
        '{"audio_filepath": "a.flac", "text": "no duration"}',
        '{"duration": 1.0, "text": "no audio path"}',
        f'{{"audio_filepath": "{tmp_path}/missing.flac", "duration": 1.5, "text": "the file is gone"}}',
        f'{{"audio_filepath": "{corrupt}", "duration": 1.5, "text": "unreadable audio"}}',
        good[1],
    ]
    manifest = tmp_path / "broken.jsonl"
    manifest.write_text("\n".join(rows) + "\n")
    train(load_train_config(write_config(tmp_path, manifest), [*FAST_OVERRIDES, "epochs=1"]))
    err = capsys.readouterr().err
    assert "train: 3 utterances" in err
    assert "3 broken line" in err and "1 audio file missing" in err
    assert f"{manifest}:2: not valid JSON" in err
    assert f"audio file not found: {tmp_path}/missing.flac" in err
    assert f"skipping unreadable audio: {corrupt}" in err
    row = next(csv.DictReader((tmp_path / "exp" / "train_log.csv").open()))
    assert row["unreadable_audio"] == "1"
    assert (tmp_path / "exp" / "best" / "model.safetensors").exists()
