"""Prefix beam search over CTC log-probs (flashlight-text via torchaudio), with an optional
word n-gram LM (KenLM), a lexicon, hotword boosting and n-best lists."""

from __future__ import annotations

import torch

from asr.decoding import DecoderOptions
from asr.results import Alternative, Word
from asr.tokenizer import CharTokenizer


class BeamSearch:
    def __init__(self, tokenizer: CharTokenizer, options: DecoderOptions) -> None:
        self.tokenizer = tokenizer
        self.options = options

    def decode(self, log_probs: torch.Tensor, frame_seconds: float, offset: float = 0.0) -> tuple[list[Word], tuple[Alternative, ...]]:
        raise NotImplementedError("beam search is being written")
