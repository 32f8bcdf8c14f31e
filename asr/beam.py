"""Prefix beam search over CTC log-probs, with an optional word n-gram LM, a lexicon, hotword
boosting and n-best lists.

The search is flashlight-text's native decoder, which also reads ARPA and KenLM binary LMs, so
nothing has to be compiled. Two modes:

- no LM and no word list: lexicon-free search over characters (a CTC prefix beam search);
- with an LM (or a word list): lexicon search. A word LM scores whole words, so hypotheses are
  spelled along a trie of known words: the LM's vocabulary, the optional word list and the
  hotwords. Other words cannot be produced; that is the usual price of word-LM decoding.

Hotwords add their boost to the score of each occurrence. In lexicon search a thin LM wrapper
adds it when a hotword is completed (flashlight calls the LM once per word, so Python costs
little). Lexicon-free, a trie of hotword spellings hands out the boost character by character
and takes it back if the spelling breaks off before the hotword is complete."""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from flashlight.lib.text import decoder as fl
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary

from asr.decoding import DecoderOptions, timed_word
from asr.errors import ConfigError
from asr.lm import read_lm_vocabulary
from asr.results import Alternative, Word
from asr.tokenizer import CharTokenizer, normalize_text

UNK_WORD = "<unk>"
LEXICON_CACHE_SIZE = 4  # loaded LMs with their tries kept per process (each can take tens of MB)


class _WordBoostLM(fl.LM):  # type: ignore[misc]
    """A word LM (or none) weighted by `lm_weight`, plus each completed hotword's boost.
    flashlight's own LM weight is then 1, so boosts land as given even when lm_weight is 0."""

    def __init__(self, inner: Any, lm_weight: float, boosts: dict[int, float]) -> None:
        fl.LM.__init__(self)
        self.inner = inner
        self.lm_weight = lm_weight
        self.boosts = boosts

    def start(self, start_with_nothing: bool) -> Any:
        return self.inner.start(start_with_nothing)

    def score(self, state: Any, word: int) -> tuple[Any, float]:
        next_state, score = self.inner.score(state, word)
        return next_state, self.lm_weight * score + self.boosts.get(word, 0.0)

    def finish(self, state: Any) -> tuple[Any, float]:
        next_state, score = self.inner.finish(state)
        return next_state, self.lm_weight * score


@dataclass(frozen=True)
class _Progress:
    prefix: tuple[int, ...]  # characters of a hotword spelled so far (empty: none in progress)
    earned: float  # boost handed out along the prefix
    at_word_start: bool  # a hotword may only begin at the start of a word


class _SpellingBoostLM(fl.LM):  # type: ignore[misc]
    """Lexicon-free hotword biasing over characters. States are flashlight's token-history
    states (as with no LM at all), each mapped to its progress through the hotword trie."""

    def __init__(self, spellings: dict[tuple[int, ...], float], space: int) -> None:
        fl.LM.__init__(self)
        self.space = space
        self.gain: dict[tuple[int, ...], float] = {}  # trie prefix -> boost for its last character
        for spelling, boost in spellings.items():
            for end in range(1, len(spelling) + 1):
                self.gain[spelling[:end]] = max(self.gain.get(spelling[:end], 0.0), boost / len(spelling))
        self.complete = set(spellings)
        self.progress: dict[Any, _Progress] = {}

    def start(self, start_with_nothing: bool) -> Any:
        root = fl.LMState()
        self.progress = {root: _Progress((), 0.0, True)}
        return root

    def _refund(self, progress: _Progress) -> float:
        return 0.0 if progress.prefix in self.complete else -progress.earned

    def score(self, state: Any, token: int) -> tuple[Any, float]:
        progress = self.progress[state]
        child = state.child(token)
        extended = (*progress.prefix, token)
        if (progress.prefix or progress.at_word_start) and extended in self.gain:
            gain = self.gain[extended]
            self.progress[child] = _Progress(extended, progress.earned + gain, False)
            return child, gain
        self.progress[child] = _Progress((), 0.0, token == self.space)
        return child, self._refund(progress)

    def finish(self, state: Any) -> tuple[Any, float]:
        return state, self._refund(self.progress[state])


@dataclass(frozen=True)
class _Run:
    token: int
    frame: int  # first frame of the token's run on the best path
    last: int  # its last frame


# Most recently used first out: a long-running server whose users try many hotword lists must
# not keep one loaded LM per list forever.
_LEXICON_PARTS: OrderedDict[tuple[Any, ...], tuple[Dictionary, Any, Any]] = OrderedDict()


def _file_version(path: str | None) -> tuple[int, int] | None:
    """(mtime, size) of a file, so that a rewritten LM or word list is loaded afresh."""
    if path is None or not Path(path).is_file():
        return None
    info = Path(path).stat()
    return info.st_mtime_ns, info.st_size


def _load_kenlm(path: str, word_dict: Dictionary) -> Any:
    """KenLM through flashlight; its loader's progress bar on stderr is silenced."""
    if not Path(path).is_file():
        raise ConfigError(f"{path}: language model not found")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                return KenLM(path, word_dict)
            finally:
                os.dup2(saved, 2)
    except Exception as exc:
        raise ConfigError(f"{path}: cannot load the language model ({exc})") from exc
    finally:
        os.close(saved)


class BeamSearch:
    """A configured beam-search decoder. Building one loads the LM, so build it once per options
    (asr.decoding.Decoding caches them) and reuse it for every utterance. Not thread-safe."""

    def __init__(self, tokenizer: CharTokenizer, options: DecoderOptions) -> None:
        self.tokenizer = tokenizer
        self.options = options
        self._char_ids = {ch: i + 1 for i, ch in enumerate(tokenizer.alphabet) if ch != " "}
        hotwords = self._hotwords()
        vocab = tokenizer.vocab_size
        python_lm = bool(hotwords)  # a Python LM scores every word (lexicon) or character (lexicon-free)
        lm_weight = 1.0 if python_lm else options.lm_weight  # with a Python LM, it applies the weight itself
        criterion = fl.CriterionType.CTC
        token_beam = min(vocab, options.token_beam)
        self.word_dict: Dictionary | None = None
        if options.lm is None and options.lexicon is None:
            lm: Any = fl.ZeroLM()
            if hotwords:
                lm = _SpellingBoostLM({self._spelling(text): boost for text, boost in hotwords.items()}, tokenizer.space_id)
            free_options = fl.LexiconFreeDecoderOptions(options.beam_size, token_beam, options.beam_threshold, lm_weight, 0.0, False, criterion)
            self.decoder: Any = fl.LexiconFreeDecoder(free_options, lm, tokenizer.space_id, tokenizer.blank_id, [])
        else:
            self.word_dict, lm, trie = self._lexicon_search_parts(hotwords)
            lexicon_options = fl.LexiconDecoderOptions(
                options.beam_size, token_beam, options.beam_threshold, lm_weight, options.word_score, -math.inf, 0.0, False, criterion
            )
            unk = self.word_dict.get_index(UNK_WORD)
            self.decoder = fl.LexiconDecoder(lexicon_options, trie, lm, tokenizer.space_id, tokenizer.blank_id, unk, [], False)
        self._lm = lm  # flashlight holds a raw reference: keep the Python object alive

    # -- setup ---------------------------------------------------------------------------------

    def _spelling(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer.space_id if ch == " " else self._char_ids[ch] for ch in text)

    def _spellable(self, word: str) -> bool:
        return bool(word) and all(ch in self._char_ids for ch in word)

    def _hotwords(self) -> dict[str, float]:
        """Normalized hotword texts (words or phrases) and their boosts."""
        boosts: dict[str, float] = {}
        for hotword in self.options.hotwords:
            text = normalize_text(hotword.text)
            if text and all(self._spellable(w) for w in text.split()):
                boosts[text] = max(boosts.get(text, -math.inf), hotword.boost)
            else:
                raise ConfigError(f"hotword {hotword.text!r} cannot be spelled with the model's alphabet")
        return boosts

    def _lexicon_words(self, hotwords: dict[str, float]) -> list[str]:
        """Words a lexicon search may produce."""
        words: set[str] = set()
        if self.options.lm is not None:
            words.update(read_lm_vocabulary(self.options.lm))
        if self.options.lexicon is not None:
            path = Path(self.options.lexicon)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read the word list ({exc})") from exc
            words.update(word for line in lines for word in normalize_text(line).split())
        words.update(word for text in hotwords for word in text.split())
        usable = sorted(w for w in words if self._spellable(w))
        if not usable:
            raise ConfigError("no word of the LM or word list can be spelled with the model's alphabet")
        return usable

    def _lexicon_search_parts(self, hotwords: dict[str, float]) -> tuple[Dictionary, Any, Any]:
        """Word dictionary, LM and scored trie, shared by every decoder with the same LM, word
        list and hotwords in this process (loading an LM and building its trie take seconds;
        tuning makes many decoders that differ only in weights)."""
        options = self.options
        key = (
            options.lm,
            _file_version(options.lm),
            options.lexicon,
            _file_version(options.lexicon),
            options.hotwords,
            options.lm_weight if hotwords else None,
            self.tokenizer.alphabet,
        )
        cached = _LEXICON_PARTS.get(key)
        if cached is not None:
            _LEXICON_PARTS.move_to_end(key)
        else:
            words = self._lexicon_words(hotwords)
            word_dict = Dictionary([*words, UNK_WORD])
            word_dict.set_default_index(word_dict.get_index(UNK_WORD))
            lm: Any = _load_kenlm(options.lm, word_dict) if options.lm is not None else fl.ZeroLM()
            if hotwords:
                boosts = {word_dict.get_index(w): b for text, b in hotwords.items() for w in text.split()}
                lm = _WordBoostLM(lm, options.lm_weight, boosts)
            cached = _LEXICON_PARTS[key] = (word_dict, lm, self._trie(words, word_dict, lm))
            while len(_LEXICON_PARTS) > LEXICON_CACHE_SIZE:
                _LEXICON_PARTS.popitem(last=False)  # decoders built from it keep their own references
        return cached

    def _trie(self, words: list[str], word_dict: Dictionary, lm: Any) -> Any:
        """Spellings of all words, each leaf scored by the word's unigram LM score; smearing
        spreads the best leaf score up the trie so partial words are ranked by what they may become.

        Each word is spelled twice. Ending in a space, the usual case: flashlight completes a word
        as soon as its last letter appears and treats any later frame at the trie root as a
        space, so a last letter held for several frames (as CTC models do) would be paid for as
        spaces unless the word waits for its space. Without the space: words the model ran
        together ("andthe") can still be told apart."""
        trie = fl.Trie(self.tokenizer.vocab_size, self.tokenizer.space_id)
        start = lm.start(False)
        for word in words:
            index = word_dict.get_index(word)
            _, score = lm.score(start, index)
            spelling = list(self._spelling(word))
            trie.insert(spelling, index, score)
            trie.insert([*spelling, self.tokenizer.space_id], index, score)
        trie.smear(fl.SmearingMode.MAX)
        return trie

    # -- decoding ------------------------------------------------------------------------------

    def decode(self, log_probs: torch.Tensor, output_frame_seconds: float, offset: float = 0.0) -> tuple[list[Word], tuple[Alternative, ...]]:
        """Timed words of the best hypothesis, and the n-best list (texts with total scores)."""
        emissions = log_probs.detach().float().cpu().contiguous()
        frames, vocab = emissions.shape
        if frames == 0:
            return [], ()
        # A final frame that is surely a space lets the last word end the way the others do.
        closing = torch.full((1, vocab), -1e4)
        closing[0, self.tokenizer.space_id] = 0.0
        padded = torch.cat([emissions, closing]).contiguous()
        results = self.decoder.decode(padded.data_ptr(), frames + 1, vocab)[: self.options.nbest]
        if not results:
            return [], ()
        spelled = [self._words(result) for result in results]
        alternatives = tuple(Alternative(" ".join(text for text, _ in words), round(float(r.score), 4)) for words, r in zip(spelled, results, strict=True))
        words = [self._timed(text, runs, emissions, output_frame_seconds, offset) for text, runs in spelled[0]]
        return words, alternatives

    def _runs(self, tokens: list[int]) -> list[_Run]:
        """Characters of a path (one per run of a non-blank symbol) with their first and last
        frames. flashlight pads the path with one extra symbol at each end; the last real one is
        the closing space frame that decode() added."""
        path = tokens[1:-2]
        runs: list[_Run] = []
        for frame, token in enumerate(path):
            if token == self.tokenizer.blank_id:
                continue
            if frame > 0 and token == path[frame - 1]:
                runs[-1] = _Run(token, runs[-1].frame, frame)
            else:
                runs.append(_Run(token, frame, frame))
        return runs

    def _words(self, result: Any) -> list[tuple[str, list[_Run]]]:
        """The hypothesis's words, each with its character runs. Lexicon search walks each word's
        spelling (the LM may join words the model ran together); lexicon-free splits at spaces."""
        runs = self._runs(list(result.tokens))
        letters = [run for run in runs if run.token != self.tokenizer.space_id]
        if self.word_dict is not None:
            words: list[tuple[str, list[_Run]]] = []
            position = 0
            for index in result.words:
                if index < 0:
                    continue
                word = self.word_dict.get_entry(index)
                size = len(word)
                words.append((word, letters[position : position + size]))
                position += size
            return words
        words, current = [], list[_Run]()
        for run in [*runs, _Run(self.tokenizer.space_id, -1, -1)]:
            if run.token == self.tokenizer.space_id:
                if current:
                    words.append((self.tokenizer.decode([r.token for r in current]), current))
                current = []
            else:
                current.append(run)
        return words

    @staticmethod
    def _timed(text: str, runs: list[_Run], emissions: torch.Tensor, output_frame_seconds: float, offset: float) -> Word:
        """A word from its first to just past its last character; the confidence is the mean
        probability of its characters at the frames where the path emits them."""
        if not runs:  # an <unk> emitted with no letters of its own: keep it, one frame long, confidence 0
            return timed_word(text, 0, 0, [0.0], output_frame_seconds, offset)
        probs = [math.exp(float(emissions[run.frame, run.token])) for run in runs]
        return timed_word(text, runs[0].frame, runs[-1].last, probs, output_frame_seconds, offset)
