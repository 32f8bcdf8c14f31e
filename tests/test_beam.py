"""Beam search on stored log-probs (tests/fixtures/lm/logits.npz) with the tiny committed ARPA
LM: LM fusion, lexicon, hotwords, n-best, timestamps. Remake the fixtures with
tests/fixtures/make_lm_fixtures.py."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from asr.decoding import DecoderOptions, Decoding, Hotword, parse_hotwords
from asr.errors import ConfigError
from asr.scoring import score_utterance
from asr.tokenizer import CharTokenizer

FIXTURES = Path(__file__).parent / "fixtures" / "lm"
LM = str(FIXTURES / "tiny.arpa")
FRAME_SECONDS = 0.02
BEAM = DecoderOptions(method="beam", beam_size=32)
WITH_LM = replace(BEAM, lm=LM, lm_weight=1.0, word_score=0.0)


@pytest.fixture(scope="module")
def stored() -> tuple[torch.Tensor, str]:
    data = np.load(FIXTURES / "logits.npz")
    return torch.from_numpy(data["log_probs"]), str(data["reference"])


@pytest.fixture(scope="module")
def decoding() -> Decoding:
    return Decoding(CharTokenizer(), FRAME_SECONDS)


def text_of(decoding: Decoding, log_probs: torch.Tensor, options: DecoderOptions) -> str:
    words, _ = decoding.decode(log_probs, options)
    return " ".join(w.text for w in words)


def test_greedy_misreads_the_stored_logits(decoding: Decoding, stored: tuple[torch.Tensor, str]) -> None:
    log_probs, _ = stored
    assert text_of(decoding, log_probs, DecoderOptions()) == "the thorntin family livd in the old hous"


def test_beam_without_lm_agrees_with_greedy_on_peaky_logits(decoding: Decoding, stored: tuple[torch.Tensor, str]) -> None:
    log_probs, _ = stored
    assert text_of(decoding, log_probs, BEAM) == text_of(decoding, log_probs, DecoderOptions())


def test_lm_fusion_repairs_words_the_lm_knows(decoding: Decoding, stored: tuple[torch.Tensor, str]) -> None:
    log_probs, _reference = stored
    fused = text_of(decoding, log_probs, WITH_LM)
    assert fused.endswith("family lived in the old house")
    assert "family livd in the old hous" in text_of(decoding, log_probs, DecoderOptions())
    # The rare name is outside the LM's vocabulary, so without help it is spelled as other words.
    assert "thornton" not in fused.split()


def test_lexicon_search_only_produces_lexicon_words(decoding: Decoding, stored: tuple[torch.Tensor, str]) -> None:
    log_probs, _ = stored
    corpus_words = set((FIXTURES / "corpus.txt").read_text().lower().replace(".", "").split())
    assert set(text_of(decoding, log_probs, WITH_LM).split()) <= corpus_words


@pytest.mark.parametrize("options", [WITH_LM, BEAM], ids=["lexicon-lm", "lexicon-free"])
def test_hotword_recovers_a_rare_word_that_greedy_misses(decoding: Decoding, stored: tuple[torch.Tensor, str], options: DecoderOptions) -> None:
    log_probs, reference = stored
    assert "thornton" not in text_of(decoding, log_probs, options).split()
    boosted = text_of(decoding, log_probs, replace(options, hotwords=(Hotword("Thornton", 5.0),)))
    assert boosted.split()[:3] == ["the", "thornton", "family"]
    if options.lm is not None:
        assert boosted == "the thornton family lived in the old house"
        greedy = text_of(decoding, log_probs, DecoderOptions())
        assert score_utterance(reference, boosted).word_errors == 0 < score_utterance(reference, greedy).word_errors


def test_hotwords_absent_from_the_audio_change_nothing(decoding: Decoding, stored: tuple[torch.Tensor, str]) -> None:
    log_probs, _ = stored
    plain_words, plain_alternatives = decoding.decode(log_probs, BEAM)
    words, alternatives = decoding.decode(log_probs, replace(BEAM, hotwords=(Hotword("elephant", 5.0),)))
    assert [w.text for w in words] == [w.text for w in plain_words]
    assert alternatives[0].score == pytest.approx(plain_alternatives[0].score, abs=1e-3)


@pytest.mark.parametrize("lm_weight", [0.5, 1.0, 2.0])
def test_unboosted_hotword_search_equals_plain_lm_search(decoding: Decoding, stored: tuple[torch.Tensor, str], tmp_path: Path, lm_weight: float) -> None:
    """With a lexicon, a hotword joins the word list; at boost 0 the hotword machinery (a Python
    LM wrapper that applies the LM weight itself) must score exactly like the plain LM search."""
    log_probs, _ = stored
    words = tmp_path / "words.txt"
    words.write_text("elephant\n")
    plain = replace(WITH_LM, lm_weight=lm_weight, lexicon=str(words), nbest=3)
    expected_words, expected = decoding.decode(log_probs, plain)
    got_words, got = decoding.decode(log_probs, replace(plain, hotwords=(Hotword("elephant", 0.0),)))
    assert [w.text for w in got_words] == [w.text for w in expected_words]
    assert [a.text for a in got] == [a.text for a in expected]
    assert [a.score for a in got] == pytest.approx([a.score for a in expected], abs=1e-3)


def test_nbest_lists_distinct_alternatives_best_first(decoding: Decoding, stored: tuple[torch.Tensor, str]) -> None:
    log_probs, _ = stored
    words, alternatives = decoding.decode(log_probs, replace(WITH_LM, nbest=3))
    assert len(alternatives) == 3
    assert len({a.text for a in alternatives}) == 3
    assert [a.score for a in alternatives] == sorted((a.score for a in alternatives), reverse=True)
    assert alternatives[0].text == " ".join(w.text for w in words)


@pytest.mark.parametrize("options", [BEAM, WITH_LM], ids=["beam", "beam-lm"])
def test_beam_words_have_ordered_times_and_confidences(decoding: Decoding, stored: tuple[torch.Tensor, str], options: DecoderOptions) -> None:
    log_probs, _ = stored
    words, _ = decoding.decode(log_probs, options)
    duration = log_probs.shape[0] * FRAME_SECONDS
    assert words
    for word in words:
        assert 0 <= word.start < word.end <= duration
        assert 0.0 <= word.confidence <= 1.0
    assert all(a.end <= b.start for a, b in itertools.pairwise(words))
    # Where the best path is the greedy one (no LM, peaky logits), so are the word times.
    greedy = {w.text: w for w in decoding.decode(log_probs, DecoderOptions())[0]}
    family = next(w for w in words if w.text == "family")
    assert family.start == greedy["family"].start
    assert family.end == pytest.approx(greedy["family"].end, abs=FRAME_SECONDS + 1e-6 if options.lm else 1e-9)


def test_empty_log_probs_decode_to_nothing(decoding: Decoding) -> None:
    assert decoding.decode(torch.zeros(0, 29), WITH_LM) == ([], ())


def test_decoders_are_built_once_per_options(decoding: Decoding, stored: tuple[torch.Tensor, str]) -> None:
    log_probs, _ = stored
    decoding.decode(log_probs, WITH_LM)
    first = decoding._beam_decoders[WITH_LM]
    decoding.decode(log_probs, WITH_LM)
    assert decoding._beam_decoders[WITH_LM] is first


def test_word_list_extends_the_lexicon(decoding: Decoding, stored: tuple[torch.Tensor, str], tmp_path: Path) -> None:
    log_probs, _ = stored
    words = tmp_path / "names.txt"
    words.write_text("Thornton\n")
    text = text_of(decoding, log_probs, replace(WITH_LM, lexicon=str(words), word_score=2.0))
    assert "thornton" in text.split()


def test_missing_lm_and_unspellable_hotwords_are_config_errors(decoding: Decoding, stored: tuple[torch.Tensor, str]) -> None:
    log_probs, _ = stored
    with pytest.raises(ConfigError, match="not found"):
        decoding.decode(log_probs, replace(BEAM, lm="/nonexistent/lm.arpa"))
    with pytest.raises(ConfigError, match="cannot be spelled"):
        decoding.decode(log_probs, replace(BEAM, hotwords=(Hotword("Zoë 中文", 3.0),)))


def test_parse_hotwords(tmp_path: Path) -> None:
    assert parse_hotwords("Thornton:5,Avonlea") == (Hotword("Thornton", 5.0), Hotword("Avonlea"))
    assert parse_hotwords(" new york : 2.5 ") == (Hotword("new york", 2.5),)
    listing = tmp_path / "hot.txt"
    listing.write_text("Thornton:7\n\nGilbert Blythe\n")
    assert parse_hotwords(str(listing)) == (Hotword("Thornton", 7.0), Hotword("Gilbert Blythe"))
    with pytest.raises(ConfigError, match="must be a number"):
        parse_hotwords("Thornton:lots")


def test_invalid_decoder_options_are_refused() -> None:
    with pytest.raises(ConfigError):
        DecoderOptions(method="viterbi")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        DecoderOptions(method="beam", beam_size=4, nbest=5)


def test_caches_stay_bounded_when_every_request_brings_new_hotwords(stored: tuple[torch.Tensor, str]) -> None:
    from asr import beam
    from asr.beam import LEXICON_CACHE_SIZE
    from asr.decoding import DECODER_CACHE_SIZE

    log_probs, _ = stored
    decoding = Decoding(CharTokenizer(), FRAME_SECONDS)
    for index in range(DECODER_CACHE_SIZE + LEXICON_CACHE_SIZE + 3):
        decoding.decode(log_probs, replace(WITH_LM, hotwords=(Hotword("thornton", 5.0), Hotword(f"word{'x' * index}", 1.0))))
        assert len(beam._LEXICON_PARTS) <= LEXICON_CACHE_SIZE
        assert len(decoding._beam_decoders) <= DECODER_CACHE_SIZE
    # The oldest decoder lost its cache entry but still holds its LM: it decodes as before.
    oldest = next(iter(decoding._beam_decoders.values()))
    assert " ".join(w.text for w in oldest.decode(log_probs, FRAME_SECONDS)[0]) == "the thornton family lived in the old house"


def test_a_rewritten_lm_file_is_loaded_afresh(stored: tuple[torch.Tensor, str], tmp_path: Path) -> None:
    log_probs, _ = stored
    lm = tmp_path / "lm.arpa"
    lm.write_bytes((FIXTURES / "tiny.arpa").read_bytes())
    options = replace(WITH_LM, lm=str(lm))
    before = text_of(Decoding(CharTokenizer(), FRAME_SECONDS), log_probs, options)
    from asr.lm import build_lm

    names = tmp_path / "names.txt"
    names.write_text("the thornton family lived in the old house\n" * 3)
    build_lm([FIXTURES / "corpus.txt", names], lm, order=3, use_kenlm=False)
    after = text_of(Decoding(CharTokenizer(), FRAME_SECONDS), log_probs, options)
    assert "thornton" not in before.split()
    assert after == "the thornton family lived in the old house"
