from __future__ import annotations

import shutil
import typing
from dataclasses import Field, fields
from pathlib import Path
from typing import Any

import pytest
import torch

from asr.cli import build_parser
from asr.cli.decoder_flags import decoder_options
from asr.decoding import DecoderOptions, GreedyStream, Hotword, greedy_decode, greedy_text, greedy_token_runs
from asr.lm_tune import store_decoder_defaults
from asr.tokenizer import CharTokenizer
from asr.transcribe import load_model

TOKENIZER = CharTokenizer()


def path_log_probs(symbols: str, peak: float = 0.9) -> torch.Tensor:
    """Frames whose best symbol is given by a string: '_' is blank, other characters as in the alphabet."""
    ids = [0 if ch == "_" else TOKENIZER.encode(ch)[0] if ch != " " else TOKENIZER.space_id for ch in symbols]
    probs = torch.full((len(ids), TOKENIZER.vocab_size), (1 - peak) / (TOKENIZER.vocab_size - 1))
    probs[torch.arange(len(ids)), torch.tensor(ids)] = peak
    return probs.log()


def test_runs_collapse_repeats_and_drop_blanks() -> None:
    runs = greedy_token_runs(path_log_probs("_hh_e_ll_l_o"))
    assert TOKENIZER.decode([r[0] for r in runs]) == "hello"
    assert [(r[1], r[2]) for r in runs] == [(1, 2), (4, 4), (6, 7), (9, 9), (11, 11)]
    assert all(r[3] == pytest.approx(0.9) for r in runs)


def test_words_have_times_and_confidences() -> None:
    log_probs = path_log_probs("__hi_  _the__re_")
    words = greedy_decode(log_probs, TOKENIZER, output_frame_seconds=0.04, offset=1.0)
    assert [w.text for w in words] == ["hi", "there"]
    assert (words[0].start, words[0].end) == (1.08, 1.16)
    assert (words[1].start, words[1].end) == (1.32, 1.6)
    assert all(w.confidence == pytest.approx(0.9) for w in words)
    assert greedy_text(log_probs, TOKENIZER) == "hi there"


def test_confidence_is_the_mean_of_character_peaks() -> None:
    log_probs = path_log_probs("ab")
    log_probs[1] = torch.full((TOKENIZER.vocab_size,), 0.4 / (TOKENIZER.vocab_size - 1)).log()
    log_probs[1, TOKENIZER.encode("b")[0]] = torch.tensor(0.6).log()
    (word,) = greedy_decode(log_probs, TOKENIZER, 0.01)
    assert word.confidence == pytest.approx(0.75, abs=1e-4)


def test_empty_and_all_blank_inputs() -> None:
    assert greedy_decode(torch.zeros(0, TOKENIZER.vocab_size), TOKENIZER, 0.04) == []
    assert greedy_decode(path_log_probs("____"), TOKENIZER, 0.04) == []


@pytest.mark.parametrize("seed", range(5))
def test_greedy_stream_gives_the_words_of_decoding_everything_at_once(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    # Long silences, words held over several frames, letters repeated across blanks, and
    # stretches without any space: every kind of place a piece boundary can fall.
    symbols = "____" + "".join(
        "_" * int(torch.randint(0, 30, (1,), generator=generator)) + "hel_lo  wor ld" + "_" * int(torch.randint(0, 3, (1,), generator=generator)) + " aa_a "
        for _ in range(20)
    )
    log_probs = path_log_probs(symbols, peak=0.6) + 0.3 * torch.randn(len(symbols), TOKENIZER.vocab_size, generator=generator)
    whole = greedy_decode(log_probs, TOKENIZER, 0.04)
    assert len(whole) > 60
    stream = GreedyStream(TOKENIZER, 0.04)
    streamed, start = [], 0
    while start < len(symbols):
        size = int(torch.randint(1, 40, (1,), generator=generator))
        streamed += stream.feed(log_probs[start : start + size])
        start += size
    early = len(streamed)
    streamed += stream.finish()
    assert streamed == whole
    assert early >= len(whole) - 2  # words come out as the frames arrive, not all at the end
    assert stream.finish() == []


def test_greedy_stream_holds_back_only_a_word_in_progress() -> None:
    stream = GreedyStream(TOKENIZER, 0.04)
    assert stream.feed(torch.zeros(0, TOKENIZER.vocab_size)) == [] and stream.held_frames == 0
    assert [w.text for w in stream.feed(path_log_probs("__the cat_"))] == ["the"]
    assert stream.held_frames == 5  # " cat_": the word may go on in the next piece
    words = stream.feed(path_log_probs("s ___"))
    assert [w.text for w in words] == ["cats"] and words[0].start == pytest.approx(0.24)
    for _ in range(100):  # a long silence after a word holds nothing back
        assert stream.feed(path_log_probs("_" * 50)) == [] and stream.held_frames == 0
    assert [w.text for w in stream.feed(path_log_probs("a_"))] == []
    late = stream.finish()
    assert [w.text for w in late] == ["a"] and late[0].start == pytest.approx((15 + 5000) * 0.04)


def _sample_flag(option: Field[Any], hint: Any, tmp_path: Path) -> tuple[list[str], Any]:
    """A command-line value other than the default for a DecoderOptions field, by its type, and
    the value the options should get from it. A field of a new type fails here until added."""
    flag = option.metadata["flag"] or "--" + option.name.replace("_", "-")
    if typing.get_origin(hint) is typing.Literal:
        value: Any = next(choice for choice in typing.get_args(hint) if choice != option.default)
        return [flag, value], value
    if hint is int or hint is float:
        value = option.default + (1 if hint is int else 0.5)
        return [flag, str(value)], value
    if hint == str | None:  # a file: the model directory keeps a copy
        path = tmp_path / f"{option.name}.txt"
        path.write_text(f"cat {option.name}\n")
        return [flag, str(path)], str(path)
    if hint == tuple[Hotword, ...]:
        return [flag, "cat:3,mat"], (Hotword("cat", 3.0), Hotword("mat"))
    raise AssertionError(f"no sample value for {option.name}: {hint}")


def test_every_decoder_option_round_trips_cli_options_model_directory(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Each DecoderOptions field, given on the command line, reaches the options; stored in a
    model directory (as `asr lm tune` does), it comes back as the model's default decoder."""
    hints = typing.get_type_hints(DecoderOptions)
    samples = {option.name: _sample_flag(option, hints[option.name], tmp_path) for option in fields(DecoderOptions)}
    argv = ["transcribe", "clip.wav", *(word for flags, _ in samples.values() for word in flags)]
    directory = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    options = decoder_options(build_parser().parse_args(argv), load_model(directory))
    assert {name: getattr(options, name) for name in samples} == {name: value for name, (_, value) in samples.items()}

    store_decoder_defaults(directory, options, options.method)
    stored = load_model(directory).default_decoder()
    for option in fields(DecoderOptions):
        value, expected = getattr(stored, option.name), getattr(options, option.name)
        if option.metadata["model_file"]:  # now a copy inside the model directory
            assert Path(value).parent == directory and Path(value).read_text() == Path(expected).read_text(), option.name
        else:
            assert value == expected, option.name
