"""Defaults shared by every stage of the pipeline, with the values derived from them."""

from __future__ import annotations

# Front-end: 16 kHz audio, 25 ms windows every 10 ms, 80 log-mel bands.
SAMPLE_RATE = 16_000
N_MELS = 80
WIN_MS = 25.0
HOP_MS = 10.0
WIN_LENGTH = int(SAMPLE_RATE * WIN_MS / 1000)  # 400 samples
HOP_LENGTH = int(SAMPLE_RATE * HOP_MS / 1000)  # 160 samples
N_FFT = 512  # next power of two above WIN_LENGTH
LOG_FLOOR = 1e-6  # added before the log so silence stays finite

# Character vocabulary: blank first, then space, letters and apostrophe.
BLANK = "<blank>"
DEFAULT_ALPHABET = " abcdefghijklmnopqrstuvwxyz'"

# Long-form transcription: windows of at most WINDOW_SECONDS, cut at the quietest
# point of the last CUT_SEARCH_SECONDS, with CONTEXT_SECONDS of audio on each side
# that the bidirectional model sees but whose frames are not kept.
WINDOW_SECONDS = 30.0
CUT_SEARCH_SECONDS = 5.0
CONTEXT_SECONDS = 1.0
READ_BLOCK_SECONDS = 60.0  # how much audio is read from disk at a time
SILENCE_PEAK = 1e-4  # a window whose samples all stay below this (-80 dBFS) is silence: no model run

# Subtitles: a new segment starts after a pause this long or when one grows too long.
SEGMENT_PAUSE_SECONDS = 0.8
SEGMENT_MAX_SECONDS = 10.0

# Model directory layout.
CONFIG_FILENAME = "config.json"
WEIGHTS_FILENAME = "model.safetensors"

# Demo (`asr demo`): longest recording or upload, model calls run at once (more wait in a queue
# of at most DEMO_QUEUE_SIZE), how often the microphone stream is re-decoded, how much audio a
# partial result re-decodes (older frames are kept from earlier passes), and the peak level
# below which a recording is called silent.
DEMO_MAX_SECONDS = 120.0
DEMO_CONCURRENCY = 2
DEMO_QUEUE_SIZE = 64
DEMO_STREAM_EVERY_SECONDS = 0.5
DEMO_PARTIAL_WINDOW_SECONDS = 8.0
DEMO_SILENCE_DBFS = -50.0

# Beam search defaults (tuned values for a model are stored in its config.json "decoder").
BEAM_SIZE = 32
BEAM_THRESHOLD = 25.0
TOKEN_BEAM = 5  # of ~29 characters, only the likeliest few per frame are worth extending (benchmarks/decoder.py)
LM_WEIGHT = 0.5
WORD_SCORE = 0.0
DECODER_CACHE_SIZE = 8  # beam decoders kept per recognizer (one per distinct options, least recently used out)
LEXICON_CACHE_SIZE = 4  # loaded LMs with their tries kept per process (each can take tens of MB)
TUNE_LM_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # `asr lm tune` grid
TUNE_WORD_SCORES = (-1.0, 0.0, 1.0, 2.0, 3.0)
