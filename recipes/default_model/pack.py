"""Re-encode the audio of some manifests into one compact folder (Opus) with rewritten manifests.

Used to carry a training corpus to a rented GPU machine with a small upload limit:

    python recipes/default_model/pack.py data/train_real.jsonl synth/manifest.jsonl --out .gpu/data

Each manifest keeps its name (a generator's DIR/manifest.jsonl becomes DIR.jsonl); audio lands in OUT/audio/<manifest stem>/<n>.opus (16 kHz mono,
about 18 kbit/s) and paths are relative to OUT."""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf

from asr.audio import load_audio

OPUS_LEVEL = 0.96  # libsndfile's compression level for Opus: about 18 kbit/s at 16 kHz


def encode(job: tuple[str, str]) -> tuple[str, float]:
    source, target = job
    audio = load_audio(source, 16000)
    sf.write(target, audio, 16000, format="OGG", subtype="OPUS", compression_level=OPUS_LEVEL)
    return target, audio.size / 16000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    for manifest in args.manifests:
        name = f"{manifest.parent.name}.jsonl" if manifest.name == "manifest.jsonl" else manifest.name
        rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        folder = args.out / "audio" / Path(name).stem
        folder.mkdir(parents=True, exist_ok=True)
        jobs = []
        for n, row in enumerate(rows):
            source = Path(row["audio_filepath"])
            source = source if source.is_absolute() else manifest.parent / source
            jobs.append((str(source), str(folder / f"{n:06d}.opus")))
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(encode, jobs, chunksize=16))
        with (args.out / name).open("w") as handle:
            for row, (target, duration) in zip(rows, results, strict=True):
                packed = {"audio_filepath": str(Path(target).relative_to(args.out)), "duration": round(duration, 3), "text": row["text"]}
                handle.write(json.dumps(packed) + "\n")
        print(f"{manifest} -> {args.out / name}: {len(rows)} clips")


if __name__ == "__main__":
    main()
