"""The command line as a new user meets it: help texts, one-line errors that say what to do,
output names that never collide, transcripts printed segment by segment, evaluation that
does not pass silently over missing audio or hypotheses."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import asr
from asr.audio import load_audio
from asr.cli import build_parser, main
from asr.decoding import DECODER_METHODS, DecoderOptions
from asr.export import EXPORT_FORMATS
from asr.inference import QUANTIZATIONS
from asr.prepare import LAYOUTS
from asr.scoring import NORMALIZERS
from asr.writers import OUTPUT_FORMATS
from tests.conftest import SPEECH, SPEECH_MANIFEST, fixture_texts, write_config
from tests.test_writers import parse_srt

CAT = SPEECH / "espeak_us_cat.flac"
RAIN = SPEECH / "flite_kal_rain.flac"


def all_parsers(parser: argparse.ArgumentParser, prefix: str = "asr") -> list[tuple[str, argparse.ArgumentParser]]:
    """The parser and every subcommand's, depth first, with the command that shows it."""
    found = [(prefix, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += all_parsers(sub, f"{prefix} {name}")
    return found


def test_every_help_text_renders() -> None:
    parsers = all_parsers(build_parser())
    assert {"asr transcribe", "asr evaluate", "asr lm build", "asr lm tune", "asr train", "asr demo"} <= {name for name, _ in parsers}
    for name, parser in parsers:
        text = parser.format_help()
        assert "%%" not in text and "%(" not in text, name
    evaluate = dict(parsers)["asr evaluate"].format_help()
    assert "95% interval" in " ".join(evaluate.split())


def test_choices_come_from_the_library_and_shared_arguments_are_declared_once() -> None:
    parsers = dict(all_parsers(build_parser()))

    def actions(command: str) -> dict[str, argparse.Action]:
        return {action.dest: action for action in parsers[command]._actions}

    assert list(actions("asr transcribe")["output_format"].choices or ()) == list(OUTPUT_FORMATS)
    assert list(actions("asr evaluate")["method"].choices or ()) == list(DECODER_METHODS)
    assert list(actions("asr lm tune")["normalizer"].choices or ()) == list(NORMALIZERS)
    assert list(actions("asr prepare")["layout"].choices or ()) == list(LAYOUTS)
    assert list(actions("asr export")["format"].choices or ()) == list(EXPORT_FORMATS)
    assert set(QUANTIZATIONS) <= set(actions("asr transcribe")) and set(QUANTIZATIONS) <= set(actions("asr bench"))
    assert {option.name for option in fields(DecoderOptions)} <= set(actions("asr transcribe"))
    for flag in ("--model", "--device", "--verbose", "--lm-weight"):
        declared = {id(a) for _, parser in parsers.items() for a in parser._actions if flag in a.option_strings}
        assert len(declared) == 1, flag  # one parent parser's action, shared by every command that takes it


def test_device_errors_are_one_line(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe", str(CAT), "--model", str(tiny_model_dir), "--device", "gpu"]) == 2
    assert capsys.readouterr().err == "error: unknown device 'gpu': use cpu, cuda, cuda:N or auto\n"
    assert main(["evaluate", str(SPEECH_MANIFEST), "--model", str(tiny_model_dir), "--device", "cuda:x"]) == 2
    assert capsys.readouterr().err == "error: unknown device 'cuda:x': use cpu, cuda, cuda:N or auto\n"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe", str(CAT), "--model", str(tiny_model_dir), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: device 'cuda': no CUDA GPU") and err.endswith("use cpu\n")


def test_train_with_an_unknown_device_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, SPEECH_MANIFEST)
    assert main(["train", str(config), "device=gpu"]) == 2
    assert capsys.readouterr().err == "error: unknown device 'gpu': use cpu, cuda, cuda:N or auto\n"
    assert not (tmp_path / "exp").exists()


def test_option_errors_do_not_name_a_missing_path_or_a_type(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe", str(CAT), "--decoder", "greedy", "--lm-weight", "2"]) == 2
    assert capsys.readouterr().err == "error: --lm-weight only apply to --decoder beam\n"  # not "error: None: ValueError: ..."
    assert main(["transcribe", str(CAT), "--model", str(tiny_model_dir), "--int8", "--device", "auto", "--batch-size", "0"]) == 2
    assert capsys.readouterr().err == "error: batch_size must be at least 1\n"


def test_a_wrong_lm_is_reported_once_before_any_file(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no.arpa"
    assert main(["transcribe", str(CAT), str(RAIN), "--model", str(tiny_model_dir), "--decoder", "beam", "--lm", str(missing), "-o", str(tmp_path / "o")]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {missing}: language model not found\n"
    assert captured.out == "" and not (tmp_path / "o").exists()
    assert main(["evaluate", str(SPEECH_MANIFEST), "--model", str(tiny_model_dir), "--decoder", "beam", "--lm", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: {missing}: language model not found\n"


def test_same_names_in_subfolders_keep_their_folders(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "recordings"
    for sub, clip in (("monday", CAT), ("tuesday", RAIN)):
        (folder / sub).mkdir(parents=True)
        shutil.copy(clip, folder / sub / "take1.flac")
    out = tmp_path / "out"
    assert main(["transcribe", str(folder), "--model", str(tiny_model_dir), "-o", str(out), "-f", "txt", "-q"]) == 0
    assert (out / "monday" / "take1.txt").read_text() == "the cat sat on the mat\n"
    assert (out / "tuesday" / "take1.txt").read_text() == "heavy rain fell all night\n"
    capsys.readouterr()
    given = [str(folder / "monday" / "take1.flac"), str(folder / "tuesday" / "take1.flac")]
    assert main(["transcribe", *given, "--model", str(tiny_model_dir), "-o", str(tmp_path / "flat")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{given[0]} and {given[1]} would both be written to {tmp_path / 'flat' / 'take1'}.*" in err
    assert not (tmp_path / "flat").exists()
    shutil.copy(CAT, folder / "monday" / "take1.wav")  # (FLAC data; the name is what matters)
    assert main(["transcribe", str(folder), "--model", str(tiny_model_dir), "-o", str(out)]) == 2
    assert "would both be written to" in capsys.readouterr().err


def several_segments(path: Path, model_dir: Path) -> list[str]:
    """30 s of the fixture clips one after another: several segments (at most 10 s each), whose
    texts the API gives."""
    pause = np.zeros(16000, dtype=np.float32)
    clips = [load_audio(SPEECH / name, 16000) for name in fixture_texts()] * 3
    sf.write(path, np.concatenate([piece for clip in clips for piece in (clip, pause)]), 16000)
    texts = [segment.text for segment in asr.load_model(model_dir).transcribe(path).segments]
    assert len(texts) >= 3
    return texts


def test_stdout_gets_a_line_per_segment_with_times_when_asked(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = several_segments(tmp_path / "talk.flac", tiny_model_dir)
    assert main(["transcribe", str(tmp_path / "talk.flac"), "--model", str(tiny_model_dir)]) == 0
    assert capsys.readouterr().out.splitlines() == texts
    assert main(["transcribe", str(tmp_path / "talk.flac"), "--model", str(tiny_model_dir), "--timestamps"]) == 0
    lines = capsys.readouterr().out.splitlines()
    timed = [re.fullmatch(r"\[(\d\d):(\d\d\.\d{3}) --> (\d\d):(\d\d\.\d{3})\] (.*)", line) for line in lines]
    assert all(timed) and [m[5] for m in timed if m] == texts
    starts = [int(m[1]) * 60 + float(m[2]) for m in timed if m]
    assert starts == sorted(starts) and starts[1] > 1.0
    assert main(["transcribe", str(tmp_path / "talk.flac"), str(CAT), "--model", str(tiny_model_dir)]) == 0
    assert capsys.readouterr().out.splitlines() == [*(f"{tmp_path / 'talk.flac'}: {text}" for text in texts), f"{CAT}: the cat sat on the mat"]


def test_output_dir_dash_is_stdout(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    texts = several_segments(tmp_path / "talk.flac", tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    assert main(["transcribe", "talk.flac", "--model", str(tiny_model_dir), "-o", "-", "-f", "srt"]) == 0
    assert " ".join(text for _, _, text in parse_srt(capsys.readouterr().out)).split() == " ".join(texts).split()
    assert main(["transcribe", "talk.flac", "--model", str(tiny_model_dir), "-o", "-", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == " ".join(texts)
    assert main(["transcribe", "talk.flac", "--model", str(tiny_model_dir), "-o", "-"]) == 0
    assert capsys.readouterr().out.splitlines() == texts
    assert not (tmp_path / "-").exists()
    assert main(["transcribe", "talk.flac", "--model", str(tiny_model_dir), "-o", "-", "-f", "all"]) == 2
    assert "-o - writes one format to stdout" in capsys.readouterr().err
    assert main(["transcribe", "talk.flac", str(CAT), "--model", str(tiny_model_dir), "-o", "-", "-f", "vtt"]) == 2
    assert "give -o a folder for 2 files" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


def plain_manifest(path: Path, extra: list[Path] = ()) -> Path:  # type: ignore[assignment]
    """The fixture clips without durations (as hand-made manifests often are), and more files."""
    rows = [{"audio_filepath": str(SPEECH / name), "text": text} for name, text in fixture_texts().items()]
    rows += [{"audio_filepath": str(p), "text": "lost words"} for p in extra]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_evaluate_needs_no_durations(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(plain_manifest(tmp_path / "m.jsonl")), "--model", str(tiny_model_dir)]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.split(" | ")[1:5] == ["4", "22", "0.00", "0.0-0.0"]


def test_evaluate_stops_on_missing_audio_unless_asked_to_go_on(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gone = [tmp_path / "gone1.wav", tmp_path / "gone2.wav"]
    manifest = plain_manifest(tmp_path / "m.jsonl", gone)
    assert main(["evaluate", str(manifest), "--model", str(tiny_model_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # before any work
    assert captured.err.splitlines() == [
        f"error: {gone[0]}: file not found",
        f"error: {gone[1]}: file not found",
        "error: 2 audio file(s) not found: fix the manifest(s), or pass --keep-going to score them as empty transcripts",
    ]
    assert main(["evaluate", str(manifest), "--model", str(tiny_model_dir), "--keep-going"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[2].split(" | ")[1:3] == ["6", "26"]
    assert f"error: {gone[0]}: file not found" in captured.err and "2 utterance(s) scored as empty transcripts" in captured.err


def test_evaluate_fails_when_hypotheses_are_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hypotheses = tmp_path / "hyp.tsv"
    hypotheses.write_text("".join(f"{Path(name).stem}\t{text}\n" for name, text in list(fixture_texts().items())[1:]))
    assert main(["evaluate", str(SPEECH_MANIFEST), "--hypotheses", str(hypotheses)]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"error: {CAT}: no hypothesis in {hypotheses}",
        "error: 1 utterance(s) could not be scored (listed above) and count as empty transcripts in this table; fix them, or pass --keep-going to accept that",
    ]
    assert "| 27.27 |" in captured.out
    assert main(["evaluate", str(SPEECH_MANIFEST), "--hypotheses", str(hypotheses), "--keep-going"]) == 0
