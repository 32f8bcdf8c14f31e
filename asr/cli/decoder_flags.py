"""The decoder's flags (`asr transcribe`, `asr evaluate`, `asr lm tune`), one per DecoderOptions
field: its flag, type, choices and help come from the field and its metadata."""

from __future__ import annotations

import argparse
import typing
from collections.abc import Collection
from dataclasses import Field, fields, replace
from typing import TYPE_CHECKING, Any

from asr.decoding import DecoderOptions

if TYPE_CHECKING:
    from asr.transcribe import Recognizer


def flag_name(option: Field[Any]) -> str:
    return str(option.metadata["flag"] or "--" + option.name.replace("_", "-"))


def add_decoder_arguments(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
    """A flag for each DecoderOptions field (or those named). A flag not given leaves its
    attribute out of the parsed namespace: the model directory's stored value applies."""
    group = parser.add_argument_group("decoding")
    hints = typing.get_type_hints(DecoderOptions)
    for option in fields(DecoderOptions):
        if names is not None and option.name not in names:
            continue
        hint = hints[option.name]
        choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None
        parse = option.metadata["parse"] or next((scalar for scalar in (int, float) if hint is scalar), str)
        group.add_argument(flag_name(option), dest=option.name, type=parse, choices=choices, default=argparse.SUPPRESS, help=option.metadata["help"])


DECODER = argparse.ArgumentParser(add_help=False)
add_decoder_arguments(DECODER)


def given_decoder_options(args: argparse.Namespace) -> dict[str, Any]:
    """The DecoderOptions fields whose flags were given, with their values."""
    return {option.name: getattr(args, option.name) for option in fields(DecoderOptions) if hasattr(args, option.name)}


def decoder_options(args: argparse.Namespace, recognizer: Recognizer) -> DecoderOptions:
    """The decoder the flags ask for, on top of the model directory's stored defaults."""
    given = given_decoder_options(args)
    method = given.pop("method", None) or recognizer.default_decoder().method
    if method == "greedy":
        if given:
            flags = ", ".join(flag_name(option) for option in fields(DecoderOptions) if option.name in given)
            raise ValueError(f"{flags} only apply to --decoder beam")
        return DecoderOptions()
    return replace(recognizer.decoder_defaults("beam"), **given)
