from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import asr
from asr.errors import ConfigError
from asr.train import lr_factor, train
from asr.train_config import load_train_config
from tests.conftest import SPEECH, SPEECH_MANIFEST, TINY_OVERRIDES, fixture_texts, write_config


def test_overfit_reproduces_transcripts(tiny_model_dir: Path) -> None:
    recognizer = asr.load_model(tiny_model_dir)
    for name, text in fixture_texts().items():
        assert recognizer.transcribe(SPEECH / name).text == text
    epochs = sorted(p.name for p in (tiny_model_dir.parent / "epochs").iterdir())
    assert epochs == [f"epoch-{n}" for n in range(296, 301)]  # keep_epoch_models: 5
    log = list(csv.DictReader((tiny_model_dir.parent / "train_log.csv").open()))
    assert len(log) == 300
    assert float(log[-1]["train_loss"]) < 0.05 < float(log[0]["train_loss"])


def test_model_dir_records_provenance(tiny_model_dir: Path) -> None:
    recognizer = asr.load_model(tiny_model_dir)
    provenance = recognizer.config.provenance
    assert provenance["epochs_completed"] == 300
    assert provenance["train_manifests"] == [str(SPEECH_MANIFEST)]
    assert provenance["train_config"]["model"]["hidden_size"] == 128


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
    base = [o for o in TINY_OVERRIDES if not o.startswith("epochs=")]
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
