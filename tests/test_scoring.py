from __future__ import annotations

import pytest

from asr.scoring import aligned_markup, corpus_score, error_report, get_normalizer, score_utterance


def test_alignment_counts_and_markup() -> None:
    item = score_utterance("the cat sat on the mat", "the hat sat the mat a")
    assert (item.substitutions, item.deletions, item.insertions, item.ref_words) == (1, 1, 1, 6)
    assert aligned_markup(item) == "the (cat->hat) sat (on->*) the mat (*->a)"
    assert item.char_errors == 6


def test_empty_hypothesis_and_reference() -> None:
    assert score_utterance("a b", "").deletions == 2
    empty_ref = score_utterance("", "uh")
    assert (empty_ref.ref_words, empty_ref.insertions) == (0, 1)


def test_corpus_wer_sums_errors_and_bootstraps_an_interval() -> None:
    items = [score_utterance("a b c d", "a b c d")] * 20 + [score_utterance("a b c d", "a x c")] * 5
    score = corpus_score(items)
    assert score.wer == pytest.approx(10 / 100)
    assert (score.substitutions, score.deletions, score.insertions) == (5, 5, 0)
    assert score.wer_low < score.wer < score.wer_high
    assert (score.wer_low, score.wer_high) == pytest.approx((0.02, 0.2), abs=0.021)
    assert corpus_score(items, seed=0) == score  # reproducible
    single = corpus_score(items[:1])
    assert single.wer_low == single.wer_high == 0.0


def test_error_report_lists_frequent_errors() -> None:
    items = [score_utterance("the cat sat", "the hat sat"), score_utterance("a cat", "a hat"), score_utterance("go now", "go")]
    report = error_report(["u1", "u2", "u3"], items, corpus_score(items))
    assert report.startswith("%WER 42.86 [ 3 / 7, 0 ins, 1 del, 2 sub ]")
    assert "u1:\tthe (cat->hat) sat" in report
    assert "2   cat -> hat" in report
    assert "1   now" in report.split("DELETIONS")[1]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("english", "Mr. Smith won't pay $20 for the colour TV.", "mister smith will not pay $20 for the color tv"),
        ("english", "mister smith will not pay twenty dollars for the color tv", "mister smith will not pay $20 for the color tv"),
        ("basic", "Mr. Smith paid $20!", "mr smith paid twenty dollars"),
        ("none", " Keep  Case. ", "Keep Case."),
    ],
)
def test_normalizers(name: str, text: str, expected: str) -> None:
    assert get_normalizer(name)(text) == expected  # type: ignore[arg-type]
