"""The web demo end to end: `asr demo` serving on localhost, driven in headless Chromium
(Playwright, Debian's /usr/bin/chromium) and through the Gradio Python client."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.conftest import ROOT, SPEECH, fixture_texts

CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT_SECONDS = 180.0
# Set to a path (e.g. docs/demo.png) to keep the browser test's screenshot for the README.
SCREENSHOT_ENV = "ASR_DEMO_SCREENSHOT"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_demo(model_dir: Path, *extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`asr demo --model MODEL_DIR` in a subprocess on a free localhost port: (url, process)."""
    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"asr-demo-{port}.log", "wb")  # noqa: SIM115 - closed below
    command = [sys.executable, "-m", "asr", "demo", "--model", str(model_dir), "--port", str(port), *extra]
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert process.poll() is None, f"the demo exited with status {process.returncode}: {Path(log.name).read_text()}"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"the demo did not answer within {START_TIMEOUT_SECONDS} s: {Path(log.name).read_text()}"
            time.sleep(0.5)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def demo_url(tiny_model_dir: Path) -> Iterator[str]:
    with running_demo(tiny_model_dir) as (url, _):
        yield url


def fixture_duration(clip: str) -> str:
    """A fixture clip's duration as the status line shows it."""
    rows = [json.loads(line) for line in (SPEECH / "manifest.jsonl").read_text().splitlines()]
    return next(f"{row['duration']:.1f}" for row in rows if row["audio_filepath"] == clip)


def transcribe_via_client(client: Client, clip: Path, decoder: str = "greedy") -> tuple[str, str, str, str | None, list[str] | None]:
    result: tuple[str, str, str, str | None, list[str] | None] = client.predict(handle_file(str(clip)), decoder, "", api_name="/transcribe")
    return result


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (installed by .ci/run)")
def test_browser_upload_shows_transcript_plot_and_downloads(demo_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    clip, expected = "espeak_us_cat.flac", fixture_texts()["espeak_us_cat.flac"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1150})
            page.goto(demo_url)
            page.locator("#upload-audio input[type=file]").set_input_files(str(SPEECH / clip))  # the upload starts a transcription
            page.wait_for_function("document.querySelector('#transcript-text textarea')?.value.length > 0", timeout=60_000)
            assert page.locator("#transcript-text textarea").input_value() == expected
            assert page.locator("#status").inner_text().strip() == "Done: 1.9 s of audio, 6 words"

            words = page.locator("#transcript-html .asr-word")
            assert [words.nth(i).inner_text() for i in range(words.count())] == expected.split()
            first_title = words.first.get_attribute("title") or ""
            assert first_title.startswith("0.") and "s · confidence" in first_title  # time and confidence on hover

            plot = page.locator("#posteriorgram img")
            plot.wait_for(state="visible", timeout=30_000)
            page.wait_for_function("document.querySelector('#posteriorgram img')?.naturalWidth > 0", timeout=30_000)
            size = plot.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert size == [1000, 480]  # the rendered posteriorgram, not a placeholder
            links = page.locator("#downloads a[download]")
            hrefs = {links.nth(i).get_attribute("download"): links.nth(i).get_attribute("href") for i in range(links.count())}
            assert sorted(hrefs) == ["espeak_us_cat.json", "espeak_us_cat.srt", "espeak_us_cat.txt", "espeak_us_cat.vtt"]
            assert page.request.get(str(hrefs["espeak_us_cat.txt"])).text() == expected + "\n"
            assert json.loads(page.request.get(str(hrefs["espeak_us_cat.json"])).text())["text"] == expected

            shot = tmp_path / "demo.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
            if os.environ.get(SCREENSHOT_ENV):
                target = ROOT / os.environ[SCREENSHOT_ENV]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shot, target)

            # A bundled example clip is one click away: clicking it runs a transcription of it.
            page.get_by_text("weather_report.flac").first.click()
            page.wait_for_function("document.querySelector('#status')?.innerText.includes('8.0 s of audio')", timeout=60_000)
        finally:
            browser.close()


def looped_phrase_wav(path: Path, repeats: int = 4) -> Path:
    """A fixture clip between short pauses, repeated: what Chromium's fake microphone plays."""
    import numpy as np
    import soundfile as sf

    from asr.audio import load_audio

    phrase = load_audio(SPEECH / "espeak_us_cat.flac", 48_000)
    pause = np.zeros(int(0.6 * 48_000), dtype=np.float32)
    sf.write(path, np.concatenate([pause, phrase, pause] * repeats), 48_000, subtype="PCM_16")
    return path


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (installed by .ci/run)")
def test_browser_microphone_streams_partial_results_then_the_final_text(demo_url: str, tmp_path: Path) -> None:
    """Chromium's fake microphone plays a file; the browser's own audio processing (gain control,
    noise suppression) changes it, so the words are checked loosely here. That the final text
    equals a transcription of the whole recording is tested exactly in test_demo_analysis.py."""
    from playwright.sync_api import sync_playwright

    fake_microphone = looped_phrase_wav(tmp_path / "microphone.wav")
    flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={fake_microphone}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", *flags])
        try:
            page = browser.new_context(permissions=["microphone"]).new_page()
            page.goto(demo_url)
            page.get_by_role("tab", name="Microphone").click()
            page.locator("#microphone-audio button.record-button").click()
            partials: list[tuple[str, str]] = []
            deadline = time.monotonic() + 6.0
            while time.monotonic() < deadline:
                page.wait_for_timeout(400)
                partials.append((page.locator("#status").inner_text(), page.locator("#transcript-text textarea").input_value()))
            page.locator("#microphone-audio").get_by_role("button", name="Stop").click()
            page.wait_for_function("document.querySelector('#status')?.innerText.startsWith('Done: ')", timeout=60_000)
            status = page.locator("#status").inner_text()
            final = page.locator("#transcript-text textarea").input_value()
        finally:
            browser.close()
    heard = [text for status_line, text in partials if status_line.startswith("Listening: ") and text]
    assert len(set(heard)) >= 2, partials  # text appeared, and changed, while recording
    seconds = float(status.split()[1])
    assert 4.0 <= seconds <= 9.0, status
    assert len(set(final.split()) & {"the", "cat", "sat", "on", "mat"}) >= 2, final


def test_ten_concurrent_client_requests_all_answered(demo_url: str) -> None:
    texts = fixture_texts()
    clips = [sorted(texts)[i % len(texts)] for i in range(10)]
    client = Client(demo_url, verbose=False)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda clip: transcribe_via_client(client, SPEECH / clip), clips))
    for clip, (status, shaded, text, image, files) in zip(clips, results, strict=True):
        assert status == f"Done: {fixture_duration(clip)} s of audio, {len(texts[clip].split())} words"
        assert text == texts[clip]
        assert shaded.count('class="asr-word"') == len(texts[clip].split())
        assert image is not None and Path(image).stat().st_size > 0
        assert files is not None
        by_suffix = {Path(f).suffix: Path(f) for f in files}
        assert sorted(by_suffix) == [".json", ".srt", ".txt", ".vtt"]
        assert json.loads(by_suffix[".json"].read_text())["text"] == texts[clip]
        assert by_suffix[".txt"].read_text() == texts[clip] + "\n"


def test_bad_upload_gets_a_message_and_the_server_goes_on(demo_url: str, tmp_path: Path) -> None:
    client = Client(demo_url, verbose=False)
    fake = tmp_path / "notes.wav"
    fake.write_text("this is text, not audio\n")
    status, _, text, image, files = transcribe_via_client(client, fake)
    assert status == "Problem: notes.wav: not a readable audio file (unknown format or corrupt data)"
    assert (text, image, files) == ("", None, None)
    status, _, text, _, _ = transcribe_via_client(client, SPEECH / "flite_kal_rain.flac")
    assert text == fixture_texts()["flite_kal_rain.flac"]


def test_beam_decoder_through_the_client(demo_url: str) -> None:
    client = Client(demo_url, verbose=False)
    status, _, text, _, _ = transcribe_via_client(client, SPEECH / "espeak_gb_ship.flac", decoder="beam")
    assert status.startswith("Done: "), status
    assert text == fixture_texts()["espeak_gb_ship.flac"]  # the tiny model is sure of every letter: beam agrees with greedy


def test_api_clients_get_a_result_with_the_declared_defaults_and_any_empty_input(demo_url: str) -> None:
    """What view_api declares is what a client sends when it leaves an input out; None and empty
    values get a result or a one-line message, never an internal error."""
    client = Client(demo_url, verbose=False)
    parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/transcribe"]["parameters"]
    assert [p["parameter_name"] for p in parameters] == ["path", "decoder", "hotwords"]
    assert [(p["parameter_has_default"], p["parameter_default"]) for p in parameters[1:]] == [(True, "greedy"), (True, "")]
    clip, expected = SPEECH / "espeak_us_cat.flac", fixture_texts()["espeak_us_cat.flac"]
    defaults = {p["parameter_name"]: p["parameter_default"] for p in parameters[1:]}
    answers = [
        client.predict(handle_file(str(clip)), api_name="/transcribe"),  # every default left to the client
        client.predict(handle_file(str(clip)), *defaults.values(), api_name="/transcribe"),  # the defaults sent
        client.predict(handle_file(str(clip)), None, None, api_name="/transcribe"),
        client.predict(handle_file(str(clip)), "beam", None, api_name="/transcribe"),
        client.predict(handle_file(str(clip)), "greedy", "", api_name="/transcribe"),
    ]
    for status, _, text, _, _ in answers:
        assert status.startswith("Done: ") and text == expected
    status, _, text, _, _ = client.predict(None, api_name="/transcribe")
    assert (status, text) == ("Problem: choose or drop an audio file first", "")
    status, *_ = client.predict(handle_file(str(clip)), "beam", ":::", api_name="/transcribe")
    assert status.startswith("Problem: ") and "internal error" not in status and "\n" not in status
    with pytest.raises(AppError) as refused:  # Gradio itself checks a choice before the handler sees it
        client.predict(handle_file(str(clip)), "", api_name="/transcribe")
    assert "\n" not in str(refused.value) and "['greedy', 'beam']" in str(refused.value)
