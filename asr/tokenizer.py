"""Text normalization for training targets and references, and the character vocabulary."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from asr.constants import DEFAULT_ALPHABET
from asr.numbers import spell_numbers

BLANK = "<blank>"  # the CTC blank, id 0

_REPLACEMENTS = {
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "&": " and ", "@": " at ",
    "\u00e6": "ae", "\u0153": "oe", "\u00df": "ss", "\u00f8": "o", "\u0142": "l",
}  # fmt: skip
_WHITESPACE = re.compile(r"\s+")
# Apostrophes that do not sit between two letters are quotation marks, not part of a word.
_STRAY_APOSTROPHE = re.compile(r"(?<![a-z])'|'(?![a-z])")


def strip_accents(text: str) -> str:
    """'café naïve' -> 'cafe naive'; letters without an ASCII base are kept as they are."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_text(text: str) -> str:
    """Lower-case, spell out numbers, strip accents and punctuation, collapse whitespace.

    Letters outside a-z that have no ASCII base survive, so that a tokenizer can count them."""
    # Lower-case before the replacements: capitals like "ẞ" and "Æ" only become "ß" and "æ" here,
    # and normalizing twice must give what normalizing once gives.
    text = unicodedata.normalize("NFKC", text).lower()
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    text = spell_numbers(text)
    text = strip_accents(text).lower()
    chars = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch == "'" or category[0] in "LN":
            chars.append(ch)
        else:  # punctuation, symbols, separators, control characters
            chars.append(" ")
    text = _STRAY_APOSTROPHE.sub(" ", "".join(chars))
    return _WHITESPACE.sub(" ", text).strip()


@dataclass
class CharTokenizer:
    """Maps normalized text to ids: 0 is the CTC blank, then one id per alphabet character."""

    alphabet: str = DEFAULT_ALPHABET
    oov_counts: Counter[str] = field(default_factory=Counter, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(set(self.alphabet)) != len(self.alphabet):
            raise ValueError(f"alphabet has repeated characters: {self.alphabet!r}")
        if " " not in self.alphabet:
            raise ValueError("alphabet must contain the space character (word separator)")
        self._ids = {ch: i + 1 for i, ch in enumerate(self.alphabet)}

    @property
    def vocab(self) -> list[str]:
        return [BLANK, *self.alphabet]

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet) + 1

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def space_id(self) -> int:
        return self._ids[" "]

    def encode(self, text: str) -> list[int]:
        """Ids of normalized text. Characters outside the alphabet are left out and counted
        in oov_counts, so that callers can report them."""
        ids = []
        for ch in normalize_text(text):
            token = self._ids.get(ch)
            if token is None:
                self.oov_counts[ch] += 1
            else:
                ids.append(token)
        # Removing an unknown character can leave double or edge spaces.
        return _squeeze_spaces(ids, self.space_id)

    def decode(self, ids: list[int]) -> str:
        return "".join(self.alphabet[i - 1] for i in ids if i != self.blank_id)


def _squeeze_spaces(ids: list[int], space: int) -> list[int]:
    out: list[int] = []
    for token in ids:
        if token == space and (not out or out[-1] == space):
            continue
        out.append(token)
    while out and out[-1] == space:
        out.pop()
    return out
