"""`asr evaluate`: transcribe manifests (or read hypotheses made elsewhere), score them with one
normalizer for references and hypotheses alike, and write the summary, per-utterance JSONL and
an errors report for each manifest."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from asr.audio import audio_duration
from asr.decoding import DecoderOptions
from asr.errors import AsrError, ManifestError
from asr.fileio import atomic_write_bytes
from asr.manifests import ManifestEntry, read_manifest, read_rows
from asr.model_runs import run_model
from asr.scoring import CorpusScore, NormalizerName, corpus_score, error_report, get_normalizer, score_utterance
from asr.transcribe import Recognizer, TranscribeOptions


@dataclass(frozen=True)
class Hypothesis:
    audio_filepath: str
    reference: str  # as in the manifest
    hypothesis: str  # as produced
    duration: float  # seconds of audio
    decode_seconds: float | None  # wall time to transcribe it (None for hypotheses made elsewhere)
    error: str | None = None  # why the file could not be transcribed (scored as an empty hypothesis)


@dataclass(frozen=True)
class ManifestResult:
    manifest: str
    score: CorpusScore
    audio_seconds: float
    decode_seconds: float | None
    failures: tuple[str, ...] = ()  # utterances scored as empty: unreadable audio, no hypothesis

    @property
    def speed(self) -> float | None:
        """Audio seconds per wall second of transcription."""
        return self.audio_seconds / self.decode_seconds if self.decode_seconds else None


def entry_seconds(entry: ManifestEntry) -> float:
    """The manifest's duration, or the audio file's (from its header) when the row gives none;
    0 when the file cannot be read either (that is reported where it is transcribed)."""
    if entry.has_duration:
        return entry.duration
    try:
        return audio_duration(entry.audio_filepath)
    except AsrError:
        return 0.0


def missing_audio_files(manifests: Sequence[str | Path]) -> list[Path]:
    """Audio files that the manifests name and that do not exist, in order."""
    return [entry.audio_filepath for manifest in manifests for entry in read_manifest(manifest, require_duration=False) if not entry.audio_filepath.is_file()]


def transcribe_manifest(transcribe: Callable[[Path], str], entries: Sequence[ManifestEntry]) -> list[Hypothesis]:
    """Run any recognizer (ours or a peer's: audio path -> text) over the entries, timing each."""
    hypotheses = []
    for entry in entries:
        started = time.perf_counter()
        try:
            text, error = transcribe(entry.audio_filepath), None
        except AsrError as exc:
            text, error = "", str(exc)
            print(f"error: {exc}", file=sys.stderr)
        hypotheses.append(Hypothesis(str(entry.audio_filepath), entry.text, text, entry_seconds(entry), time.perf_counter() - started, error))
    return hypotheses


def transcribe_entries(recognizer: Recognizer, entries: Sequence[ManifestEntry], decoder: DecoderOptions) -> list[Hypothesis]:
    """Every entry transcribed with `decoder`: greedy file by file, beam search in a pool."""
    if decoder.method == "beam":
        return transcribe_manifest_beam(recognizer, entries, decoder)
    options = TranscribeOptions(decoder=decoder)
    return transcribe_manifest(lambda path: recognizer.transcribe(path, options=options).text, entries)


def transcribe_manifest_beam(recognizer: Recognizer, entries: Sequence[ManifestEntry], decoder: DecoderOptions) -> list[Hypothesis]:
    """The model over every entry first, then beam search over a process pool. An utterance's
    time is its model time plus its decode time (the wall time is shorter: decodes overlap)."""
    from asr.decoding_pool import ParallelDecoder

    runs = run_model(recognizer, entries)
    with ParallelDecoder(recognizer.tokenizer, recognizer.output_frame_seconds) as pool:
        decoded = iter(pool.decode(decoder, [run.log_probs for run in runs if run.log_probs is not None]))
    hypotheses = []
    for run in runs:
        text, decode_seconds = next(decoded) if run.log_probs is not None else ("", 0.0)
        entry = run.entry
        duration = entry.duration if entry.has_duration else run.duration
        hypotheses.append(Hypothesis(str(entry.audio_filepath), entry.text, text, duration, run.seconds + decode_seconds, run.error))
    return hypotheses


def read_hypotheses(path: str | Path, entries: Sequence[ManifestEntry]) -> list[Hypothesis]:
    """Hypotheses produced by another system, matched to the manifest's entries. Accepted:
    JSONL with audio_filepath and text (paths relative to the file's folder), or TSV lines
    'KEY<TAB>TEXT' where KEY is the audio path or its file name without extension."""
    path = Path(path)
    found: dict[str, str] = {}
    for number, line in enumerate(read_rows(path, "hypothesis file"), start=1):
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            try:
                row = json.loads(line)
                key, text = row["audio_filepath"], row["text"]
                if not isinstance(key, str) or not isinstance(text, str):
                    raise TypeError("audio_filepath and text must be strings")
            except (json.JSONDecodeError, RecursionError, KeyError, TypeError) as exc:
                raise ManifestError(f"{path}:{number}: expected JSON with audio_filepath and text") from exc
            key = str(Path(key) if Path(key).is_absolute() else path.parent / key)
        else:
            key, _, text = line.partition("\t")
        found[key] = text
        found.setdefault(Path(key).stem, text)
    hypotheses = []
    for entry in entries:
        text = found.get(str(entry.audio_filepath), found.get(entry.audio_filepath.stem))
        error = None if text is not None else f"{entry.audio_filepath}: no hypothesis in {path}"
        hypotheses.append(Hypothesis(str(entry.audio_filepath), entry.text, text or "", entry_seconds(entry), None, error))
    return hypotheses


def score_hypotheses(manifest: str | Path, hypotheses: Sequence[Hypothesis], normalizer: NormalizerName, output_dir: Path | None, name: str) -> ManifestResult:
    normalize = get_normalizer(normalizer)
    items = [score_utterance(normalize(h.reference), normalize(h.hypothesis)) for h in hypotheses]
    score = corpus_score(items)
    timed = [h.decode_seconds for h in hypotheses if h.decode_seconds is not None]
    failures = tuple(h.error for h in hypotheses if h.error)
    result = ManifestResult(str(manifest), score, sum(h.duration for h in hypotheses), sum(timed) if timed else None, failures)
    if output_dir is not None:
        rows = []
        for hyp, item in zip(hypotheses, items, strict=True):
            row = asdict(hyp)
            row.update(
                normalized_reference=item.reference,
                normalized_hypothesis=item.hypothesis,
                ref_words=item.ref_words,
                substitutions=item.substitutions,
                deletions=item.deletions,
                insertions=item.insertions,
            )
            rows.append(json.dumps(row, ensure_ascii=False))
        atomic_write_bytes(output_dir / f"{name}.utterances.jsonl", ("\n".join(rows) + "\n").encode())
        report = error_report([Path(h.audio_filepath).stem for h in hypotheses], items, score)
        atomic_write_bytes(output_dir / f"errs-{name}.txt", report.encode())
    return result


def output_names(manifests: Sequence[str | Path]) -> list[str]:
    """File-name stems for each manifest's reports, made unique with the parent folder's name."""
    stems = [Path(m).stem for m in manifests]
    names = [f"{Path(m).parent.name}-{s}" if stems.count(s) > 1 else s for m, s in zip(manifests, stems, strict=True)]
    seen: Counter[str] = Counter()
    unique = []
    for name in names:  # the same manifest given twice gets -2, -3, ...
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return unique


def format_table(results: Sequence[ManifestResult], systems: Sequence[str] = ()) -> str:
    """A Markdown table, one row per result; with systems, the first column names each row's system."""
    header = f"| {'system (manifest)' if systems else 'manifest'} | utts | words | WER % | 95% CI | CER % | sub | del | ins | audio s | x realtime |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for index, r in enumerate(results):
        s = r.score
        speed = f"{r.speed:.1f}" if r.speed else "-"
        first = f"{systems[index]} ({Path(r.manifest).name})" if systems else r.manifest
        lines.append(
            f"| {first} | {s.utterances} | {s.ref_words} | {100 * s.wer:.2f} | {100 * s.wer_low:.1f}-{100 * s.wer_high:.1f} | "
            f"{100 * s.cer:.2f} | {s.substitutions} | {s.deletions} | {s.insertions} | {r.audio_seconds:.1f} | {speed} |"
        )
    return "\n".join(lines) + "\n"


def evaluate(
    manifests: Sequence[str | Path],
    recognizer: Recognizer | None,
    hypothesis_files: Sequence[str | Path] = (),
    normalizer: NormalizerName = "english",
    output_dir: str | Path | None = None,
    decoder: DecoderOptions | None = None,
) -> list[ManifestResult]:
    """Score each manifest: with the recognizer, or from hypothesis_files (one per manifest).
    Beam search decodes on all cores once the model has run over a manifest."""
    if hypothesis_files and len(hypothesis_files) != len(manifests):
        raise ValueError(f"{len(hypothesis_files)} hypothesis files for {len(manifests)} manifests: give one per manifest")
    out = Path(output_dir) if output_dir is not None else None
    results = []
    for index, (manifest, name) in enumerate(zip(manifests, output_names(manifests), strict=True)):
        entries = read_manifest(manifest, require_duration=False)
        if hypothesis_files:
            hypotheses = read_hypotheses(hypothesis_files[index], entries)
            for hypothesis in hypotheses:
                if hypothesis.error:
                    print(f"error: {hypothesis.error}", file=sys.stderr)
        elif recognizer is not None:
            hypotheses = transcribe_entries(recognizer, entries, decoder or recognizer.default_decoder())
        else:
            raise ValueError("give a recognizer or hypothesis files")
        results.append(score_hypotheses(manifest, hypotheses, normalizer, out, name))
    if out is not None:
        atomic_write_bytes(out / "summary.md", format_table(results).encode())
    return results
