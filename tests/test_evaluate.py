from __future__ import annotations

import json
from pathlib import Path

import pytest

import asr
from asr.evaluate import evaluate, format_table, output_names
from tests.conftest import SPEECH, SPEECH_MANIFEST, fixture_texts


def test_model_evaluation_writes_per_utterance_rows(tiny_model_dir: Path, tmp_path: Path) -> None:
    (result,) = evaluate([SPEECH_MANIFEST], asr.load_model(tiny_model_dir), output_dir=tmp_path)
    assert result.score.wer == 0.0
    assert result.speed is not None and result.speed > 1
    rows = [json.loads(line) for line in (tmp_path / "manifest.utterances.jsonl").read_text().splitlines()]
    assert [r["hypothesis"] for r in rows] == list(fixture_texts().values())
    assert all(r["decode_seconds"] > 0 and r["error"] is None for r in rows)


def test_external_hypotheses_in_jsonl_and_tsv(tmp_path: Path) -> None:
    texts = fixture_texts()
    wrong = dict(texts)
    wrong["espeak_us_cat.flac"] = "the cat sat on a mat mat"  # 1 substitution + 1 insertion
    jsonl = tmp_path / "hyp.jsonl"
    jsonl.write_text("".join(json.dumps({"audio_filepath": str(SPEECH / k), "text": v}) + "\n" for k, v in wrong.items()))
    tsv = tmp_path / "hyp.tsv"
    tsv.write_text("".join(f"{Path(k).stem}\t{v}\n" for k, v in list(wrong.items())[1:]))  # the cat clip is missing
    by_jsonl, by_tsv = evaluate([SPEECH_MANIFEST, SPEECH_MANIFEST], None, [jsonl, tsv], output_dir=tmp_path / "out")
    assert (by_jsonl.score.substitutions, by_jsonl.score.insertions, by_jsonl.score.ref_words) == (1, 1, 22)
    assert by_jsonl.speed is None
    assert by_tsv.score.deletions == 6  # no hypothesis: all six words of the cat clip are deletions
    table = format_table([by_jsonl, by_tsv])
    assert "| 9.09 |" in table and "| 27.27 |" in table
    rows = [json.loads(line) for line in (tmp_path / "out" / "speech-manifest.utterances.jsonl").read_text().splitlines()]
    assert rows[0]["error"] is None
    assert sorted((tmp_path / "out").iterdir())[0].name.startswith("errs-")


def test_output_names_are_unique() -> None:
    assert output_names(["a/dev.jsonl", "b/dev.jsonl", "c/test.jsonl"]) == ["a-dev", "b-dev", "test"]
    assert output_names(["s/m.jsonl", "s/m.jsonl"]) == ["s-m", "s-m-2"]


def test_hypothesis_count_must_match() -> None:
    with pytest.raises(ValueError, match="one per manifest"):
        evaluate([SPEECH_MANIFEST], None, [SPEECH_MANIFEST, SPEECH_MANIFEST])


def test_manifest_rows_need_no_duration_for_evaluation(tiny_model_dir: Path, tmp_path: Path) -> None:
    from asr.errors import ManifestError
    from asr.manifests import read_manifest

    manifest = tmp_path / "plain.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": str(SPEECH / name), "text": text}) + "\n" for name, text in fixture_texts().items()))
    with pytest.raises(ManifestError, match="duration"):
        read_manifest(manifest)  # training needs durations
    (result,) = evaluate([manifest], asr.load_model(tiny_model_dir))
    assert result.score.wer == 0.0
    expected = sum(json.loads(line)["duration"] for line in SPEECH_MANIFEST.read_text().splitlines())
    assert result.audio_seconds == pytest.approx(expected, abs=0.05)  # measured from the audio
    (scored,) = evaluate([manifest], None, [SPEECH_MANIFEST])  # hypotheses from elsewhere: durations from the headers
    assert scored.audio_seconds == pytest.approx(expected, abs=0.01)
    manifest.write_text(json.dumps({"audio_filepath": "x.wav", "text": "x", "duration": -1}) + "\n")
    with pytest.raises(ManifestError, match="invalid 'duration' -1"):
        evaluate([manifest], None, [SPEECH_MANIFEST])  # a wrong duration is still an error


def test_failures_are_counted_per_manifest(tmp_path: Path) -> None:
    tsv = tmp_path / "hyp.tsv"
    tsv.write_text("".join(f"{Path(k).stem}\t{v}\n" for k, v in list(fixture_texts().items())[1:]))
    (result,) = evaluate([SPEECH_MANIFEST], None, [tsv])
    assert result.failures == (f"{SPEECH / 'espeak_us_cat.flac'}: no hypothesis in {tsv}",)
