"""The Debian TTS engines of the synthetic corpus: espeak-ng, flite, festival, pico and MBROLA.

    apt-get install espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
    # with the contrib and non-free components enabled:
    apt-get install festvox-rablpc16k festvox-don libttspico-utils mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1

Each engine is a program that writes a WAV file at its own rate. This module knows which
voices each offers, which of them are installed, and the command line that renders a text file
with one of them. MBROLA's diphone voices are driven through espeak-ng (`-v mb-us1`), which does
the text analysis and passes phonemes and prosody to the mbrola program."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CLASSIC_ENGINES = ("espeak-ng", "flite", "festival", "pico", "mbrola")
ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
# Variants that still sound like ordinary speech (no whisper, robot, croak or heavy flutter).
ESPEAK_VARIANTS = (
    *("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3", "klatt4"),
    *("Alex", "Andy", "Annie", "steph", "linda", "belinda", "david", "max", "paul", "rob", "robert", "edward", "michel", "quincy"),
    *("Mike", "Michael", "anika", "aunty", "travis", "adam", "benjamin", "Andrea", "Alicia", "Gene", "Marco"),
)
FLITE_VOICES = ("kal16", "slt", "rms", "awb")
# kal, ked, don: US male diphone voices; rab: British male; slt: US female (HTS).
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "rab_diphone", "don_diphone", "cmu_us_slt_arctic_hts")
FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")
PICO_VOICES = ("en-US", "en-GB")  # female voices
# us1: US female, us2 and us3: US male, en1: British male.
MBROLA_VOICES = ("us1", "us2", "us3", "en1")
MBROLA_VOICE_DIR = Path("/usr/share/mbrola")


@dataclass(frozen=True)
class Inventory:
    """The voices that are actually installed, per engine."""

    espeak_voices: tuple[str, ...]
    espeak_variants: tuple[str, ...]
    flite_voices: tuple[str, ...]
    neural: tuple[str, ...] = ()  # the neural engines that can be imported
    festival_voices: tuple[str, ...] = ()
    pico_voices: tuple[str, ...] = ()
    mbrola_voices: tuple[str, ...] = ()
    kokoro_voices: tuple[str, ...] = ()  # a neural engine's, but chosen per clip like these


def run_text(command: Sequence[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def installed_espeak_voices() -> set[str]:
    """Language names (second column) of `espeak-ng --voices=en`."""
    lines = run_text(["espeak-ng", "--voices=en"]).splitlines()[1:]
    return {line.split()[1] for line in lines if len(line.split()) > 1}


def installed_espeak_variants() -> set[str]:
    """File names under !v/ listed by `espeak-ng --voices=variant`."""
    names = re.findall(r"!v/(\S+)", run_text(["espeak-ng", "--voices=variant"]))
    return set(names)


def installed_flite_voices() -> set[str]:
    """`flite -lv` prints 'Voices available: kal awb ...'."""
    return set(run_text(["flite", "-lv"]).split(":", 1)[-1].split())


def installed_festival_voices() -> set[str]:
    """Festival finds a voice by its folder, /usr/share/festival/voices/<language>/<name>."""
    if shutil.which("text2wave") is None:
        return set()
    return {path.name for path in FESTIVAL_VOICE_DIR.glob("*/*") if path.is_dir()}


def installed_mbrola_voices() -> set[str]:
    """A voice is its database file, /usr/share/mbrola/<name>/<name>; espeak-ng must be there too."""
    if shutil.which("mbrola") is None or shutil.which("espeak-ng") is None:
        return set()
    return {name for name in MBROLA_VOICES if (MBROLA_VOICE_DIR / name / name).is_file()}


def _wanted(engine: str, offered: Sequence[str], installed: set[str]) -> tuple[str, ...]:
    voices = tuple(v for v in offered if v in installed)
    if not voices:
        raise SystemExit(f"{engine}: none of the voices {', '.join(offered)} is installed (see recipes/synth/README.md)")
    return voices


def load_classic_inventory(engines: Sequence[str], neural: tuple[str, ...] = ()) -> Inventory:
    """Keep the wanted voices that exist; fail early when an asked-for engine has none."""
    espeak = variants = flite = festival = pico = mbrola = ()
    if "espeak-ng" in engines:
        espeak = _wanted("espeak-ng", ESPEAK_VOICES, installed_espeak_voices())
        installed_variants = installed_espeak_variants()
        variants = tuple(v for v in ESPEAK_VARIANTS if v in installed_variants)
    if "flite" in engines:
        flite = _wanted("flite", FLITE_VOICES, installed_flite_voices())
    if "festival" in engines:
        festival = _wanted("festival", FESTIVAL_VOICES, installed_festival_voices())
    if "pico" in engines:
        pico = _wanted("pico", PICO_VOICES, set(PICO_VOICES) if shutil.which("pico2wave") else set())
    if "mbrola" in engines:
        mbrola = _wanted("mbrola", MBROLA_VOICES, installed_mbrola_voices())
    return Inventory(espeak, variants, flite, neural, festival, pico, mbrola)


def classic_command(engine: str, voice: str, speed: int, pitch: int, stretch: float, text_file: Path, wav: Path) -> list[str]:
    """The command that renders text_file into wav. speed (words a minute) and pitch (0-99) are
    espeak-ng's and MBROLA's; stretch (> 1 is slower) is flite's and festival's."""
    if engine == "espeak-ng":
        return ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-f", str(text_file), "-w", str(wav)]
    if engine == "mbrola":
        return ["espeak-ng", "-v", f"mb-{voice}", "-s", str(speed), "-p", str(pitch), "-f", str(text_file), "-w", str(wav)]
    if engine == "flite":
        return ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "-f", str(text_file), "-o", str(wav)]
    if engine == "festival":
        return ["text2wave", "-o", str(wav), "-eval", f"(voice_{voice})", "-eval", f"(Parameter.set 'Duration_Stretch {stretch})", str(text_file)]
    if engine == "pico":
        # pico2wave takes the text as an argument and has no rate option (sox changes the tempo).
        return ["pico2wave", "-l", voice, "-w", str(wav), text_file.read_text(encoding="utf-8").strip()]
    raise ValueError(f"not a classic engine: {engine}")
