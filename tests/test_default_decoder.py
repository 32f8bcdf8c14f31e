"""The model directory's default decoder ("method" in config.json's decoder section, which
`asr lm tune` writes): the API, the CLI and the demo use it when no decoder is asked for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from asr.cli import main
from asr.decoding import DecoderOptions
from asr.demo.analysis import BEAM_LM, GREEDY, default_choice
from asr.demo.app import DemoApp
from asr.errors import ModelError
from asr.lm import build_lm
from asr.transcribe import Recognizer, TranscribeOptions, load_model
from tests.conftest import SPEECH, fixture_texts

CLIP = SPEECH / "espeak_us_cat.flac"


def _model(tiny_model_dir: Path, tmp_path: Path, method: str | None) -> Path:
    """The tiny model with a bigram LM of its sentences and, if given, a default decoder."""
    directory = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(text + "\n" for text in fixture_texts().values()))
    build_lm([corpus], directory / "lm.arpa", order=2, use_kenlm=False)
    config = json.loads((directory / "config.json").read_text())
    config["decoder"] = {"lm": "lm.arpa", "lm_weight": 0.5, "word_score": 0.0, **({"method": method} if method else {})}
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def _methods_used(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the method of every beam decode; greedy transcription never calls decode."""
    used: list[str] = []
    original = Recognizer.decode

    def recording(self: Recognizer, log_probs: object, duration: float, options: DecoderOptions = DecoderOptions()) -> object:
        used.append(options.method)
        return original(self, log_probs, duration, options)  # type: ignore[arg-type]

    monkeypatch.setattr(Recognizer, "decode", recording)
    return used


def test_a_model_that_prefers_beam_search_uses_it_everywhere(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _model(tiny_model_dir, tmp_path, "beam")
    recognizer = load_model(directory)
    default = recognizer.default_decoder()
    assert (default.method, default.lm) == ("beam", str(directory / "lm.arpa"))
    used = _methods_used(monkeypatch)
    assert recognizer.transcribe(CLIP).text == "the cat sat on the mat"
    assert used == ["beam"]
    assert main(["transcribe", str(CLIP), "--model", str(directory)]) == 0
    assert capsys.readouterr().out.strip() == "the cat sat on the mat"
    assert used == ["beam", "beam"]
    # Greedy is one flag (or one option) away.
    assert main(["transcribe", str(CLIP), "--model", str(directory), "--decoder", "greedy"]) == 0
    recognizer.transcribe(CLIP, options=TranscribeOptions())
    assert used == ["beam", "beam"]
    assert default_choice(recognizer) == BEAM_LM
    assert DemoApp(recognizer).default_decoder == BEAM_LM


def test_without_a_stored_method_greedy_is_the_default(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recognizer = load_model(_model(tiny_model_dir, tmp_path, None))
    assert recognizer.default_decoder() == DecoderOptions()
    used = _methods_used(monkeypatch)
    recognizer.transcribe(CLIP)
    assert used == []
    assert default_choice(recognizer) == GREEDY


def test_an_unknown_stored_method_is_a_model_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    # The decoder section is typed like every other section of config.json: checked as it is read.
    with pytest.raises(ModelError, match=r"decoder\.method: 'viterbi'"):
        load_model(_model(tiny_model_dir, tmp_path, "viterbi"))


def test_evaluate_scores_with_the_default_decoder_unless_told(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from asr.evaluate import evaluate
    from tests.conftest import SPEECH_MANIFEST

    recognizer = load_model(_model(tiny_model_dir, tmp_path, "beam"))
    used = _methods_used(monkeypatch)
    monkeypatch.setattr("asr.evaluate.transcribe_manifest_beam", lambda r, entries, decoder: used.append("pool") or [])
    evaluate([SPEECH_MANIFEST], recognizer)
    assert used == ["pool"]  # the model's beam search
    results = evaluate([SPEECH_MANIFEST], recognizer, decoder=DecoderOptions())
    assert used == ["pool"] and results[0].score.wer == 0.0  # asked for greedy: greedy, file by file
