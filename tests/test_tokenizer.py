from __future__ import annotations

import pytest

from asr.numbers import cardinal, ordinal, spell_numbers, year
from asr.tokenizer import CharTokenizer, normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Printing, in the only sense", "printing in the only sense"),
        ("Don't STOP—believing!", "don't stop believing"),
        ("‘Quoted’ and “double” 'single'", "quoted and double single"),
        ("Café naïve façade Ångström", "cafe naive facade angstrom"),
        ("In 1850 it cost $5, a 10% rise.", "in eighteen fifty it cost five dollars a ten percent rise"),
        ("the 21st of 2,000,000 at 3.5", "the twenty first of two million at three point five"),
        ("rock & roll", "rock and roll"),
        ("  spaced\tout\n ", "spaced out"),
        ("", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_numbers() -> None:
    assert cardinal(0) == "zero"
    assert cardinal(115) == "one hundred fifteen"
    assert cardinal(1_000_001) == "one million one"
    assert cardinal(-40) == "minus forty"
    assert year(1905) == "nineteen oh five"
    assert year(1900) == "nineteen hundred"
    assert ordinal(12) == "twelfth"
    assert ordinal(30) == "thirtieth"
    assert spell_numbers("1st 2nd 3rd").split() == ["first", "second", "third"]


def test_encode_decode_round_trip_and_oov_counting() -> None:
    tokenizer = CharTokenizer()
    assert tokenizer.vocab_size == 29
    assert tokenizer.vocab[0] == "<blank>"
    ids = tokenizer.encode("Hello, World!")
    assert tokenizer.decode(ids) == "hello world"
    assert 0 not in ids
    assert tokenizer.encode("naïve Ωmega ω") == tokenizer.encode("naive mega")
    assert tokenizer.oov_counts == {"ω": 2}


def test_custom_alphabet_and_validation() -> None:
    tokenizer = CharTokenizer(" abc")
    assert tokenizer.decode(tokenizer.encode("a b d c")) == "a b c"
    assert tokenizer.oov_counts["d"] == 1
    with pytest.raises(ValueError, match="space"):
        CharTokenizer("abc")
    with pytest.raises(ValueError, match="repeated"):
        CharTokenizer(" aa")
