"""Turning per-frame CTC log-probabilities into words with times and confidences."""

from __future__ import annotations

import shutil
import typing
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from asr.errors import ConfigError
from asr.lm import copy_lm_into
from asr.results import Alternative, Word
from asr.tokenizer import CharTokenizer

if TYPE_CHECKING:
    from asr.beam import BeamSearch

ModelFile = Callable[[Path, Path], str]  # (model directory, file) -> the file's name in the directory, once copied there


@dataclass(frozen=True)
class Hotword:
    """A word or phrase to favour in beam search: `boost` is added to the score (natural log)
    of every hypothesis that contains it, per occurrence."""

    text: str
    boost: float = 5.0


def parse_hotwords(spec: str) -> tuple[Hotword, ...]:
    """'Thornton:5,Avonlea' -> two hotwords (the second with the default boost). A spec naming
    an existing file reads one `word[:boost]` per line instead."""
    path = Path(spec)
    items = path.read_text(encoding="utf-8").splitlines() if "," not in spec and path.is_file() else spec.split(",")
    hotwords = []
    for item in items:
        head, colon, boost = item.strip().rpartition(":")
        text = head.strip() or item.strip()
        if not colon:
            boost = ""
        if not text:
            continue
        try:
            hotwords.append(Hotword(text, float(boost)) if boost.strip() else Hotword(text))
        except ValueError:
            raise ConfigError(f"hotword {item.strip()!r}: the boost after ':' must be a number") from None
    return tuple(hotwords)


DecoderMethod = Literal["greedy", "beam"]
DECODER_METHODS: tuple[DecoderMethod, ...] = typing.get_args(DecoderMethod)
DECODER_CACHE_SIZE = 8  # beam decoders kept per Decoding (one per distinct options, least recently used out)


def option(help: str, flag: str | None = None, parse: Callable[[str], Any] | None = None, model_file: ModelFile | None = None) -> dict[str, Any]:
    """A DecoderOptions field's metadata, from which the command line, the model directory and
    `asr lm tune` take it: its help text; its flag when not --field-name, and `parse` when the
    flag's text is not simply the field's type; `model_file` for a file that a model directory
    keeps a copy of (it copies the file in and returns its name there)."""
    return {"help": help, "flag": flag, "parse": parse, "model_file": model_file}


def parse_lm(value: str) -> str | None:
    """--lm FILE, or --lm none for no LM at all (not even the model directory's)."""
    return None if value.lower() == "none" else str(Path(value))


def copy_lexicon_into(directory: Path, source: Path) -> str:
    """Copy a word list into a model directory as lexicon.txt; its name there."""
    target = directory / "lexicon.txt"
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
    return target.name


@dataclass(frozen=True)
class DecoderOptions:
    """How log-probabilities become text. `greedy` takes the best symbol per frame; `beam` runs
    a prefix beam search, with a word n-gram LM when `lm` names one (ARPA or KenLM binary).

    The one declaration of the decoder's options: the CLI's flags, a model directory's stored
    decoder (config.json "decoder", where `method` is the model's default decoder) and what
    `asr lm tune` stores all come from these fields and their metadata (see `option`)."""

    method: DecoderMethod = field(
        default="greedy",
        metadata=option(
            "greedy (best symbol per frame) or beam (prefix beam search; uses the model directory's LM and tuned weights when it has them); "
            "default: the model directory's choice (beam + LM for the bundled model), else greedy",
            flag="--decoder",
        ),
    )
    beam_size: int = field(default=32, metadata=option("hypotheses kept per frame (beam)"))
    beam_threshold: float = field(default=25.0, metadata=option("prune hypotheses this far (log) below the best (beam)"))
    # Of ~29 characters, only the likeliest few per frame are worth extending (benchmarks/decoder.py).
    token_beam: int = field(default=5, metadata=option("likeliest symbols tried per frame (beam; default 5): speed against recall"))
    lm: str | None = field(
        default=None,
        metadata=option("word n-gram LM (ARPA or KenLM binary) for beam search; 'none' turns off the model's own", parse=parse_lm, model_file=copy_lm_into),
    )
    lm_weight: float = field(default=0.5, metadata=option("LM weight alpha: weight of the LM log-probability (beam)"))
    word_score: float = field(default=0.0, metadata=option("word insertion bonus beta, against the LM's preference for short output (beam)"))
    lexicon: str | None = field(
        default=None,
        metadata=option("word list (one per line) added to the words beam search may produce", model_file=copy_lexicon_into),
    )
    hotwords: tuple[Hotword, ...] = field(
        default=(),
        metadata=option("words or phrases to favour, 'Thornton:5,Avonlea' (default boost 5), or a file with one per line", parse=parse_hotwords),
    )
    nbest: int = field(default=1, metadata=option("alternatives to keep (beam; written to the json output)"))

    def __post_init__(self) -> None:
        if self.method not in DECODER_METHODS:
            raise ConfigError(f"unknown decoder {self.method!r} (use {' or '.join(DECODER_METHODS)})")
        if self.beam_size < 1 or self.token_beam < 1 or self.nbest < 1 or self.nbest > self.beam_size:
            raise ConfigError("beam_size, token_beam and nbest must be at least 1, and nbest at most beam_size")
        if self.beam_threshold <= 0:
            raise ConfigError("beam_threshold must be positive")


def named_files(options: DecoderOptions) -> list[tuple[ModelFile, str, str]]:
    """(how a model directory copies it in, field name, file) for each file the options name."""
    found = []
    for option_field in fields(options):
        value, copy_into = getattr(options, option_field.name), option_field.metadata["model_file"]
        if copy_into is not None and isinstance(value, str):
            found.append((copy_into, option_field.name, value))
    return found


def greedy_token_runs(log_probs: torch.Tensor, blank_id: int = 0) -> list[tuple[int, int, int, float]]:
    """Best path through (frames, vocab) log-probs, collapsed into (token, first_frame,
    last_frame, probability) runs, blanks removed. The probability is the run's peak."""
    best_logp_t, best_t = log_probs.detach().float().max(dim=-1)
    best = best_t.cpu().numpy()
    if best.size == 0:
        return []
    best_logp = best_logp_t.cpu().numpy()
    # A run starts wherever the best symbol changes.
    starts = np.flatnonzero(np.concatenate([[True], best[1:] != best[:-1]]))
    ends = np.append(starts[1:], best.size) - 1
    peaks = np.exp(np.maximum.reduceat(best_logp, starts))
    keep = best[starts] != blank_id
    return [
        (int(token), int(start), int(end), float(peak))
        for token, start, end, peak in zip(best[starts][keep], starts[keep], ends[keep], peaks[keep], strict=True)
    ]


def timed_word(text: str, first_frame: int, last_frame: int, probs: Sequence[float], output_frame_seconds: float, offset: float) -> Word:
    """A word from the start of its first frame to the end of its last, in seconds after `offset`;
    its confidence is the mean probability of its characters."""
    return Word(
        text=text,
        start=round(offset + first_frame * output_frame_seconds, 3),
        end=round(offset + (last_frame + 1) * output_frame_seconds, 3),
        confidence=round(sum(probs) / len(probs), 4),
    )


def greedy_decode(log_probs: torch.Tensor, tokenizer: CharTokenizer, output_frame_seconds: float, offset: float = 0.0) -> list[Word]:
    """Greedy CTC decoding of (frames, vocab) log-probs into timed words.

    A word spans from the first frame of its first character to the end of the last frame of
    its last character; its confidence is the mean peak probability of its characters."""
    words: list[Word] = []
    chars: list[str] = []
    probs: list[float] = []
    first = last = 0

    def flush() -> None:
        if chars:
            words.append(timed_word("".join(chars), first, last, probs, output_frame_seconds, offset))
            chars.clear()
            probs.clear()

    for token, start, end, peak in greedy_token_runs(log_probs, tokenizer.blank_id):
        if token == tokenizer.space_id:
            flush()
            continue
        if not chars:
            first = start
        chars.append(tokenizer.decode([token]))
        probs.append(peak)
        last = end
    flush()
    return words


class GreedyStream:
    """Greedy decoding of log-probs that arrive piece by piece (window after window of a long
    recording), so that words can be written before the audio ends. It cuts only where no word
    can run across the cut: at a frame whose best token is a space, or at the end when nothing
    but blanks follows the last space. The words are those of decoding all the frames at once;
    only the frames of a word still being spelled are held back."""

    def __init__(self, tokenizer: CharTokenizer, output_frame_seconds: float) -> None:
        self.tokenizer = tokenizer
        self.output_frame_seconds = output_frame_seconds
        self._pieces: list[torch.Tensor] = []  # log-probs not decoded yet
        self._best: list[torch.Tensor] = []  # their best tokens
        self._offset = 0  # frames already decoded

    def feed(self, log_probs: torch.Tensor) -> list[Word]:
        """Take the next (frames, vocab) piece; return the words that are now complete."""
        self._pieces.append(log_probs)
        self._best.append(log_probs.argmax(dim=-1))
        best = torch.cat(self._best)
        spaces = torch.nonzero(best == self.tokenizer.space_id)
        last_space = int(spaces[-1]) if spaces.numel() else -1
        if bool((best[last_space + 1 :] == self.tokenizer.blank_id).all()):
            cut = best.shape[0]  # no word is being spelled: everything so far is final
        elif last_space >= 0:
            cut = last_space
        else:
            return []
        pending = torch.cat(self._pieces)
        self._pieces, self._best = [pending[cut:]], [best[cut:]]
        return self._decode(pending[:cut])

    @property
    def held_frames(self) -> int:
        """Frames received but not decoded yet."""
        return sum(piece.shape[0] for piece in self._pieces)

    def finish(self) -> list[Word]:
        """The words of whatever is left."""
        pending = torch.cat(self._pieces) if self._pieces else None
        self._pieces, self._best = [], []
        return self._decode(pending) if pending is not None else []

    def _decode(self, log_probs: torch.Tensor) -> list[Word]:
        words = greedy_decode(log_probs, self.tokenizer, self.output_frame_seconds, self._offset * self.output_frame_seconds)
        self._offset += log_probs.shape[0]
        return words


def greedy_text(log_probs: torch.Tensor, tokenizer: CharTokenizer) -> str:
    """Just the text of the best path, for validation during training."""
    tokens = [run[0] for run in greedy_token_runs(log_probs, tokenizer.blank_id)]
    return " ".join(tokenizer.decode(tokens).split())


class Decoding:
    """Decodes log-probs with any DecoderOptions. Beam decoders (with their LMs loaded) are
    built once per distinct options and reused."""

    def __init__(self, tokenizer: CharTokenizer, output_frame_seconds: float) -> None:
        self.tokenizer = tokenizer
        self.output_frame_seconds = output_frame_seconds
        self._beam_decoders: OrderedDict[DecoderOptions, BeamSearch] = OrderedDict()

    def decode(self, log_probs: torch.Tensor, options: DecoderOptions, offset: float = 0.0) -> tuple[list[Word], tuple[Alternative, ...]]:
        if options.method == "greedy":
            return greedy_decode(log_probs, self.tokenizer, self.output_frame_seconds, offset), ()
        return self._beam(options).decode(log_probs, self.output_frame_seconds, offset)

    def prepare(self, options: DecoderOptions) -> None:
        """Build the decoder for `options` now (a beam search loads its LM, lexicon and
        hotwords), so that a missing or broken file is reported once, before any audio is read."""
        if options.method != "greedy":
            self._beam(options)

    def _beam(self, options: DecoderOptions) -> BeamSearch:
        decoder = self._beam_decoders.get(options)
        if decoder is not None:
            self._beam_decoders.move_to_end(options)
            return decoder
        from asr.beam import BeamSearch

        decoder = self._beam_decoders[options] = BeamSearch(self.tokenizer, options)
        while len(self._beam_decoders) > DECODER_CACHE_SIZE:
            self._beam_decoders.popitem(last=False)  # least recently used
        return decoder
