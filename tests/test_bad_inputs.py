"""`asr transcribe` over a corpus of broken and awkward inputs (tests/fixtures/bad_inputs.py), in
one process as a user would run it: one clear line per bad file, every good file transcribed,
nothing written before lost, exit status 1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SPEECH, fixture_texts
from tests.fixtures.bad_inputs import InputCase, make_bad_inputs

CLIP = "espeak_us_cat.flac"
# Good clips around the corpus: the batch must go on after failures and transcribe the last one.
BEFORE = ("espeak_gb_ship.flac", "flite_slt_bread.flac")
AFTER = ("flite_kal_rain.flac",)
# Root reads any file whatever its mode. Without these two capabilities it obeys the mode bits
# like everyone else, so the unreadable file fails for root too.
DROP_READ_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


def _unprivileged_prefix(probe: Path) -> list[str] | None:
    """A command prefix under which `probe` (mode 000) cannot be read, or None if there is none."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    check = subprocess.run([*DROP_READ_OVERRIDE, "cat", str(probe)], capture_output=True)
    return DROP_READ_OVERRIDE if check.returncode != 0 else None


@dataclass(frozen=True)
class CorpusRun:
    cases: list[InputCase]  # what was run (the unreadable file only where it can fail)
    out: Path
    result: subprocess.CompletedProcess[bytes]
    stdout: str
    stderr: str
    earlier_output: Path  # written before the run, for a file that fails in it
    unrelated_output: Path  # written before the run, for a file not in it


@pytest.fixture(scope="module")
def corpus_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    folder = tmp_path_factory.mktemp("bad_inputs")
    cases = make_bad_inputs(folder, SPEECH / CLIP, fixture_texts()[CLIP])
    prefix = _unprivileged_prefix(next(c.path for c in cases if c.kind == "no read permission"))
    if prefix is None:  # covered in-process by tests/test_audio.py::test_permission_denied_is_reported
        cases = [c for c in cases if c.kind != "no read permission"]
    out = tmp_path_factory.mktemp("out")
    earlier_output = out / "nan.txt"
    earlier_output.write_text("an earlier transcript of nan.wav\n")
    unrelated_output = out / "older_meeting.txt"
    unrelated_output.write_text("kept\n")
    inputs = [SPEECH / n for n in BEFORE] + [c.path for c in cases] + [SPEECH / n for n in AFTER]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}  # strict stdout: the one that trips on odd names
    command = [*(prefix or []), sys.executable, "-m", "asr", "transcribe", "--model", str(tiny_model_dir), "-o", str(out), "-f", "txt", *map(str, inputs)]
    result = subprocess.run(command, capture_output=True, timeout=900, env=env)
    stdout = result.stdout.decode("utf-8")
    stderr = result.stderr.decode("utf-8")
    return CorpusRun(cases, out, result, stdout, stderr, earlier_output, unrelated_output)


def _error_lines(run: CorpusRun) -> list[str]:
    # tqdm redraws its bars with carriage returns; messages themselves are whole lines.
    return [line for line in run.stderr.replace("\r", "\n").splitlines() if line.startswith("error: ")]


def test_corpus_covers_at_least_25_kinds(tmp_path: Path) -> None:
    cases = make_bad_inputs(tmp_path, SPEECH / CLIP, "x", long_audio=False)
    assert len({c.kind for c in cases}) >= 25
    assert len({c.output_stem for c in cases}) == len(cases)  # outputs never overwrite each other


def test_exit_status_and_summary(corpus_run: CorpusRun) -> None:
    bad = [c for c in corpus_run.cases if c.expected_error]
    assert corpus_run.result.returncode == 1, corpus_run.stderr
    total = len(corpus_run.cases) + len(BEFORE) + len(AFTER)
    assert f"{len(bad)} of {total} file(s) failed" in corpus_run.stderr
    assert "Traceback" not in corpus_run.stderr


def test_one_line_per_bad_file_naming_file_and_problem(corpus_run: CorpusRun) -> None:
    errors = _error_lines(corpus_run)
    bad = [c for c in corpus_run.cases if c.expected_error]
    assert len(errors) == len(bad), "\n".join(errors)
    for case in bad:
        lines = [line for line in errors if line.startswith(f"error: {case.path}: ")]
        assert len(lines) == 1, (case.kind, errors)
        assert case.expected_error in lines[0], (case.kind, lines[0])
        assert "\n" not in lines[0]


def test_every_good_file_is_transcribed(corpus_run: CorpusRun) -> None:
    texts = fixture_texts()
    for name in (*BEFORE, *AFTER):
        assert (corpus_run.out / f"{Path(name).stem}.txt").read_text() == texts[name] + "\n"
    for case in corpus_run.cases:
        output = corpus_run.out / f"{case.output_stem}.txt"
        if case.expected_error:
            continue
        assert output.exists(), case.kind
        if case.text is not None:  # byte-for-byte copies of a fixture clip
            assert output.read_text() == case.text + "\n", case.kind
        if "digital silence" in case.kind:  # never reaches the model
            assert output.read_text() == "", case.kind


def test_outputs_written_before_stay_intact(corpus_run: CorpusRun) -> None:
    assert corpus_run.earlier_output.read_text() == "an earlier transcript of nan.wav\n"
    assert corpus_run.unrelated_output.read_text() == "kept\n"
    failed_stems = {c.output_stem for c in corpus_run.cases if c.expected_error} - {"nan"}
    assert not any((corpus_run.out / f"{stem}.txt").exists() for stem in failed_stems)
    assert not [p.name for p in corpus_run.out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_stdout_names_files_whatever_their_encoding(corpus_run: CorpusRun) -> None:
    lines = corpus_run.stdout.splitlines()
    assert "\\udce9_latin1.flac: the cat sat on the mat" in corpus_run.stdout  # not valid UTF-8: escaped
    assert f"{SPEECH / AFTER[0]}: heavy rain fell all night" in lines
    unicode_case = next(c for c in corpus_run.cases if c.kind == "Unicode path")
    assert f"{unicode_case.path}: the cat sat on the mat" in lines


def test_verbose_adds_tracebacks(tiny_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("not audio")
    good = SPEECH / AFTER[0]
    args = [sys.executable, "-m", "asr", "transcribe", "--model", str(tiny_model_dir), "-o", str(tmp_path / "out")]
    files = [str(tmp_path / "notes.wav"), str(tmp_path / "gone.wav"), str(good)]
    quiet = subprocess.run([*args, *files], capture_output=True, text=True, timeout=600)
    verbose = subprocess.run([*args, "--verbose", *files], capture_output=True, text=True, timeout=600)
    for result in (quiet, verbose):
        assert result.returncode == 1
        assert f"error: {tmp_path / 'notes.wav'}: not a readable audio file" in result.stderr
        assert f"error: {tmp_path / 'gone.wav'}: file not found" in result.stderr
    assert "Traceback" not in quiet.stderr
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "asr.errors.AudioError" in verbose.stderr
    assert (tmp_path / "out" / "flite_kal_rain.txt").read_text() == "heavy rain fell all night\n"
