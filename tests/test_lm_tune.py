"""`asr lm tune` end to end on the tiny fixture model: log-prob cache, grid search on all cores,
and the tuned LM and weights stored in the model directory and then used by `--decoder beam`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from asr.cli import main
from asr.decoding import DecoderOptions
from asr.decoding_pool import ParallelDecoder
from asr.errors import UsageError
from asr.lm import build_lm
from asr.lm_tune import CachedUtterance, TuneGrid, best_trial, cache_log_probs, load_cache, save_cache, save_tuning, search_grid, tune, tuning_target
from asr.manifests import read_manifest
from asr.transcribe import load_model
from tests.conftest import SPEECH, SPEECH_MANIFEST, fixture_texts


@pytest.fixture()
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


@pytest.fixture()
def fixture_lm(tmp_path: Path) -> Path:
    text = tmp_path / "text.txt"
    text.write_text("\n".join(fixture_texts().values()) + "\n")
    return build_lm([text], tmp_path / "lm" / "fixture.arpa", order=2, use_kenlm=False).path


def test_tune_stores_the_best_settings_and_beam_decoding_uses_them(
    model_copy: Path, fixture_lm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache.safetensors"
    args = ["lm", "tune", str(SPEECH_MANIFEST), "--model", str(model_copy), "--lm", str(fixture_lm), "--cache", str(cache)]
    assert main([*args, "--lm-weights", "0.5", "1", "--word-scores", "0", "1", "--beam-sizes", "8", "16", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| beam + LM |")]
    assert len(table) == 8  # 2 x 2 x 2 combinations
    best_line = next(line for line in out.splitlines() if line.startswith("best:"))
    decoder = json.loads((model_copy / "config.json").read_text())["decoder"]
    assert decoder["lm"] == "lm.arpa"
    assert decoder["method"] == "greedy"  # beam + LM only ties greedy's 0% here: greedy stays the default
    assert (model_copy / "lm.arpa").read_bytes() == fixture_lm.read_bytes()
    assert (model_copy / "lm.vocab").is_file()
    assert f"beam {decoder['beam_size']}, lm_weight {decoder['lm_weight']:g}, word_score {decoder['word_score']:g}: WER 0.00%" in best_line
    assert cache.is_file()

    recognizer = load_model(model_copy)
    assert recognizer.has_lm
    defaults = recognizer.decoder_defaults("beam")
    assert (defaults.lm, defaults.lm_weight, defaults.word_score, defaults.beam_size) == (
        str(model_copy / "lm.arpa"),
        decoder["lm_weight"],
        decoder["word_score"],
        decoder["beam_size"],
    )
    texts = fixture_texts()
    for name, text in texts.items():
        assert main(["transcribe", str(SPEECH / name), "--model", str(model_copy), "--decoder", "beam"]) == 0
        assert capsys.readouterr().out.strip() == text


def test_dry_run_leaves_the_model_directory_alone(model_copy: Path, fixture_lm: Path) -> None:
    before = (model_copy / "config.json").read_bytes()
    args = ["lm", "tune", str(SPEECH_MANIFEST), "--model", str(model_copy), "--lm", str(fixture_lm), "--lm-weights", "1", "--word-scores", "0"]
    assert main([*args, "--workers", "1", "--dry-run"]) == 0
    assert (model_copy / "config.json").read_bytes() == before
    assert not (model_copy / "lm.arpa").exists()
    assert not load_model(model_copy).has_lm


def test_log_prob_cache_round_trips(tiny_model_dir: Path, tmp_path: Path) -> None:
    recognizer = load_model(tiny_model_dir)
    items = cache_log_probs(recognizer, read_manifest(SPEECH_MANIFEST), progress=False)
    assert len(items) == 4
    save_cache(tmp_path / "c.safetensors", items, "tiny")
    loaded, model = load_cache(tmp_path / "c.safetensors")
    assert model == "tiny"
    for a, b in zip(items, loaded, strict=True):
        assert (a.audio_filepath, a.reference, a.duration) == (b.audio_filepath, b.reference, b.duration)
        assert torch.equal(a.log_probs, b.log_probs)


def test_parallel_decoding_equals_serial(tiny_model_dir: Path) -> None:
    recognizer = load_model(tiny_model_dir)
    items: list[CachedUtterance] = cache_log_probs(recognizer, read_manifest(SPEECH_MANIFEST), progress=False)
    log_probs = [i.log_probs for i in items] * 3
    options = DecoderOptions(method="beam", beam_size=8)
    with ParallelDecoder(recognizer.tokenizer, recognizer.output_frame_seconds, workers=2) as pool:
        parallel = [text for text, _ in pool.decode(options, log_probs)]
    with ParallelDecoder(recognizer.tokenizer, recognizer.output_frame_seconds, workers=1) as single:
        serial = [text for text, _ in single.decode(options, log_probs)]
    assert parallel == serial
    assert parallel[:4] == [i.reference for i in items]


def test_grid_and_random_trials() -> None:
    base = DecoderOptions(method="beam")
    grid = search_grid(base, [0.5, 1.0], [0.0, 1.0, 2.0], [8, 16])
    assert len(grid) == 12
    assert len({(o.lm_weight, o.word_score, o.beam_size) for o in grid}) == 12
    drawn = search_grid(base, [0.5, 1.0], [0.0, 1.0, 2.0], [8, 16], trials=5, seed=3)
    assert len(drawn) == 5 and set(drawn) <= set(grid)
    assert drawn == search_grid(base, [0.5, 1.0], [0.0, 1.0, 2.0], [8, 16], trials=5, seed=3)


def test_best_trial_prefers_lower_wer_then_cer_then_smaller_beam() -> None:
    from asr.lm_tune import Trial

    small, large = DecoderOptions(method="beam", beam_size=8), DecoderOptions(method="beam", beam_size=32)
    trials = [Trial(large, 0.2, 0.1, 1.0), Trial(small, 0.2, 0.1, 1.0), Trial(large, 0.2, 0.05, 1.0), Trial(small, 0.3, 0.0, 1.0)]
    assert best_trial(trials) is trials[2]
    assert best_trial(trials[:2]) is trials[1]


def test_beam_flags_need_the_beam_decoder(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = str(SPEECH / "espeak_us_cat.flac")
    assert main(["transcribe", clip, "--model", str(tiny_model_dir), "--lm-weight", "2"]) == 2
    assert "--lm-weight only apply to --decoder beam" in capsys.readouterr().err
    args = ["transcribe", clip, "--model", str(tiny_model_dir), "--decoder", "beam", "--hotwords", "cat:3", "--nbest", "2", "-f", "json", "-o", str(tmp_path)]
    assert main(args) == 0
    result = json.loads((tmp_path / "espeak_us_cat.json").read_text())
    assert result["text"] == "the cat sat on the mat"
    assert len(result["alternatives"]) == 2
    assert result["alternatives"][0]["text"] == result["text"]


def test_evaluate_with_beam_search(tiny_model_dir: Path, fixture_lm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["evaluate", str(SPEECH_MANIFEST), "--model", str(tiny_model_dir), "--decoder", "beam", "--lm", str(fixture_lm), "--lm-weight", "0.5"]
    assert main(args) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(f"| {SPEECH_MANIFEST}"))
    assert row.split("|")[4].strip() == "0.00"  # WER %


def test_tune_never_writes_into_the_bundled_model(fixture_lm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from asr.transcribe import DEFAULT_MODEL_DIR

    before = {path.name: path.read_bytes() for path in DEFAULT_MODEL_DIR.iterdir()}
    for model in ([], ["--model", str(DEFAULT_MODEL_DIR)]):
        assert main(["lm", "tune", str(SPEECH_MANIFEST), *model, "--lm", str(fixture_lm), "--lm-weights", "1", "--word-scores", "0", "--workers", "1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "bundled model" in err and "--output" in err
    assert {path.name: path.read_bytes() for path in DEFAULT_MODEL_DIR.iterdir()} == before


def test_tune_can_write_a_tuned_copy(model_copy: Path, fixture_lm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {path.name: path.read_bytes() for path in model_copy.iterdir()}
    tuned = tmp_path / "tuned"
    args = ["lm", "tune", str(SPEECH_MANIFEST), "--model", str(model_copy), "--lm", str(fixture_lm), "--lm-weights", "1", "--word-scores", "0"]
    args += ["--workers", "1"]
    assert main([*args, "--output", str(tuned)]) == 0
    assert {path.name: path.read_bytes() for path in model_copy.iterdir()} == before
    assert load_model(tuned).has_lm and (tuned / "lm.arpa").read_bytes() == fixture_lm.read_bytes()
    capsys.readouterr()
    assert main([*args, "--output", str(tuned)]) == 2  # an existing folder is not overwritten
    assert "already exists" in capsys.readouterr().err


def test_a_missing_lm_is_reported_before_any_work(model_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache.safetensors"
    args = ["lm", "tune", str(SPEECH_MANIFEST), "--model", str(model_copy), "--lm", str(tmp_path / "no.arpa"), "--cache", str(cache), "--workers", "1"]
    assert main(args) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'no.arpa'}: language model not found\n"
    assert not cache.exists()  # the model never ran


def test_the_api_tunes_and_saves_like_the_command(model_copy: Path, fixture_lm: Path, tmp_path: Path) -> None:
    grid = TuneGrid(lm_weights=(1.0,), word_scores=(0.0,), beam_sizes=(8,))
    tuning = tune([SPEECH_MANIFEST], model_copy, {"lm": str(fixture_lm)}, grid, workers=1)
    assert [trial.options.beam_size for trial in tuning.trials] == [8] and tuning.best.options.lm == str(fixture_lm)
    assert tuning.default_method == "greedy"  # beam + LM only ties greedy's 0% here
    target = tuning_target(model_copy, tmp_path / "tuned")
    assert target == tmp_path / "tuned"
    config = save_tuning(tuning, target)
    stored = load_model(target).decoder_defaults("beam")
    assert config == target / "config.json" and (stored.lm, stored.beam_size) == (str(target / "lm.arpa"), 8)
    with pytest.raises(UsageError, match="bundled model"):
        tuning_target(None)
