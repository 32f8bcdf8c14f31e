from __future__ import annotations

import csv
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import asr
import asr.train as train_module
from asr import feature_cache
from asr.distributed import DistContext
from asr.errors import ConfigError
from asr.manifests import read_manifest
from asr.sampler import epoch_batches
from asr.train import TrainHooks, lr_factor, resolve_precision, train, training_threads
from asr.train_config import load_train_config
from tests.conftest import FAST_OVERRIDES, SPEECH, SPEECH_MANIFEST, TINY_OVERRIDES, fixture_texts, write_config
from tests.fixtures.make_tiny_model import TINY_MODEL_EPOCHS, TINY_MODEL_OVERRIDES


def test_overfit_reproduces_transcripts(trained_tiny_model_dir: Path) -> None:
    recognizer = asr.load_model(trained_tiny_model_dir)
    for name, text in fixture_texts().items():
        assert recognizer.transcribe(SPEECH / name).text == text
    epochs = sorted(p.name for p in (trained_tiny_model_dir.parent / "epochs").iterdir())
    assert epochs == [f"epoch-{n}" for n in range(TINY_MODEL_EPOCHS - 4, TINY_MODEL_EPOCHS + 1)]  # keep_epoch_models: 5
    log = list(csv.DictReader((trained_tiny_model_dir.parent / "train_log.csv").open()))
    assert len(log) == TINY_MODEL_EPOCHS
    assert float(log[-1]["train_loss"]) < 0.05 < float(log[0]["train_loss"])


def test_model_dir_records_provenance(trained_tiny_model_dir: Path) -> None:
    provenance = asr.load_model(trained_tiny_model_dir).config.provenance
    assert provenance["epochs_completed"] == TINY_MODEL_EPOCHS
    assert provenance["train_manifests"] == [str(SPEECH_MANIFEST), str(trained_tiny_model_dir.parents[1] / "pairs.jsonl")]
    assert provenance["train_config"]["model"]["hidden_size"] == 48
    assert provenance["precision"] == "fp32"


def _short_run(directory: Path, extra: list[str]) -> Path:
    """Four epochs of two batches, with dropout, gain and SpecAugment on: the weights only match
    across a resume if every RNG state is restored."""
    overrides = [o for o in TINY_OVERRIDES if not o.startswith(("epochs=", "data.batch_size"))]
    overrides += ["epochs=4", "data.batch_size=2", "model.dropout=0.2", "spec_augment.freq_masks=1", "spec_augment.time_masks=1", "augment.gain_db=10", *extra]
    config = load_train_config(write_config(directory, SPEECH_MANIFEST), overrides)
    train(config)
    return directory / "exp"


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path: Path) -> None:
    straight = _short_run(tmp_path / "straight", [])
    # Stop after 3 steps (in the middle of epoch 2), then run the same command again.
    interrupted = _short_run(tmp_path / "resumed", ["max_steps=3"])
    assert torch.load(interrupted / "checkpoint.pt", weights_only=True)["state"]["step"] == 3
    resumed = _short_run(tmp_path / "resumed", [])
    assert torch.load(resumed / "checkpoint.pt", weights_only=True)["state"]["step"] == 8
    a = load_file(str(straight / "last" / "model.safetensors"))
    b = load_file(str(resumed / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_unknown_config_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hiden_size"):
        load_train_config(write_config(tmp_path, SPEECH_MANIFEST), ["model.hiden_size=3"])


def test_bad_manifest_lines_and_truncated_audio_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "mixed.jsonl"
    good = SPEECH_MANIFEST.read_text().splitlines()
    rows = [
        good[0].replace('"audio_filepath": "', f'"audio_filepath": "{SPEECH}/'),
        "{not json",
        '{"audio_filepath": "x.wav", "text": "no duration"}',
        f'{{"audio_filepath": "{SPEECH}/espeak_us_cat.flac", "duration": 0.5, "text": "far too much text for half a second of audio"}}',
    ]
    manifest.write_text("\n".join(rows) + "\n")
    config = load_train_config(write_config(tmp_path, manifest), [*TINY_OVERRIDES, "epochs=1"])
    train(config)
    err = capsys.readouterr().err
    assert "train: 1 utterances" in err
    assert "2 broken line" in err
    assert "1 text too long for the audio" in err
    assert f"{manifest}:2: not valid JSON" in err


def test_warmup_then_cosine_schedule(tmp_path: Path) -> None:
    config = load_train_config(write_config(tmp_path, SPEECH_MANIFEST), ["optim.warmup_steps=10", "optim.min_lr_ratio=0.1"])
    assert lr_factor(0, 110, config) == pytest.approx(0.1)
    assert lr_factor(9, 110, config) == pytest.approx(1.0)
    assert lr_factor(60, 110, config) == pytest.approx(0.55)
    assert lr_factor(110, 110, config) == pytest.approx(0.1)


def test_fine_tuning_starts_from_a_model_and_can_change_the_alphabet(tiny_model_dir: Path, tmp_path: Path) -> None:
    base = [o for o in TINY_MODEL_OVERRIDES if not o.startswith("epochs=")]
    same = load_train_config(write_config(tmp_path / "same", SPEECH_MANIFEST), [*base, "epochs=1", "optim.lr=1e-9", f"init_from={tiny_model_dir}"])
    tuned = asr.load_model(train(same))
    assert tuned.transcribe(SPEECH / "espeak_us_cat.flac").text == "the cat sat on the mat"
    alphabet = " abcdefghijklmnopqrstuvwxyz'-"
    new_vocab = load_train_config(
        write_config(tmp_path / "new", SPEECH_MANIFEST),
        [*base, "epochs=1", f"init_from={tiny_model_dir}", f'data.alphabet="{alphabet}"', "model.vocab_size=30"],
    )
    model = asr.load_model(train(new_vocab))
    assert model.config.alphabet == alphabet
    # The statistics come from the starting model, not from a new pass over the data.
    assert model.config.normalization == asr.load_model(tiny_model_dir).config.normalization
    wrong_shape = load_train_config(write_config(tmp_path / "bad", SPEECH_MANIFEST), [*base, f"init_from={tiny_model_dir}", "model.hidden_size=64"])
    with pytest.raises(ConfigError, match="differs from model"):
        train(wrong_shape)


def test_early_stopping(tmp_path: Path) -> None:
    overrides = [o for o in TINY_OVERRIDES if not o.startswith("epochs=")]
    # A learning rate of zero never improves on the first epoch's validation score.
    config = load_train_config(
        write_config(tmp_path, SPEECH_MANIFEST, f"  valid_manifests: [{SPEECH_MANIFEST}]\n"),
        [*overrides, "epochs=20", "optim.lr=0.0", "early_stopping_epochs=2"],
    )
    train(config)
    log = list(csv.DictReader((tmp_path / "exp" / "train_log.csv").open()))
    assert len(log) == 3


def _fast(directory: Path, extra: list[str]) -> Path:
    train(load_train_config(write_config(directory, SPEECH_MANIFEST), [*FAST_OVERRIDES, *extra]))
    return directory / "exp"


def test_trainer_feeds_the_length_sorted_batches_of_the_sampler(tmp_path: Path) -> None:
    seen: list[list[int]] = []
    hooks = TrainHooks(batch_ready=lambda batch: seen.append(batch.indices))
    train(load_train_config(write_config(tmp_path, SPEECH_MANIFEST), [*FAST_OVERRIDES, "epochs=2", "data.batch_size=2", "data.sortagrad=true"]), hooks)
    durations = [e.duration for e in read_manifest(SPEECH_MANIFEST)]
    expected = [epoch_batches(durations, 2, 320.0, 0, epoch, sortagrad=True) for epoch in (0, 1)]
    assert seen == expected[0] + expected[1]
    # SortaGrad: the first epoch goes from the shortest batch to the longest.
    longest = [max(durations[i] for i in batch) for batch in expected[0]]
    assert longest == sorted(longest)


def test_gradient_accumulation_steps(tmp_path: Path) -> None:
    exp = _fast(tmp_path, ["epochs=2", "accum_steps=3"])
    # 4 batches an epoch in groups of 3: one full group and one closed early by the epoch's end.
    assert torch.load(exp / "checkpoint.pt", weights_only=True)["state"]["step"] == 4
    assert [row["step"] for row in csv.DictReader((exp / "train_log.csv").open())] == ["2", "4"]


def test_fp16_with_a_gradient_scaler_resumes_exactly(tmp_path: Path) -> None:
    extra = ["epochs=2", "precision=fp16", "checkpoint_every_steps=1"]
    straight = _fast(tmp_path / "straight", extra)
    _fast(tmp_path / "resumed", [*extra, "max_steps=3"])
    saved = torch.load(tmp_path / "resumed" / "exp" / "checkpoint.pt", weights_only=True)
    assert saved["state"]["step"] == 3 and saved["scaler"]["scale"] > 0
    resumed = _fast(tmp_path / "resumed", extra)
    final = [torch.load(d / "checkpoint.pt", weights_only=True) for d in (straight, resumed)]
    assert final[0]["scaler"] == final[1]["scaler"]
    for name, tensor in final[0]["model"].items():
        assert torch.equal(tensor, final[1]["model"][name]), name


def test_non_finite_losses_are_skipped_counted_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls = {"n": 0}
    ctc = torch.nn.CTCLoss(zero_infinity=True)

    def sometimes_nan(*args: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss: torch.Tensor = ctc(*args)
        return loss * float("nan") if calls["n"] in (2, 7) else loss

    train(load_train_config(write_config(tmp_path, SPEECH_MANIFEST), [*FAST_OVERRIDES, "epochs=2"]), TrainHooks(loss=sometimes_nan))
    exp = tmp_path / "exp"
    rows = list(csv.DictReader((exp / "train_log.csv").open()))
    assert [row["skipped_batches"] for row in rows] == ["1", "2"]
    err = capsys.readouterr().err
    assert "skipping a batch with a non-finite loss (epoch 1, batch 2); 1 so far" in err
    assert "2 non-finite batches skipped" in err
    weights = load_file(str(exp / "last" / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in weights.values())


def test_tensorboard_logs_or_says_why_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    exp = _fast(tmp_path / "tb", ["epochs=2", "log_every_steps=2"])
    events = EventAccumulator(str(exp / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("epoch/train_loss")] == [4, 8]
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4, 6, 8]
    rows = list(csv.DictReader((exp / "train_log.csv").open()))
    assert [e.value for e in events.Scalars("epoch/train_loss")] == pytest.approx([float(r["train_loss"]) for r in rows], rel=1e-4)

    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if the package were missing
    exp = _fast(tmp_path / "csv", ["epochs=1"])
    assert capsys.readouterr().err.count("tensorboard is not installed") == 1
    assert not (exp / "tensorboard").exists() and (exp / "train_log.csv").exists()


def test_training_from_the_feature_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    extra = ["epochs=1", f"data.feature_cache_dir={cache}", "spec_augment.freq_masks=1", "spec_augment.time_masks=1"]
    first = _fast(tmp_path / "first", extra)
    assert len(list(cache.rglob("*.npz"))) == 4
    # A second run reads every utterance's features from the cache and decodes no audio at all.
    monkeypatch.setattr(feature_cache, "load_audio", lambda *args: pytest.fail("decoded audio despite the cache"))
    second = _fast(tmp_path / "second", extra)
    a = load_file(str(first / "last" / "model.safetensors"))
    b = load_file(str(second / "last" / "model.safetensors"))
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_training_flushes_subnormal_floats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Subnormal LSTM gradients once made one CPU backward pass take minutes."""
    calls: list[bool] = []
    monkeypatch.setattr(torch, "set_flush_denormal", lambda on: calls.append(on) or True)
    _fast(tmp_path, ["max_steps=1"])
    assert calls == [True, False]  # on for training, back off afterwards
    assert np.float32(1e-39) * np.float32(1.0) != 0.0


def test_threads_option_sets_the_training_threads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from asr.cli import main

    before = torch.get_num_threads()
    config = write_config(tmp_path, SPEECH_MANIFEST)
    assert main(["train", "--threads", "1", str(config), *FAST_OVERRIDES, "max_steps=1"]) == 0
    assert ", 1 threads, " in capsys.readouterr().err
    assert torch.get_num_threads() == before  # restored for the rest of the process


def test_default_threads_leave_a_core_to_each_loader_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))
    config = load_train_config(write_config(Path("/nonexistent"), SPEECH_MANIFEST), ["data.num_workers=2"])
    assert training_threads(config, DistContext()) == 6
    assert training_threads(replace(config, threads=3), DistContext()) == 3
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun with 4 processes on this machine
    assert training_threads(config, DistContext(world_size=4)) == 1
    assert training_threads(replace(config, data=replace(config.data, num_workers=9)), DistContext()) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert training_threads(config, DistContext()) == torch.get_num_threads()


def test_auto_precision_is_bf16_only_on_cpus_with_bfloat16_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_train_config(write_config(Path("/nonexistent"), SPEECH_MANIFEST))
    assert config.precision == "auto"
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    for has_bf16, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(train_module, "cpu_has_bf16", lambda has=has_bf16: has)
        assert resolve_precision(config, cpu) == expected
        assert resolve_precision(config, gpu) == "fp32"
        assert resolve_precision(replace(config, precision="fp16"), cpu) == "fp16"


def test_resuming_with_another_model_shape_is_one_line(tmp_path: Path) -> None:
    base = [*FAST_OVERRIDES, "epochs=1"]
    train(load_train_config(write_config(tmp_path, SPEECH_MANIFEST), base))
    with pytest.raises(ConfigError, match="holds a model of another shape") as caught:
        train(load_train_config(write_config(tmp_path, SPEECH_MANIFEST), [*base, "epochs=2", "model.hidden_size=16"]))
    assert "\n" not in str(caught.value) and "resume=false" in str(caught.value)
