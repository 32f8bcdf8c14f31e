"""asr: speech-to-text with log-mel features, a BiLSTM stack and CTC decoding.

>>> import asr
>>> model = asr.load_model()            # the bundled English model
>>> result = model.transcribe("meeting.flac")
>>> result.text, result.words[0].start
"""

from __future__ import annotations

__version__ = "0.1.0"

from asr.errors import AsrError, AudioError, ConfigError, ManifestError, ModelError
from asr.results import Segment, Transcript, Word
from asr.transcribe import Recognizer, TranscribeOptions, load_model

__all__ = [
    "AsrError",
    "AudioError",
    "ConfigError",
    "ManifestError",
    "ModelError",
    "Recognizer",
    "Segment",
    "TranscribeOptions",
    "Transcript",
    "Word",
    "__version__",
    "load_model",
]  # fmt: skip
