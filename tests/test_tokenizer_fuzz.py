"""Property tests for text normalization and number spelling: any Unicode text, no crash, and
normalizing twice changes nothing."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from asr.numbers import cardinal, ordinal, spell_numbers, year
from asr.tokenizer import CharTokenizer, normalize_text

FUZZ = settings(max_examples=300, deadline=None, database=None)

# Text with many digits, currency signs and separators, plus anything Unicode has.
NUMBERISH = st.text(st.sampled_from(list("0123456789,.$£€%stndrh -")) | st.characters(), max_size=60)

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
_SMALL = {w: i for i, w in enumerate(_ONES.split())}
_TENS = {w: 10 * i for i, w in enumerate(["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]) if w != "_"}
_SCALES = {"trillion": 10**12, "billion": 10**9, "million": 10**6, "thousand": 1000}


def words_to_number(words: list[str]) -> int:
    """Reads back what cardinal() writes: the last (largest-first) scale word splits the rest."""
    if words[:1] == ["minus"]:
        return -words_to_number(words[1:])
    for scale, value in _SCALES.items():
        if scale in words:
            cut = len(words) - 1 - words[::-1].index(scale)
            return words_to_number(words[:cut]) * value + (words_to_number(words[cut + 1 :]) if words[cut + 1 :] else 0)
    total = 0
    for word in words:
        if word == "hundred":
            total *= 100
        else:
            total += _SMALL[word] if word in _SMALL else _TENS[word]
    return total


@FUZZ
@given(st.integers(min_value=-(10**40), max_value=10**40))
def test_cardinal_reads_back_as_the_same_number(n: int) -> None:
    words = cardinal(n).split()
    assert words_to_number(words) == n
    assert all(w.isalpha() and w.islower() for w in words)


@FUZZ
@given(st.integers(min_value=0, max_value=10**15))
def test_ordinals_and_years_are_words(n: int) -> None:
    assert re.fullmatch(r"[a-z]+( [a-z]+)*", ordinal(n))
    if 1100 <= n <= 1999:
        assert re.fullmatch(r"[a-z]+( [a-z]+)*", year(n))


@FUZZ
@given(NUMBERISH)
@example("1" * 5000)  # more digits than int() converts by default
@example("٣٤ ¹²")  # Arabic-Indic digits, superscripts
def test_spell_numbers_leaves_no_digits(text: str) -> None:
    spoken = spell_numbers(text)
    assert not re.search(r"\d", spoken)


@FUZZ
@given(st.text(max_size=80) | NUMBERISH)
@example("ẞ")  # capital sharp s lower-cases to ß, which is replaced by ss
@example("Ǆ ǅ ﬀ ℌ ¼")
@example("1" * 5000)
def test_normalize_text_is_total_and_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert once == once.strip() and "  " not in once
    assert all(ch in " '" or unicodedata.category(ch)[0] in "LN" for ch in once)
    assert not re.search(r"\d", once)


@FUZZ
@given(st.text(max_size=80))
def test_encode_gives_alphabet_ids_without_edge_or_double_spaces(text: str) -> None:
    tokenizer = CharTokenizer()
    ids = tokenizer.encode(text)
    assert all(1 <= i < tokenizer.vocab_size for i in ids)
    decoded = tokenizer.decode(ids)
    assert decoded == decoded.strip() and "  " not in decoded
    assert tokenizer.encode(decoded) == ids
