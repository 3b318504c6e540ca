"""The real thing: `rtrdit serve` in a subprocess and Debian's headless Chromium with a fake camera
fed from a real clip connect over WebRTC; the page receives stylized frames, switches to a preset
prompt and to a reference image, records the stylized stream, and leaves a screenshot; the /watch page
plays a WHIP publisher's stylized stream over WHEP and restyles it."""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, write_y4m
from video_clips import SHARED_VIDEOS

pytestmark = pytest.mark.xdist_group("serve")  # one worker builds the model once


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@contextlib.contextmanager
def running_server(model_dir: Path, *args: str) -> Iterator[tuple[str, list[str]]]:
    """`rtrdit serve --model DIR --port 0 ARGS` as a real process; yields its URL and the lines it
    printed on starting, then stops it with Ctrl-C (exit 0)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtrdit.cli", "serve", "--model", str(model_dir), "--port", "0",
         "--devices", "cpu", "--idle-timeout", "3", "--max-sessions", "2", *args],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    try:
        url, printed = None, []
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                printed.append(lines.get(timeout=1))
                m = re.search(r"(https?://[^/ ]+)/ on ", printed[-1])
                url = m.group(1) if m else None
            except queue.Empty:
                pass
        assert url is not None, f"rtrdit serve did not start (exit code {proc.poll()})"
        time.sleep(0.5)  # the lines printed right after the first
        while not lines.empty():
            printed.append(lines.get())
        yield url, printed
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture()
def cli_server(tiny_model_dir: Path) -> Iterator[str]:
    """`rtrdit serve --model DIR --port 0` as a real process; yields its URL, stops it with Ctrl-C."""
    with running_server(tiny_model_dir) as (url, _):
        yield url


def sessions(url: str) -> int:
    return httpx.get(url + "/health", timeout=5).json()["sessions"]


@pytest.mark.slow
def test_chromium_fake_camera_over_webrtc_switches_styles_and_records(cli_server: str, tmp_path: Path) -> None:
    import av
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from rtrdit.codecs.video import read_frames

    assert Path(CHROMIUM).exists(), "Chromium is missing: run scripts/install-browser.sh"
    clip = read_frames(SHARED_VIDEOS / "pexels-antoni-shkraba-8048492-540x960-25fps.mp4", size=(240, 320), count=30)
    camera = write_y4m(tmp_path / "camera.y4m", clip)
    reference = tmp_path / "reference.png"
    Image.fromarray(read_frames(SHARED_VIDEOS / "music.mp4", size=(128, 128), count=1)[0]).save(reference)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, timeout=60_000,
                                    args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={camera}"])
        try:
            page = browser.new_context(**PHONE, accept_downloads=True).new_page()
            page.set_default_timeout(40_000)
            page.goto(cli_server + "/?transport=webrtc")
            page.click("#start")
            page.wait_for_function("window.rtr.mode === 'webrtc' && window.rtr.framesReceived > 10")
            assert sessions(cli_server) == 1

            page.click("#presets button:has-text('Pixar')")
            page.wait_for_function("window.rtr.stats.style.prompt === 'Make it look like a Pixar 3D animation'")
            n = page.evaluate("window.rtr.framesReceived")
            page.wait_for_function(f"window.rtr.framesReceived > {n + 5}")

            page.set_input_files("#refFile", str(reference))
            page.wait_for_function("window.rtr.stats.style.reference === true && window.rtr.stats.style.prompt === null")
            n = page.evaluate("window.rtr.framesReceived")
            page.wait_for_function(f"window.rtr.framesReceived > {n + 5}")

            page.click("#record")
            page.wait_for_timeout(2000)
            with page.expect_download() as dl:
                page.click("#record")
            recording = tmp_path / dl.value.suggested_filename
            dl.value.save_as(recording)

            page.click("#flip")  # the other camera replaces the track without a new connection
            n = page.evaluate("window.rtr.framesReceived")
            page.wait_for_function(f"window.rtr.framesReceived > {n + 5}")

            assert page.evaluate("window.rtr.errors") == []
            assert page.evaluate("window.rtr.latencyMs") > 0
            assert re.fullmatch(r"≈\d+ ms", page.inner_text("#latency"))
            assert re.fullmatch(r"\d+\.\d fps", page.inner_text("#fps"))
            page.screenshot(path=str(tmp_path / "client.png"))

            # The WebSocket path of the same client, side by side: latency measured exactly (no ≈).
            ws_page = page.context.new_page()
            ws_page.set_default_timeout(40_000)
            ws_page.goto(cli_server + "/?transport=ws")
            ws_page.click("#start")
            ws_page.wait_for_function("window.rtr.mode === 'ws' && window.rtr.framesReceived > 10")
            assert sessions(cli_server) == 2
            assert re.fullmatch(r"\d+ ms", ws_page.inner_text("#latency"))
            assert ws_page.evaluate("window.rtr.errors") == []
        finally:
            browser.close()

    assert (tmp_path / "client.png").stat().st_size > 10_000
    assert recording.suffix in (".webm", ".mp4") and recording.stat().st_size > 1000
    with av.open(str(recording)) as f:
        decoded = sum(1 for _ in f.decode(video=0))
    assert decoded >= 5
    deadline = time.monotonic() + 15  # the page is gone: its session is freed
    while sessions(cli_server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sessions(cli_server) == 0


@pytest.mark.slow
def test_the_page_offers_the_models_own_presets_and_starts_in_the_first(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A model that names its styles (stylizer.json `presets`, as the demo does) gets them as the page's one-tap
    buttons in place of the general ones, and a stream started as the page opens is in the first of them; the
    /watch page offers them as well."""
    import json
    import shutil

    from playwright.sync_api import sync_playwright

    from rtrdit.codecs.video import read_frames

    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    config = json.loads((model / "stylizer.json").read_text())
    presets = [["Sketch", "a pencil sketch"], ["Thermal", "a thermal camera image"]]
    (model / "stylizer.json").write_text(json.dumps({**config, "presets": presets}))
    clip = read_frames(SHARED_VIDEOS / "music.mp4", size=(160, 120), count=10)
    camera = write_y4m(tmp_path / "camera.y4m", clip)
    with running_server(model) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, timeout=60_000,
                                    args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={camera}"])
        try:
            page = browser.new_context(**PHONE).new_page()
            page.set_default_timeout(40_000)
            page.goto(url + "/?transport=ws")
            page.wait_for_function("window.rtr.presets !== null")
            assert page.locator("#presets button").all_inner_texts() == ["Sketch", "Thermal"]
            assert page.input_value("#prompt") == "a pencil sketch"
            page.click("#start")
            page.wait_for_function("window.rtr.framesReceived > 2 && window.rtr.stats !== null")
            assert page.evaluate("window.rtr.stats.style.prompt") == "a pencil sketch"
            assert page.evaluate("window.rtr.errors") == []
            watch = page.context.new_page()  # the WHEP viewer's page offers them too (no stream published here)
            watch.goto(url + "/watch/nothing")
            watch.wait_for_function("window.rtr.presets !== null")
            assert watch.locator("#presets button").all_inner_texts() == ["Sketch", "Thermal"]
        finally:
            browser.close()


@pytest.mark.slow
def test_self_signed_https_gives_a_phone_on_the_lan_the_camera(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`--self-signed` on every interface: the certificate names the LAN address (a client that trusts
    it verifies it there), its printed fingerprint is the one served, and Chromium opening the printed
    LAN URL (token included) is a secure context that streams its camera and gets stylized frames."""
    from playwright.sync_api import sync_playwright

    from rtrdit.codecs.video import read_frames

    token = "s3cret-token"
    with running_server(tiny_model_dir, "--host", "0.0.0.0", "--token", token, "--self-signed") as (url, printed):
        assert url.startswith("https://0.0.0.0:")
        port = int(url.rsplit(":", 1)[1])
        lan = [m.group(1) for line in printed if (m := re.search(r"on the LAN: (https://\S+)", line))]
        fingerprint = next(m.group(1) for line in printed if (m := re.search(r"SHA-256 ([0-9A-F:]+)", line)))
        page_url = lan[0] if lan else f"https://127.0.0.1:{port}/?token={token}"  # a machine with no LAN address
        assert page_url.endswith(f":{port}/?token={token}")
        host = page_url.split("//")[1].split(":")[0]

        pem = ssl.get_server_certificate((host, port))
        assert hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest() == fingerprint.replace(":", "").lower()
        trusting = ssl.create_default_context(cadata=pem)  # checks the name too: the address must be in the certificate
        assert httpx.get(f"https://{host}:{port}/health", verify=trusting, timeout=10).status_code == 200
        with pytest.raises(httpx.ConnectError):  # a client that does not trust it is refused
            httpx.get(f"https://{host}:{port}/health", timeout=10)

        clip = read_frames(SHARED_VIDEOS / "dog.mp4", size=(160, 120), count=20)
        camera = write_y4m(tmp_path / "camera.y4m", clip)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, timeout=60_000,
                                        args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={camera}"])
            try:
                page = browser.new_context(**PHONE, ignore_https_errors=True).new_page()  # the phone's "proceed"
                page.set_default_timeout(40_000)
                page.goto(page_url.replace("/?", "/?transport=ws&"))
                assert page.evaluate("window.isSecureContext")
                page.click("#start")
                page.wait_for_function("window.rtr.mode === 'ws' && window.rtr.framesReceived > 5")
                assert page.evaluate("window.rtr.errors") == []
            finally:
                browser.close()


@contextlib.contextmanager
def whip_publisher(url: str, frames: Any) -> Iterator[None]:
    """An aiortc WHIP publisher (what OBS does) playing `frames` in a loop from a thread of its own
    (the Playwright test drives the browser synchronously); DELETEs its stream when the block ends."""
    import asyncio

    from whip_client import FramesTrack, ToneTrack, publish

    ready, stop, failed = threading.Event(), threading.Event(), []

    async def run() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            pub = await publish(client, url, FramesTrack(frames, loop=True), audio=ToneTrack(440))
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)
            await pub.close(client)

    def main() -> None:
        try:
            asyncio.run(run())
        except Exception as exc:  # noqa: BLE001 - reported by the test thread
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(60) and not failed, f"the WHIP publisher failed: {failed}"
    try:
        yield
    finally:
        stop.set()
        thread.join(30)


@pytest.mark.slow
def test_chromium_watches_a_whip_stream_over_whep_and_restyles_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`rtrdit serve` prints where an encoder publishes; a WHIP publisher streams a real clip and a
    tone, the /watch page plays the stylized stream over WHEP (its sound once Sound is tapped), changes
    its prompt and its reference, and says the stream ended when the publisher leaves."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from rtrdit.codecs.video import read_frames

    reference = tmp_path / "reference.png"
    Image.fromarray(read_frames(SHARED_VIDEOS / "music.mp4", size=(128, 128), count=1)[0]).save(reference)
    clip = read_frames(SHARED_VIDEOS / "dog.mp4", size=(160, 120), count=24)
    with running_server(tiny_model_dir) as (url, printed):
        assert any(f"publish to {url}/whip/NAME" in line and f"watch at {url}/watch/NAME" in line for line in printed)

        def stream() -> dict[str, Any]:
            (info,) = httpx.get(url + "/streams", timeout=5).json()["streams"]
            return info

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, timeout=60_000, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_context(**PHONE).new_page()
                page.set_default_timeout(40_000)
                with whip_publisher(url + "/whip/studio?prompt=ink%20wash", clip):
                    page.goto(url + "/watch/studio")
                    page.wait_for_function("window.rtr.connected && window.rtr.framesReceived > 10")
                    assert stream()["viewers"] == 1 and stream()["style"]["prompt"] == "ink wash"
                    page.wait_for_function("document.getElementById('prompt').value === 'ink wash'")
                    # the publisher's microphone: received, muted until the page's Sound button
                    page.wait_for_function("window.rtr.audio && window.rtr.audioPackets > 50")
                    assert page.evaluate("document.getElementById('outVideo').muted")
                    page.click("#sound")
                    assert not page.evaluate("document.getElementById('outVideo').muted")
                    page.wait_for_function("window.rtr.audioEnergy > 0.01")  # played: the tone, not silence

                    page.fill("#prompt", "neon glow")
                    page.click("#apply")
                    deadline = time.monotonic() + 20
                    while stream()["style"]["prompt"] != "neon glow" and time.monotonic() < deadline:
                        time.sleep(0.1)
                    assert stream()["style"] == {"prompt": "neon glow", "reference": False}
                    page.set_input_files("#refFile", str(reference))
                    while not stream()["style"]["reference"] and time.monotonic() < deadline:
                        time.sleep(0.1)
                    assert stream()["style"] == {"prompt": None, "reference": True}
                    n = page.evaluate("window.rtr.framesReceived")
                    page.wait_for_function(f"window.rtr.framesReceived > {n + 5}")
                    assert page.evaluate("window.rtr.errors") == []
                    page.screenshot(path=str(tmp_path / "watch.png"))
                page.wait_for_function("document.getElementById('status').textContent === 'ended'")
            finally:
                browser.close()
        assert httpx.get(url + "/streams", timeout=5).json()["streams"] == []
        assert sessions(url) == 0
    assert (tmp_path / "watch.png").stat().st_size > 10_000
