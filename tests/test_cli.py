"""The command line, run in fresh processes as a user would."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import asr
from asr.transcribe import WINDOW_SECONDS
from tests.conftest import SPEECH, fixture_texts
from tests.test_writers import parse_srt, parse_vtt


def run_asr(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asr", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_version() -> None:
    result = run_asr("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"asr {asr.__version__}"


def test_transcribe_reloads_the_model_and_writes_every_format(tiny_model_dir: Path, tmp_path: Path) -> None:
    texts = fixture_texts()
    out = tmp_path / "out"
    result = run_asr("transcribe", "--model", tiny_model_dir, *[SPEECH / n for n in texts], "-f", "all", "-o", out, "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for name, text in texts.items():
        stem = Path(name).stem
        assert (out / f"{stem}.txt").read_text() == text + "\n"
        data = json.loads((out / f"{stem}.json").read_text())
        assert data["text"] == text
        duration = data["duration"]
        words = [w for s in data["segments"] for w in s["words"]]
        assert [w["text"] for w in words] == text.split()
        assert all(0 <= w["start"] < w["end"] <= duration and 0 <= w["confidence"] <= 1 for w in words)
        assert [w["start"] for w in words] == sorted(w["start"] for w in words)
        for cues in (parse_srt((out / f"{stem}.srt").read_text()), parse_vtt((out / f"{stem}.vtt").read_text())):
            assert " ".join(c[2] for c in cues) == text
            assert all(0 <= start < end <= duration + 0.001 for start, end, _ in cues)
            assert [c[0] for c in cues] == sorted(c[0] for c in cues)


def test_stdout_has_one_line_per_file(tiny_model_dir: Path) -> None:
    result = run_asr("transcribe", "--model", tiny_model_dir, SPEECH / "espeak_us_cat.flac")
    assert result.returncode == 0
    assert result.stdout == "the cat sat on the mat\n"


def test_a_corrupt_file_in_a_folder_fails_alone(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("espeak_us_cat.flac", "flite_kal_rain.flac"):
        shutil.copy(SPEECH / name, folder / name)
    (folder / "broken.flac").write_bytes(b"fLaC" + b"\x00" * 300)
    (folder / "readme.txt").write_text("not audio, and not picked up from a folder")
    out = tmp_path / "out"
    out.mkdir()
    (out / "espeak_us_cat.txt").write_text("an earlier result\n")
    result = run_asr("transcribe", "--model", tiny_model_dir, folder, "-o", out)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert str(folder / "broken.flac") in error_lines[0]
    assert "Traceback" not in result.stderr
    assert "1 of 3 file(s) failed" in result.stderr
    assert (out / "espeak_us_cat.txt").read_text() == "the cat sat on the mat\n"
    assert (out / "flite_kal_rain.txt").read_text() == "heavy rain fell all night\n"
    assert not (out / "broken.txt").exists()
    assert sorted(result.stdout.splitlines()) == [
        f"{folder / 'espeak_us_cat.flac'}: the cat sat on the mat",
        f"{folder / 'flite_kal_rain.flac'}: heavy rain fell all night",
    ]


def test_missing_file_and_verbose_traceback(tiny_model_dir: Path, tmp_path: Path) -> None:
    result = run_asr("transcribe", "--model", tiny_model_dir, tmp_path / "nothing.wav")
    assert result.returncode == 1
    assert f"error: {tmp_path / 'nothing.wav'}: file not found" in result.stderr
    assert "Traceback" not in result.stderr
    verbose = run_asr("transcribe", "--model", tiny_model_dir, tmp_path / "nothing.wav", "--verbose")
    assert "Traceback" in verbose.stderr


def test_missing_model_is_one_clear_line(tmp_path: Path) -> None:
    result = run_asr("transcribe", "--model", tmp_path / "nope", SPEECH / "espeak_us_cat.flac")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nope'}: model directory not found"


def test_train_with_a_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("output_dir: x\ndata:\n  train_manifests: [m.jsonl]\nepochz: 3\n")
    result = run_asr("train", tmp_path / "c.yaml")
    assert result.returncode == 2
    assert "unknown key(s) ['epochz']" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_prints_wer_table_and_writes_reports(tiny_model_dir: Path, tmp_path: Path) -> None:
    manifest = SPEECH / "manifest.jsonl"
    result = run_asr("evaluate", "--model", tiny_model_dir, manifest, "-o", tmp_path / "eval")
    assert result.returncode == 0, result.stderr
    header, _, row = result.stdout.splitlines()
    assert header.startswith("| manifest | utts | words | WER % | 95% CI | CER %")
    assert row.split(" | ")[1:6] == ["4", "22", "0.00", "0.0-0.0", "0.00"]
    assert (tmp_path / "eval" / "summary.md").read_text() == result.stdout
    assert (tmp_path / "eval" / "errs-manifest.txt").read_text().startswith("%WER 0.00 [ 0 / 22, 0 ins, 0 del, 0 sub ]")


def test_a_file_that_fails_half_way_keeps_its_transcript_so_far(tiny_model_dir: Path, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    texts = fixture_texts()
    pieces = []
    while sum(p.size for p in pieces) < 16000 * 125:  # several 30 s windows, and the damage in the second 60 s read
        for name in texts:
            samples, rate = sf.read(SPEECH / name, dtype="float32")
            assert rate == 16000
            pieces += [samples, np.zeros(16000, dtype=np.float32)]
    intact = tmp_path / "intact" / "meeting.flac"
    intact.parent.mkdir()
    sf.write(intact, np.concatenate(pieces), 16000, subtype="PCM_16")
    full_run = run_asr("transcribe", "--model", tiny_model_dir, intact, "-f", "srt", "-o", tmp_path / "full", "-q", "--batch-size", "1")
    assert full_run.returncode == 0, full_run.stderr
    full = parse_srt((tmp_path / "full" / "meeting.srt").read_text())
    long_file = tmp_path / "meeting.flac"
    long_file.write_bytes(intact.read_bytes()[: int(intact.stat().st_size * 0.7)])  # cut off: fails near the end
    out = tmp_path / "out"
    result = run_asr("transcribe", "--model", tiny_model_dir, long_file, "-f", "srt", "-o", out, "-q", "--batch-size", "1")
    assert result.returncode == 1
    assert "truncated" in result.stderr and "meeting.srt.partial" in result.stderr
    assert not (out / "meeting.srt").exists()
    decodable = float(re.search(r"truncated audio data after ([\d.]+) s", result.stderr)[1])  # type: ignore[index]
    assert 0.6 < decodable / (sum(p.size for p in pieces) / 16000) < 0.8
    kept = parse_srt((out / "meeting.srt.partial").read_text())
    # Everything decoded is kept: the cues reach the damage, not only the windows finished before it.
    assert kept[-1][1] > decodable - 3
    settled = [cue for cue in full if cue[1] < decodable - WINDOW_SECONDS - 2]  # before the last (shorter) window
    assert len(settled) >= 3 and kept[: len(settled)] == settled  # exactly what a complete run wrote there
