"""Re-encode the audio of some manifests into one compact folder (Opus) with rewritten manifests.

Used to carry a training corpus to a rented GPU machine with a small upload limit:

    python recipes/default_model/pack.py data/train_real.jsonl synth/manifest.jsonl --out .gpu/data

Each manifest keeps its name (a generator's DIR/manifest.jsonl becomes DIR.jsonl); audio lands in
OUT/audio/<manifest stem>/<n>.opus (16 kHz mono, about 12 kbit/s at the default level) and paths
are relative to OUT. `--engine-hours piper=2.5` keeps about that many hours of a synthetic
manifest's clips of one engine (its `engine` field), in manifest order, to fit a corpus into an
upload limit. `--zip` also stores OUT's manifests and the audio they list in OUT.zip (no
compression: Opus does not shrink): one file instead of thousands of small ones, whose disk
blocks count against such a limit."""

from __future__ import annotations

import argparse
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import soundfile as sf

from asr.audio import load_audio
from asr.manifests import read_manifest_rows, write_manifest_rows

# libsndfile's compression level for Opus. At 16 kHz, 0.98 gives about 12 kbit/s and keeps the
# band above 4 kHz (0.96 gives 17 kbit/s, 1.0 about 7.6 kbit/s and cuts at 4 kHz). Measured with
# default-v1 on dev_lj: CER 63.2% from FLAC, 63.4% through 0.98, 68.3% through 1.0.
OPUS_LEVEL = 0.98


def encode(job: tuple[str, str, float]) -> tuple[str, float]:
    source, target, level = job
    audio = load_audio(source, 16000)
    sf.write(target, audio, 16000, format="OGG", subtype="OPUS", compression_level=level)
    return target, audio.size / 16000


def select_rows(rows: list[dict[str, Any]], engine_hours: dict[str, float]) -> list[dict[str, Any]]:
    """Rows in order; a capped engine's clips are kept while its total so far is under the cap
    (so the last one kept may pass it by one clip's length)."""
    left = {engine: hours * 3600 for engine, hours in engine_hours.items()}
    kept = []
    for row in rows:
        engine = row.get("engine")
        if isinstance(engine, str) and engine in left:
            if left[engine] <= 0:
                continue
            duration = row["duration"]
            left[engine] -= float(duration) if isinstance(duration, (int, float)) else 0.0
        kept.append(row)
    return kept


def engine_cap(value: str) -> tuple[str, float]:
    """'piper=2.5' -> ('piper', 2.5)."""
    engine, _, hours = value.partition("=")
    try:
        return engine, float(hours)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ENGINE=HOURS, got {value!r}") from None


def zip_folder(folder: Path, manifests: list[Path]) -> Path:
    """The manifests and the audio they list -> folder.zip, stored, paths relative to the folder
    (unzip it anywhere). Files of earlier packs into the same folder that no manifest lists stay out."""
    target = folder.with_suffix(".zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for manifest in manifests:
            archive.write(manifest, manifest.relative_to(folder).as_posix())
            for row in read_manifest_rows(manifest):
                archive.write(folder / row["audio_filepath"], row["audio_filepath"])
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--level", type=float, default=OPUS_LEVEL, help=f"Opus compression level, 0-1 (default {OPUS_LEVEL})")
    parser.add_argument("--zip", action="store_true", help="also write OUT.zip holding the whole folder")
    parser.add_argument("--engine-hours", nargs="+", type=engine_cap, default=[], metavar="ENGINE=HOURS", help="keep about HOURS of ENGINE's clips")
    args = parser.parse_args()
    engine_hours = dict(args.engine_hours)
    for manifest in args.manifests:
        name = f"{manifest.parent.name}.jsonl" if manifest.name == "manifest.jsonl" else manifest.name
        rows = select_rows(read_manifest_rows(manifest), engine_hours)
        folder = args.out / "audio" / Path(name).stem
        folder.mkdir(parents=True, exist_ok=True)
        jobs = []
        for n, row in enumerate(rows):
            source = Path(row["audio_filepath"])
            source = source if source.is_absolute() else manifest.parent / source
            jobs.append((str(source), str(folder / f"{n:06d}.opus"), args.level))
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(encode, jobs, chunksize=16))
        packed = [
            {"audio_filepath": str(Path(target).relative_to(args.out)), "duration": round(duration, 3), "text": row["text"]}
            for row, (target, duration) in zip(rows, results, strict=True)
        ]
        write_manifest_rows(args.out / name, packed)
        hours = sum(duration for _, duration in results) / 3600
        print(f"{manifest} -> {args.out / name}: {len(rows)} clips, {hours:.2f} h")
    if args.zip:
        target = zip_folder(args.out, sorted(args.out.glob("*.jsonl")))
        print(f"{target}: {target.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
