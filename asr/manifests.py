"""NeMo-style JSONL manifests: one JSON object a line with audio_filepath, duration and text
(and any other fields a corpus adds). Reading them needs no training code: evaluation, `asr lm`,
the recipes and the benchmarks use this module alone."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.errors import ManifestError
from asr.fileio import atomic_write_bytes


@dataclass(frozen=True)
class ManifestEntry:
    audio_filepath: Path  # absolute, or relative to the working directory
    duration: float  # seconds; NaN when the row has none (allowed where asked: evaluation needs none)
    text: str

    @property
    def has_duration(self) -> bool:
        return not math.isnan(self.duration)


def _json_object(line: str, where: str) -> dict[str, Any]:
    """One manifest line as its JSON object, or a ManifestError saying where and why not."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{where}: not valid JSON ({exc.msg})") from exc
    except RecursionError as exc:
        raise ManifestError(f"{where}: JSON nested too deeply") from exc
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    return row


def _duration(row: dict[str, object], where: str, required: bool) -> float:
    duration = row.get("duration")
    if duration is None and not required:
        return math.nan
    # Not NaN, infinite, or an integer too large for a float (10**400 is valid JSON).
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 < duration <= sys.float_info.max:
        raise ManifestError(f"{where}: missing or invalid 'duration' {duration!r}")
    return float(duration)


def parse_manifest_line(line: str, base_dir: Path, where: str, require_duration: bool = True) -> ManifestEntry:
    """One JSON line -> entry; audio paths are resolved against the manifest's folder. Without
    require_duration, a row may leave out "duration" (the entry's is then NaN)."""
    row = _json_object(line, where)
    audio, text = row.get("audio_filepath"), row.get("text")
    if not isinstance(audio, str) or not audio:
        raise ManifestError(f"{where}: missing or invalid 'audio_filepath'")
    duration = _duration(row, where, require_duration)
    if not isinstance(text, str):
        raise ManifestError(f"{where}: missing or invalid 'text'")
    path = Path(audio)
    return ManifestEntry(path if path.is_absolute() else base_dir / path, duration, text)


def read_rows(path: Path, what: str) -> list[str]:
    """The lines of a UTF-8 row file (a manifest, hypotheses), or a ManifestError naming it."""
    try:
        # Only newlines end a row: splitlines() would also cut at U+2028 or U+0085, which JSON
        # strings may hold unescaped.
        return path.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: {what} not found") from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: {what} is not UTF-8 text") from exc
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc


def iter_manifest(path: str | Path, require_duration: bool = True) -> Iterator[ManifestEntry | ManifestError]:
    """Entries of a manifest in order; a broken line comes out as a ManifestError so that a
    caller can report it and go on with the good lines."""
    path = Path(path)
    for number, line in enumerate(read_rows(path, "manifest"), start=1):
        if line.strip():
            try:
                yield parse_manifest_line(line, path.parent, f"{path}:{number}", require_duration)
            except ManifestError as exc:
                yield exc


def read_manifest(path: str | Path, require_duration: bool = True) -> list[ManifestEntry]:
    """All entries of a manifest; the first broken line is an error. Without require_duration,
    rows need only audio_filepath and text (for evaluation, which measures the audio itself)."""
    entries = []
    for item in iter_manifest(path, require_duration):
        if isinstance(item, ManifestError):
            raise item
        entries.append(item)
    return entries


def read_manifest_rows(path: str | Path, absolute_paths: bool = False) -> list[dict[str, Any]]:
    """Every row of a manifest as its JSON object, with all its fields (speaker, engine, ...), for
    recipes that split or rewrite manifests. With absolute_paths, each audio_filepath is resolved
    against the manifest's folder, so the rows can be written anywhere."""
    path = Path(path)
    rows = []
    for number, line in enumerate(read_rows(path, "manifest"), start=1):
        if not line.strip():
            continue
        row = _json_object(line, f"{path}:{number}")
        if absolute_paths and isinstance(row.get("audio_filepath"), str):
            row["audio_filepath"] = str((path.parent / row["audio_filepath"]).resolve())
        rows.append(row)
    return rows


def write_manifest_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows as a JSONL manifest (UTF-8, one object a line), all at once or not at all."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    atomic_write_bytes(Path(path), text.encode("utf-8"))
