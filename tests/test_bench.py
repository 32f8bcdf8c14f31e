"""asr bench: a table with one well-formed row per system, each run in its own process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asr.audio import audio_duration
from asr.bench import BASELINE, BenchResult, format_bench_table
from asr.cli import main
from asr.peers import OURS, PEERS
from tests.conftest import SPEECH

NUMBER = r"\d+(\.\d+)?"


def test_bench_prints_a_row_per_system(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = SPEECH / "espeak_us_cat.flac"
    missing = tmp_path / "missing.flac"
    assert main(["bench", str(clip), str(missing), "--model", str(tiny_model_dir), "--int8", "--bf16", "--peers", "--threads", "1"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "| system | files | audio s | load s | run s | x realtime | peak RSS MB |"
    assert lines[1] == "|---|---|---|---|---|---|---|"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    ours = [OURS, f"{OURS} int8", f"{OURS} bf16"]
    assert list(rows) == [BASELINE, *ours, *PEERS]
    assert re.fullmatch(rf"\| {re.escape(BASELINE)} \| - \| - \| - \| - \| - \| {NUMBER} \|", rows[BASELINE])
    for system in ours:  # the missing file is reported and left out of the totals
        cells = rows[system].strip("| ").split(" | ")
        assert cells[1:3] == ["1", f"{audio_duration(clip):.1f}"], rows[system]
        assert all(re.fullmatch(NUMBER, cell) for cell in cells[3:]), rows[system]
        assert float(cells[5]) > 0 and float(cells[6]) > 100  # speed; RSS of a process with torch loaded
    assert err.count(f"{missing}: file not found") == 3 + sum("(" not in rows[peer] for peer in PEERS)
    for peer in PEERS:  # a peer either ran on the one readable file or says why it did not
        assert rows[peer].startswith(f"| {peer} | 1 | ") or "not installed" in rows[peer]


def test_table_says_why_a_system_did_not_run() -> None:
    results = [BenchResult(OURS, 2, 60.0, 0.5, 0.25, 700.0), BenchResult("pocketsphinx", 0, 0.0, 0.0, 0.0, 0.0, "pocketsphinx: pocketsphinx is not installed")]
    assert format_bench_table(results).splitlines()[2:] == [
        "| asr | 2 | 60.0 | 0.50 | 0.25 | 240.0 | 700 |",
        "| pocketsphinx | - | - | - | - | - | - |  (pocketsphinx: pocketsphinx is not installed)",
    ]
