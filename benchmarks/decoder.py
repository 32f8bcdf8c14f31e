"""Decoder benchmark: greedy, our beam search (flashlight-text) and pyctcdecode on the same
cached log-probabilities and the same KenLM model, at equal beam sizes: WER, CER and decode
time, all in one process on one core.

    python benchmarks/decoder.py MANIFEST --lm LM.arpa [--model DIR] [--cache FILE] [--beam-sizes 8 32]

pyctcdecode is optional (pip install pyctcdecode kenlm); without it its rows are skipped.
Scores are comparable: flashlight's LM weight applies to log10 probabilities, pyctcdecode's
alpha to natural-log ones, so pyctcdecode runs with alpha = lm_weight / ln(10) and the same
per-word bonus."""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from asr.decoding import DecoderOptions, Decoding
from asr.lm_tune import CachedUtterance, cache_log_probs, load_cache, save_cache, score_trial
from asr.manifests import read_manifest
from asr.transcribe import load_model


def time_decoder(items: Sequence[CachedUtterance], decode: Callable[[torch.Tensor], str]) -> tuple[list[str], float]:
    decode(items[0].log_probs)  # warm-up: first-call setup is not decoding
    started = time.perf_counter()
    texts = [decode(item.log_probs) for item in items]
    return texts, time.perf_counter() - started


def pyctcdecode_decoder(alphabet: str, lm: str, lm_weight: float, word_score: float) -> Callable[[int], Callable[[torch.Tensor], str]] | None:
    try:
        from pyctcdecode import build_ctcdecoder
    except ImportError:
        print("pyctcdecode is not installed (pip install pyctcdecode kenlm): its rows are skipped", file=sys.stderr)
        return None
    labels = ["", *alphabet]  # pyctcdecode: "" is the CTC blank, " " the word separator
    decoder = build_ctcdecoder(labels, kenlm_model_path=lm, alpha=lm_weight / math.log(10), beta=word_score)

    def with_beam(beam: int) -> Callable[[torch.Tensor], str]:
        return lambda log_probs: str(decoder.decode(log_probs.numpy(), beam_width=beam))

    return with_beam


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", help="JSONL manifest to decode")
    parser.add_argument("--lm", required=True, help="KenLM model (ARPA or binary with its .vocab)")
    parser.add_argument("--model", "-m", default=None, help="acoustic model directory (default: the bundled model)")
    parser.add_argument("--cache", default=None, help="log-prob cache (.safetensors): reused when it exists, written otherwise")
    parser.add_argument("--beam-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--token-beams", type=int, nargs="+", default=[8, 5], help="our symbols tried per frame (pyctcdecode prunes by probability)")
    parser.add_argument("--lm-weight", type=float, default=1.5, help="alpha, on log10 LM scores (as in asr)")
    parser.add_argument("--word-score", type=float, default=-1.0, help="beta, per word")
    parser.add_argument("--normalizer", default="english", choices=["english", "basic", "none"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    recognizer = load_model(args.model)
    if args.cache and Path(args.cache).is_file():
        items, _ = load_cache(args.cache)
    else:
        items = cache_log_probs(recognizer, read_manifest(args.manifest))
        if args.cache:
            save_cache(args.cache, items, str(recognizer.path))
    audio = sum(i.duration for i in items)
    decoding = Decoding(recognizer.tokenizer, recognizer.output_frame_seconds)

    def ours(options: DecoderOptions) -> Callable[[torch.Tensor], str]:
        return lambda log_probs: " ".join(w.text for w in decoding.decode(log_probs, options)[0])

    rows: list[tuple[str, int | None, list[str], float]] = []
    texts, seconds = time_decoder(items, ours(DecoderOptions()))
    rows.append(("greedy", None, texts, seconds))
    peer = pyctcdecode_decoder(recognizer.tokenizer.alphabet, args.lm, args.lm_weight, args.word_score)
    for beam in args.beam_sizes:
        for tokens in args.token_beams:
            options = DecoderOptions(method="beam", beam_size=beam, token_beam=tokens, lm=args.lm, lm_weight=args.lm_weight, word_score=args.word_score)
            rows.append((f"asr beam + LM, token beam {tokens}", beam, *time_decoder(items, ours(options))))
        no_lm = DecoderOptions(method="beam", beam_size=beam, token_beam=args.token_beams[0])
        rows.append((f"asr beam, no LM, token beam {args.token_beams[0]}", beam, *time_decoder(items, ours(no_lm))))
        if peer is not None:
            rows.append(("pyctcdecode beam + LM", beam, *time_decoder(items, peer(beam))))

    print(f"{len(items)} utterances, {audio:.1f} s of audio, LM {args.lm}, lm_weight {args.lm_weight:g}, word_score {args.word_score:g}, 1 thread")
    print("| decoder | beam | WER % | CER % | decode s | x realtime | speed vs pyctcdecode |")
    print("|---|---|---|---|---|---|---|")
    peer_seconds = {beam: s for name, beam, _, s in rows if name.startswith("pyctcdecode")}
    for name, beam, texts, seconds in rows:
        wer, cer = score_trial(items, texts, args.normalizer)
        ratio = f"{peer_seconds[beam] / seconds:.1f}x" if beam in peer_seconds else "-"
        print(f"| {name} | {beam or '-'} | {100 * wer:.2f} | {100 * cer:.2f} | {seconds:.2f} | {audio / seconds:.0f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
