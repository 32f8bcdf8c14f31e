"""Spelling out numbers in English words, for normalizing training and reference text."""

from __future__ import annotations

import re

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return words


def cardinal(n: int) -> str:
    """1234 -> 'one thousand two hundred thirty four'."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 1000:
        return " ".join(_below_thousand(n))
    words: list[str] = []
    for value, name in _SCALES:
        if n >= value:
            words += [cardinal(n // value), name]
            n %= value
    if n:
        words += _below_thousand(n)
    return " ".join(words)


def year(n: int) -> str:
    """1850 -> 'eighteen fifty', 1905 -> 'nineteen oh five', 1900 -> 'nineteen hundred'."""
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    if low < 10:
        return f"{cardinal(high)} oh {cardinal(low)}"
    return f"{cardinal(high)} {cardinal(low)}"


def ordinal(n: int) -> str:
    """21 -> 'twenty first'."""
    words = cardinal(n).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _digits(text: str) -> str:
    return " ".join(_ONES[int(d)] for d in text)


_NUMBER = re.compile(
    r"(?P<currency>[$£€])?(?P<int>\d+(?:,\d{3})*)(?:\.(?P<frac>\d+))?(?P<ord>st|nd|rd|th)?(?P<pct>%)?",
    re.IGNORECASE,
)
_CURRENCY = {"$": ("dollar", "dollars"), "£": ("pound", "pounds"), "€": ("euro", "euros")}
# Longer digit strings are read digit by digit (and int() refuses strings past 4,300 digits).
MAX_CARDINAL_DIGITS = 15


def _spell_match(match: re.Match[str]) -> str:
    integer_text = match["int"].replace(",", "")
    too_long = len(integer_text) > MAX_CARDINAL_DIGITS  # an account or serial number
    value = 0 if too_long else int(integer_text)
    if too_long:
        spoken = _digits(integer_text)
    elif match["ord"] and not match["frac"]:
        spoken = ordinal(value)
    elif 1100 <= value <= 1999 and len(integer_text) == 4 and not match["frac"] and "," not in match["int"]:
        spoken = year(value) if not match["currency"] else cardinal(value)
    else:
        spoken = cardinal(value)
    if match["frac"]:
        spoken += " point " + _digits(match["frac"])
    if match["pct"]:
        spoken += " percent"
    if match["currency"]:
        singular, plural = _CURRENCY[match["currency"]]
        spoken += " " + (singular if value == 1 and not match["frac"] else plural)
    return f" {spoken} "


def spell_numbers(text: str) -> str:
    """Replace every number in text by words: '$5', '3.5', '21st', '1850', '10%'."""
    return _NUMBER.sub(_spell_match, text)
