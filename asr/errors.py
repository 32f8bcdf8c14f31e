"""The error types the toolkit raises on bad input. Each message names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class AsrError(Exception):
    """Base class of every error this package raises for bad input."""


class AudioError(AsrError):
    """An audio file could not be used: missing, empty, not audio, unsupported, or invalid samples."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class ModelError(AsrError):
    """A model directory is missing, incomplete, or holds a config or weights that do not fit."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ConfigError(AsrError):
    """A configuration file or override has an unknown key or a value of the wrong type."""


class ManifestError(AsrError):
    """A manifest line is not valid JSON or lacks a required field."""


class MissingDependencyError(AsrError):
    """An optional package that a feature needs (e.g. a peer recognizer, an exporter) is not installed."""

    def __init__(self, feature: str, reason: str) -> None:
        super().__init__(f"{feature}: {reason}")


class CheckpointError(AsrError):
    """A training checkpoint could not be written (e.g. the disk is full) or read back."""


class DeviceError(AsrError):
    """A device name that torch does not know, or a device this machine does not have."""


class UsageError(AsrError):
    """Command-line options that cannot work together, or inputs a command cannot use as given."""
