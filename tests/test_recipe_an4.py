"""CMU AN4: `asr prepare an4` on the layout CMU distributes, and recipes/an4/run.sh end to end
on the few original files in ../shared/data/an4/original-sample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.cli import main
from asr.evaluate import evaluate
from asr.transcribe import load_model
from tests.conftest import ROOT, SHARED_DATA, requires_shared


def _an4_tree(root: Path) -> Path:
    """Two training files and one test file in AN4's layout (NIST SPHERE audio)."""
    rows = {"train": [("an4_clstk/fabc/an1-fabc-b", "<s> YES </s>"), ("an4_clstk/mdef/cen1-mdef-b", "<s> H I N I C H </s>")]}
    rows["test"] = [("an4test_clstk/fghi/an406-fghi-b", "<s> ENTER FIVE TWO </s>")]
    (root / "etc").mkdir(parents=True)
    for part, items in rows.items():
        (root / "etc" / f"an4_{part}.fileids").write_text("".join(f"{fileid}\n" for fileid, _ in items))
        (root / "etc" / f"an4_{part}.transcription").write_text("".join(f"{text} ({Path(fileid).name})\n" for fileid, text in items))
        for fileid, _ in items:
            path = root / "wav" / f"{fileid}.sph"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, 0.1 * np.sin(np.arange(8000) / 5.0), 16000, format="NIST", subtype="PCM_16")
    return root


def test_prepare_an4_reads_both_parts_with_speakers(tmp_path: Path) -> None:
    an4 = _an4_tree(tmp_path / "an4")
    assert main(["prepare", "an4", str(an4), "-o", str(tmp_path / "an4.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "an4.jsonl").read_text().splitlines()]
    assert [(r["text"], r["speaker"], r["part"], r["duration"]) for r in rows] == [
        ("YES", "fabc", "train", 0.5),
        ("H I N I C H", "mdef", "train", 0.5),
        ("ENTER FIVE TWO", "fghi", "test", 0.5),
    ]


def test_prepare_an4_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    an4 = _an4_tree(tmp_path / "an4")
    (an4 / "etc" / "an4_train.transcription").write_text("<s> YES </s> (an1-fabc-b)\n<s> NO </s> (an9-fxyz-b)\n<s> </s> (cen1-mdef-b)\n")
    (an4 / "etc" / "an4_test.fileids").unlink()
    assert main(["prepare", "an4", str(an4), "-o", str(tmp_path / "an4.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "an4_train.transcription:2: no file id" in err and "an4_train.transcription:3: empty transcript for cen1-mdef-b" in err
    assert "an4_test.fileids: not found" in err
    assert main(["prepare", "an4", str(tmp_path), "-o", str(tmp_path / "none.jsonl")]) == 1  # no etc/ at all


@requires_shared
def test_recipe_runs_end_to_end_on_the_original_sample(tmp_path: Path) -> None:
    """Every stage on 3 speakers' original SPHERE files, with a tiny network and 2 epochs."""
    sample = SHARED_DATA / "an4" / "original-sample" / "an4"
    tiny = ["epochs=2", "model.lstm_layers=1", "model.hidden_size=32", "model.conv_channels=4", "data.num_workers=0", "threads=1", "keep_epoch_models=2"]
    work = tmp_path / "work"
    result = subprocess.run(
        ["bash", str(ROOT / "recipes" / "an4" / "run.sh"), "--an4", str(sample), "--work", str(work), *tiny],
        capture_output=True,
        text=True,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    speakers = {name: {json.loads(line)["speaker"] for line in (work / "data" / f"{name}.jsonl").read_text().splitlines()} for name in ("train", "dev")}
    assert speakers == {"train": {"fbbh", "mblb"}, "dev": {"fash"}}  # every 7th speaker in sorted order: the first
    assert (work / "exp_scratch" / "last" / "model.safetensors").is_file()  # stage 2, from scratch
    restart = json.loads((work / "exp" / "last" / "config.json").read_text())
    assert restart["provenance"]["train_config"]["init_from"] == str(work / "exp_scratch" / "last")  # stage 3 restarts from it
    assert (work / "exp" / "average" / "model.safetensors").is_file()
    assert (work / "lm" / "an4_train_3g.arpa").is_file()
    assert (work / "eval" / "greedy").is_dir() and (work / "eval" / "beam_lm").is_dir()
    model = json.loads((work / "model" / "config.json").read_text())
    assert (work / "model" / model["decoder"]["lm"]).is_file()
    assert main(["evaluate", "--model", str(work / "model"), "--normalizer", "basic", str(work / "data" / "dev.jsonl")]) == 0


@requires_shared
def test_the_committed_model_scores_held_out_speakers(tmp_path: Path) -> None:
    """recipes/an4/model (fp16 + LM, beam by default) on the recipe's dev split (split.py: 138
    utterances of 11 unseen speakers): 8.93% WER when committed (69 errors). The bound is the
    issue's aim, 9.5% (73 errors): room for float differences between thread counts (even int8
    weights give 9.18%), not for a worse model."""
    split = [sys.executable, str(ROOT / "recipes" / "an4" / "split.py"), str(SHARED_DATA / "an4" / "train.jsonl"), "--out", str(tmp_path)]
    subprocess.run(split, check=True, capture_output=True)
    [result] = evaluate([tmp_path / "dev.jsonl"], load_model(ROOT / "recipes" / "an4" / "model"), normalizer="basic")
    assert result.score.utterances == 138 and result.score.wer <= 0.095
