"""The browser client's screenshots in docs/ (`serve-client.jpg`, a phone held upright, and
`serve-client-landscape.jpg`): `rtrdit serve` with the demo model, headless Chromium whose fake camera plays a
clip from ../shared/videos, one of the model's presets tapped.

Usage: .venv/bin/python scripts/serve_screenshots.py [--clip PATH] [--preset NAME] [--out DIR]
(needs Chromium: bash scripts/install-browser.sh)
"""

from __future__ import annotations

import argparse
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
         "--use-fake-ui-for-media-stream"]
SCREENS = {"serve-client.jpg": (390, 844), "serve-client-landscape.jpg": (844, 390)}


def write_y4m(path: Path, frames: np.ndarray, fps: int = 15) -> Path:
    """Frames as the YUV4MPEG2 file Chromium's fake camera plays in a loop."""
    import av

    with av.open(str(path), "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for i, frame in enumerate(frames):
            f = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
            f.pts, f.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))
    return path


@contextmanager
def serving() -> Iterator[str]:
    """`rtrdit serve --model demo` on a free port; its URL, then Ctrl-C."""
    proc = subprocess.Popen([sys.executable, "-m", "rtrdit.cli", "serve", "--model", "demo", "--port", "0",
                             "--devices", "cpu"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    try:
        deadline, url = time.monotonic() + 60, None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                m = re.search(r"(https?://[^/ ]+)/ on ", lines.get(timeout=1))
                url = m.group(1) if m else None
            except queue.Empty:
                pass
        if url is None:
            raise SystemExit(f"rtrdit serve did not start (exit code {proc.poll()})")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path,
                        default=ROOT.parent / "shared/videos/pexels-antoni-shkraba-8048492-540x960-25fps.mp4")
    parser.add_argument("--preset", default="Pencil sketch", help="the preset button tapped (default: Pencil sketch)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from rtrdit.codecs.video import read_frames

    with tempfile.TemporaryDirectory() as tmp, serving() as url, sync_playwright() as p:
        camera = write_y4m(Path(tmp) / "camera.y4m", read_frames(args.clip, size=(240, 320), count=60))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, f"--use-file-for-fake-video-capture={camera}"])
        try:
            for name, (width, height) in SCREENS.items():
                page = browser.new_context(viewport={"width": width, "height": height}, is_mobile=True,
                                           has_touch=True).new_page()
                page.set_default_timeout(60_000)
                page.goto(url + "/?transport=webrtc")
                page.wait_for_function("window.rtr.presets !== null")
                page.click("#start")
                page.wait_for_function("window.rtr.framesReceived > 10")
                page.click(f"#presets button:has-text('{args.preset}')")
                n = page.evaluate("window.rtr.framesReceived")
                page.wait_for_function(f"window.rtr.framesReceived > {n + 40}")  # the new style settled
                page.screenshot(path=str(args.out / name), type="jpeg", quality=85)
                print(f"wrote {args.out / name} ({page.inner_text('#fps')}, {page.inner_text('#latency')})")
                page.context.close()
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
