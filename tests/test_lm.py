"""n-gram LM estimation (modified Kneser-Ney, checked against KenLM's lmplz when installed),
ARPA writing and reading, and `asr lm build`."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from asr.cli import main
from asr.errors import ConfigError
from asr.lm import BOS, EOS, UNK, NgramModel, build_lm, count_ngrams, estimate_kneser_ney, read_lm_vocabulary, vocabulary_path, write_arpa

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away", "and", "then", "it", "was", "over"]


def random_sentences(count: int = 300, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(WORDS) for _ in range(rng.randint(1, 9))] for _ in range(count)]


def read_arpa(path: Path) -> dict[tuple[int, str], tuple[float, float]]:
    """(order, n-gram text) -> (log10 prob, log10 backoff)."""
    entries = {}
    order = 0
    for line in path.read_text().splitlines():
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1])
        elif order and line and not line.startswith("\\"):
            fields = line.split("\t")
            entries[(order, fields[1])] = (float(fields[0]), float(fields[2]) if len(fields) > 2 else 0.0)
    return entries


def max_normalization_error(model: NgramModel) -> float:
    vocab = [g[0] for g in model.logprob[0] if g[0] != BOS]
    contexts = [(), *(g for n in range(1, model.order) for g in model.logprob[n - 1] if g[-1] != EOS)]
    return max(abs(sum(10 ** model.conditional(context, w) for w in vocab) - 1.0) for context in contexts)


@pytest.mark.parametrize(("order", "prune"), [(1, None), (2, None), (3, None), (3, [0, 1, 1]), (4, [0, 0, 1, 2])])
def test_every_context_is_a_probability_distribution(order: int, prune: list[int] | None) -> None:
    model = estimate_kneser_ney(count_ngrams(random_sentences(), order), prune)
    assert max_normalization_error(model) < 1e-9


def test_pruning_drops_rare_ngrams_but_keeps_needed_contexts() -> None:
    counts = count_ngrams(random_sentences(), 3)
    full = estimate_kneser_ney(counts)
    pruned = estimate_kneser_ney(counts, [0, 1, 1])
    assert len(pruned.logprob[2]) < len(full.logprob[2])
    assert all(counts[2][g] > 1 for g in pruned.logprob[2])
    for gram in pruned.logprob[2]:
        assert gram[:-1] in pruned.logprob[1] or gram[:-1] == (BOS,)
        assert gram[1:] in pruned.logprob[1]


def test_unknown_words_get_the_unk_probability() -> None:
    model = estimate_kneser_ney(count_ngrams(random_sentences(), 2))
    assert model.conditional(("the",), "zebra") == model.conditional(("the",), UNK)
    assert model.conditional((), UNK) < model.conditional((), "the")


def test_seen_continuations_are_likelier_than_unseen(tmp_path: Path) -> None:
    sentences = [["the", "cat", "sat"]] * 20 + [["the", "dog", "ran"]] * 20 + [["a", "cat", "ran"]]
    model = estimate_kneser_ney(count_ngrams(sentences, 3))
    assert model.score(["the", "cat", "sat"]) > model.score(["the", "cat", "ran"]) > model.score(["sat", "the", "the"])


@pytest.mark.skipif(shutil.which("lmplz") is None, reason="KenLM's lmplz is not installed (bash recipes/lm/install_kenlm.sh)")
def test_builtin_estimator_matches_lmplz(tmp_path: Path) -> None:
    text = tmp_path / "corpus.txt"
    text.write_text("".join(" ".join(s) + "\n" for s in random_sentences(2000, seed=1)))
    ours = read_arpa(build_lm([text], tmp_path / "ours.arpa", order=3, use_kenlm=False).path)
    kenlm = read_arpa(build_lm([text], tmp_path / "kenlm.arpa", order=3, use_kenlm=True).path)
    assert set(ours) == set(kenlm)
    for key, (logprob, backoff) in ours.items():
        if key != (1, BOS):  # <s> is only a context; its "probability" is a placeholder
            assert logprob == pytest.approx(kenlm[key][0], abs=1e-5), key
        assert backoff == pytest.approx(kenlm[key][1], abs=1e-5), key


def test_arpa_round_trip_and_vocabulary(tmp_path: Path) -> None:
    model = estimate_kneser_ney(count_ngrams(random_sentences(), 3))
    path = write_arpa(model, tmp_path / "lm.arpa")
    entries = read_arpa(path)
    assert len(entries) == sum(len(t) for t in model.logprob)
    for (order, text), (logprob, _) in entries.items():
        assert logprob == pytest.approx(model.logprob[order - 1][tuple(text.split())], abs=1e-6)
    assert sorted(read_lm_vocabulary(path)) == sorted(set(WORDS))


def test_binary_lm_needs_its_word_list(tmp_path: Path) -> None:
    binary = tmp_path / "lm.bin"
    binary.write_bytes(b"mmap lm binary")
    with pytest.raises(ConfigError, match=r"lm\.vocab"):
        read_lm_vocabulary(binary)
    vocabulary_path(binary).write_text("<s>\nhello\nworld\n</s>\n")
    assert read_lm_vocabulary(binary) == ["hello", "world"]


def test_build_normalizes_text_like_training_targets(tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("Chapter 12: THE Cat's hat!\n\n  the cat sat.\n")
    built = build_lm([text], tmp_path / "lm.arpa", order=2, use_kenlm=False)
    assert sorted(read_lm_vocabulary(built.path)) == ["cat", "cat's", "chapter", "hat", "sat", "the", "twelve"]
    assert built.ngrams[0] == 7 + 3  # + <s>, </s>, <unk>
    assert vocabulary_path(built.path).read_text().split() == read_lm_vocabulary(built.path)


def test_build_refuses_bad_requests(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n!!!\n")
    with pytest.raises(ConfigError, match="no usable sentences"):
        build_lm([empty], tmp_path / "lm.arpa")
    with pytest.raises(ConfigError, match="cannot read"):
        build_lm([tmp_path / "missing.txt"], tmp_path / "lm.arpa")
    with pytest.raises(ConfigError, match="order"):
        build_lm([empty], tmp_path / "lm.arpa", order=9)


def test_cli_lm_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "text.txt"
    text.write_text("".join(" ".join(s) + "\n" for s in random_sentences()))
    assert main(["lm", "build", str(text), "-o", str(tmp_path / "lm.arpa"), "--order", "2", "--builtin"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'lm.arpa'}: {len(set(WORDS))} words; 1-grams {len(set(WORDS)) + 3}" in out
    assert "built with asr" in out
    assert main(["lm", "build", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "x.arpa")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_held_out_transcripts_are_left_out_of_the_lm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat\nTHE ZEBRA ATE 2 APPLES\nthe dog sat on the rug\n")
    dev = tmp_path / "dev.jsonl"
    dev.write_text('{"audio_filepath": "none.flac", "duration": 2.0, "text": "The zebra ate two apples."}\n')
    assert main(["lm", "build", str(text), "-o", str(tmp_path / "lm.arpa"), "--order", "2", "--builtin", "--exclude", str(dev)]) == 0
    assert "1 held-out lines left out" in capsys.readouterr().out
    vocabulary = read_lm_vocabulary(tmp_path / "lm.arpa")
    assert "zebra" not in vocabulary and "apples" not in vocabulary and "cat" in vocabulary
    kept = build_lm([text], tmp_path / "all.arpa", order=2, use_kenlm=False)
    assert kept.excluded == 0 and "zebra" in read_lm_vocabulary(kept.path)


@pytest.mark.skipif(shutil.which("build_binary") is None, reason="KenLM's build_binary is not installed (bash recipes/lm/install_kenlm.sh)")
def test_binary_lm_decodes_like_its_arpa(tmp_path: Path) -> None:
    import numpy as np
    import torch

    from asr.decoding import DecoderOptions, Decoding
    from asr.tokenizer import CharTokenizer

    fixtures = Path(__file__).parent / "fixtures" / "lm"
    binary = build_lm([fixtures / "corpus.txt"], tmp_path / "lm.bin", order=3, use_kenlm=False)
    assert binary.path.suffix == ".bin" and not (tmp_path / "lm.arpa").exists()
    assert sorted(read_lm_vocabulary(binary.path)) == sorted(read_lm_vocabulary(fixtures / "tiny.arpa"))
    log_probs = torch.from_numpy(np.load(fixtures / "logits.npz")["log_probs"])
    decoding = Decoding(CharTokenizer(), 0.02)
    texts = []
    for lm in (binary.path, fixtures / "tiny.arpa"):
        words, alternatives = decoding.decode(log_probs, DecoderOptions(method="beam", lm=str(lm), lm_weight=1.0))
        texts.append((" ".join(w.text for w in words), round(alternatives[0].score, 2)))
    assert texts[0] == texts[1]


def test_binary_output_without_build_binary_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = tmp_path / "text.txt"
    text.write_text("the cat sat\n")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match=r"build_binary.*install_kenlm\.sh"):
        build_lm([text], tmp_path / "lm.bin")
    assert not (tmp_path / "lm.bin").exists()
