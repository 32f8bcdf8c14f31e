"""Word and character error rates, their confidence intervals, and icefall-style error reports.

Pure functions over (reference, hypothesis) strings; asr/evaluate.py runs a model to get them."""

from __future__ import annotations

import typing
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import jiwer
import numpy as np

from asr.tokenizer import normalize_text

NormalizerName = Literal["english", "basic", "none"]
NORMALIZERS: tuple[NormalizerName, ...] = typing.get_args(NormalizerName)
BOOTSTRAP_SAMPLES = 1000


def get_normalizer(name: NormalizerName) -> Callable[[str], str]:
    """english: Whisper's English normalizer (numbers, contractions, British/American spelling);
    basic: the training-target normalization (lower case, numbers spelled out, no punctuation);
    none: only whitespace is collapsed."""
    if name == "english":
        from whisper_normalizer.english import EnglishTextNormalizer

        english = EnglishTextNormalizer()
        return lambda text: " ".join(english(text).split())
    if name == "basic":
        return normalize_text
    if name == "none":
        return lambda text: " ".join(text.split())
    raise ValueError(f"unknown normalizer {name!r}")


@dataclass(frozen=True)
class UtteranceErrors:
    reference: str  # normalized
    hypothesis: str  # normalized
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int
    ref_chars: int
    char_errors: int
    alignment: tuple[tuple[str, str | None, str | None], ...]  # (op, ref word, hyp word), op in = s d i

    @property
    def word_errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


def score_utterance(reference: str, hypothesis: str) -> UtteranceErrors:
    """Align one normalized pair word by word (jiwer's Levenshtein alignment)."""
    ref_words, hyp_words = reference.split(), hypothesis.split()
    if not ref_words:
        ops = tuple(("i", None, w) for w in hyp_words)
        return UtteranceErrors(reference, hypothesis, 0, 0, 0, len(hyp_words), 0, len(hypothesis), ops)
    out = jiwer.process_words(reference, hypothesis if hyp_words else "")
    ops_list: list[tuple[str, str | None, str | None]] = []
    for chunk in out.alignments[0]:
        refs = ref_words[chunk.ref_start_idx : chunk.ref_end_idx]
        hyps = hyp_words[chunk.hyp_start_idx : chunk.hyp_end_idx]
        if chunk.type == "equal":
            ops_list += [("=", r, h) for r, h in zip(refs, hyps, strict=True)]
        elif chunk.type == "substitute":
            ops_list += [("s", r, h) for r, h in zip(refs, hyps, strict=True)]
        elif chunk.type == "delete":
            ops_list += [("d", r, None) for r in refs]
        else:
            ops_list += [("i", None, h) for h in hyps]
    chars = jiwer.process_characters(reference, hypothesis if hypothesis else "")
    char_errors = chars.substitutions + chars.deletions + chars.insertions
    return UtteranceErrors(
        reference, hypothesis, len(ref_words), out.substitutions, out.deletions, out.insertions, len(reference), char_errors, tuple(ops_list)
    )


@dataclass(frozen=True)
class CorpusScore:
    utterances: int
    ref_words: int
    substitutions: int
    deletions: int
    insertions: int
    wer: float
    cer: float
    wer_low: float  # bootstrap 95% confidence interval over utterances
    wer_high: float


def corpus_score(items: Sequence[UtteranceErrors], seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> CorpusScore:
    """Corpus WER/CER (errors summed over utterances, divided by reference words/characters),
    with a 95% interval from resampling utterances with replacement."""
    errors = np.array([u.word_errors for u in items], dtype=np.float64)
    words = np.array([u.ref_words for u in items], dtype=np.float64)
    total_words = max(words.sum(), 1.0)
    wer = float(errors.sum() / total_words)
    low = high = wer
    if len(items) > 1 and samples > 0:  # samples=0: no interval (e.g. while tuning)
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(items), size=(samples, len(items)))
        resampled = errors[picks].sum(axis=1) / np.maximum(words[picks].sum(axis=1), 1.0)
        low, high = (float(v) for v in np.percentile(resampled, [2.5, 97.5]))
    return CorpusScore(
        utterances=len(items),
        ref_words=int(words.sum()),
        substitutions=sum(u.substitutions for u in items),
        deletions=sum(u.deletions for u in items),
        insertions=sum(u.insertions for u in items),
        wer=wer,
        cer=sum(u.char_errors for u in items) / max(sum(u.ref_chars for u in items), 1),
        wer_low=low,
        wer_high=high,
    )


def aligned_markup(item: UtteranceErrors) -> str:
    """'the (cat->hat) sat (on->*) (*->a) mat', as in icefall's errs-*.txt."""
    parts = []
    for op, ref, hyp in item.alignment:
        if op == "=":
            parts.append(str(ref))
        else:
            parts.append(f"({ref or '*'}->{hyp or '*'})")
    return " ".join(parts)


def error_report(names: Sequence[str], items: Sequence[UtteranceErrors], score: CorpusScore, top: int = 30) -> str:
    """Per-utterance aligned markup, then the most frequent substitutions, deletions, insertions."""
    subs: Counter[str] = Counter()
    dels: Counter[str] = Counter()
    ins: Counter[str] = Counter()
    for item in items:
        for op, ref, hyp in item.alignment:
            if op == "s":
                subs[f"{ref} -> {hyp}"] += 1
            elif op == "d":
                dels[str(ref)] += 1
            elif op == "i":
                ins[str(hyp)] += 1
    lines = [
        f"%WER {100 * score.wer:.2f} [ {score.substitutions + score.deletions + score.insertions} / {score.ref_words}, "
        f"{score.insertions} ins, {score.deletions} del, {score.substitutions} sub ]",
        f"%CER {100 * score.cer:.2f}",
        "",
        "PER-UTTERANCE DETAILS: correct (ref->hyp)",
    ]
    lines += [f"{name}:\t{aligned_markup(item)}" for name, item in zip(names, items, strict=True)]
    for title, counter in (("SUBSTITUTIONS: count ref -> hyp", subs), ("DELETIONS: count ref", dels), ("INSERTIONS: count hyp", ins)):
        lines += ["", title]
        lines += [f"{count}   {what}" for what, count in counter.most_common(top)]
    return "\n".join(lines) + "\n"
