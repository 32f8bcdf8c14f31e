"""Latency of the web demo: from the end of speech to the final text, for a 10-second clip.

    flock /tmp/asr-cpu.lock python benchmarks/demo_latency.py [--model DIR] [--repeats 5] [--no-server]

1. Microphone: the clip is fed to the demo's handlers in 0.5 s chunks of 48 kHz 16-bit audio, as
   a browser sends it; each chunk's partial refresh is timed, then the stop handler (the whole
   recording through the model once, decoding, posteriorgram and download files): that is the
   wait between the end of speech and the final text, network excluded.
2. Upload: `asr demo` runs on localhost and the clip is sent through the Gradio Python client;
   the time from sending to the answer includes the upload, the queue and the HTTP round trips.
Times are medians over the repeats (after one warm-up run), on however many threads torch uses
by default (all cores)."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asr.audio import load_audio  # noqa: E402
from asr.demo.app import DemoApp  # noqa: E402
from asr.transcribe import load_model  # noqa: E402

CLIP_SECONDS = 10.0
MIC_RATE = 48_000
CHUNK_SECONDS = 0.5


def ten_second_clip() -> np.ndarray:
    """The two bundled example clips back to back, cut to 10 s, at 48 kHz."""
    examples = ROOT / "demo" / "examples"
    audio = np.concatenate([load_audio(examples / name, MIC_RATE) for name in ("weather_report.flac", "library_notice.flac")])
    return audio[: int(CLIP_SECONDS * MIC_RATE)]


def microphone_run(app: DemoApp, clip: np.ndarray) -> tuple[list[float], float, str]:
    pcm = np.clip(np.round(clip * 32767), -32768, 32767).astype(np.int16)
    step = int(CHUNK_SECONDS * MIC_RATE)
    state, refreshes = app.start_recording(), []
    for start in range(0, pcm.size, step):
        began = time.perf_counter()
        state, *_ = app.stream_chunk((MIC_RATE, pcm[start : start + step]), state, "greedy", "")
        refreshes.append(time.perf_counter() - began)
    began = time.perf_counter()
    result = app.stop_recording(state, "greedy", "")
    final = time.perf_counter() - began
    assert result[1].startswith("Done: "), result[1]
    return refreshes, final, result[3]


def upload_run(url: str, path: Path) -> float:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    began = time.perf_counter()
    status = client.predict(handle_file(str(path)), "greedy", "", api_name="/transcribe")[0]
    elapsed = time.perf_counter() - began
    assert status.startswith("Done: "), status
    return elapsed


def serve(model: str | None, port: int) -> subprocess.Popen[bytes]:
    import urllib.request

    command = [sys.executable, "-m", "asr", "demo", "--port", str(port), *(["--model", model] if model else [])]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the demo did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--port", type=int, default=7899)
    parser.add_argument("--no-server", action="store_true", help="skip the upload measurement through a running server")
    args = parser.parse_args()

    clip = ten_second_clip()
    app = DemoApp(load_model(args.model))
    microphone_run(app, clip)  # warm-up: imports, allocator, matplotlib fonts
    refresh_means, refresh_maxima, finals = [], [], []
    for _ in range(args.repeats):
        refreshes, final, _ = microphone_run(app, clip)
        refresh_means.append(statistics.mean(refreshes))
        refresh_maxima.append(max(refreshes))
        finals.append(final)
    rows = [
        ("microphone: one partial refresh (mean over the 20 chunks)", statistics.median(refresh_means)),
        ("microphone: slowest partial refresh", statistics.median(refresh_maxima)),
        ("microphone: stop -> final text, plot and files", statistics.median(finals)),
    ]
    if not args.no_server:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "ten_seconds.flac"
            sf.write(path, clip, MIC_RATE)
            server = serve(args.model, args.port)
            try:
                upload_run(f"http://127.0.0.1:{args.port}/", path)  # warm-up
                uploads = [upload_run(f"http://127.0.0.1:{args.port}/", path) for _ in range(args.repeats)]
            finally:
                server.terminate()
                server.wait()
        rows.append(("upload through the Gradio client -> answer", statistics.median(uploads)))
    print(f"| {CLIP_SECONDS:g}-second clip, model {args.model or 'bundled'}, median of {args.repeats} | seconds |")
    print("|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
