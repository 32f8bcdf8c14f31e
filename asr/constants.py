"""Values that several modules share. A value that one module alone uses lives in that module."""

from __future__ import annotations

# Front-end: 16 kHz audio, 80 log-mel bands (asr.features has the window and hop).
SAMPLE_RATE = 16_000
N_MELS = 80
LOG_FLOOR = 1e-6  # added before the log so silence stays finite; padding of cached features is its log

# Character vocabulary: blank first (asr.tokenizer), then space, letters and apostrophe.
DEFAULT_ALPHABET = " abcdefghijklmnopqrstuvwxyz'"

# Long-form transcription: the audio each window sees on each side without keeping its frames
# (asr.transcribe); the demo's partial results re-decode with the same context.
CONTEXT_SECONDS = 1.0

# Model directory layout.
CONFIG_FILENAME = "config.json"
WEIGHTS_FILENAME = "model.safetensors"

# Demo (`asr demo`): longest recording or upload, and how much audio a partial result re-decodes
# (older frames are kept from earlier passes).
DEMO_MAX_SECONDS = 120.0
DEMO_PARTIAL_WINDOW_SECONDS = 8.0
