"""The demo under load: 20 Gradio clients at once for a minute against `asr demo` on localhost.
Every request is answered correctly, the server's memory stays flat and it never crashes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from gradio_client import Client

from tests.conftest import SPEECH, fixture_texts
from tests.test_demo import running_demo, transcribe_via_client

CLIENTS = 20
LOAD_SECONDS = 60.0
WARM_UP_SECONDS = 20.0  # allocator pools, caches and imports settle in this time
MAX_RSS_GROWTH_MB = 60.0  # after warm-up; a leak of one result per request would be far above this


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_twenty_clients_for_a_minute(tiny_model_dir: Path) -> None:
    texts = fixture_texts()
    clips = sorted(texts)
    answered = [0] * CLIENTS
    wrong: list[str] = []
    failures: list[str] = []
    with running_demo(tiny_model_dir) as (url, server):
        clients = [Client(url, verbose=False) for _ in range(CLIENTS)]
        start = time.monotonic()
        stop_at = start + LOAD_SECONDS

        def hammer(index: int) -> None:
            request = 0
            while time.monotonic() < stop_at:
                clip = clips[(index + request) % len(clips)]
                request += 1
                try:
                    status, _, text, image, files = transcribe_via_client(clients[index], SPEECH / clip)
                except Exception as exc:  # recorded and asserted on below
                    failures.append(f"client {index}: {type(exc).__name__}: {exc}")
                    return
                if text != texts[clip] or not status.startswith("Done: ") or image is None or files is None or len(files) != 4:
                    wrong.append(f"client {index}, {clip}: {status!r} {text!r}")
                answered[index] += 1

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        samples: list[tuple[float, float]] = []
        while any(thread.is_alive() for thread in threads):
            samples.append((time.monotonic() - start, rss_mb(server.pid)))
            time.sleep(1.0)
        for thread in threads:
            thread.join()
        assert server.poll() is None, "the demo crashed under load"
        after = transcribe_via_client(clients[0], SPEECH / clips[0])  # still serving
        assert after[2] == texts[clips[0]]

    assert not failures, failures[:5]
    assert not wrong, wrong[:5]
    assert min(answered) >= 3, f"a client was starved: answers per client {answered}"
    warm = [rss for t, rss in samples if t >= WARM_UP_SECONDS]
    assert len(warm) >= 30
    growth = max(warm) - warm[0]
    print(f"\n{sum(answered)} answers to {CLIENTS} clients in {LOAD_SECONDS:.0f} s; server RSS {warm[0]:.0f} -> {max(warm):.0f} MB after warm-up")
    assert growth < MAX_RSS_GROWTH_MB, f"server RSS grew {growth:.0f} MB after warm-up ({warm[0]:.0f} -> {max(warm):.0f} MB)"
