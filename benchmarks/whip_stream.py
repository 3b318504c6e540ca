"""fps and latency of a WHIP-published camera stylized by `rtrdit serve` and watched over WHEP.

Starts `rtrdit serve --model demo` (or --model DIR) as a separate process, publishes a real clip at
camera rate over WHIP as OBS would (aiortc, send-only: `tests/serve/whip_client.py`) and watches it
with --viewers WHEP viewers from this process. Reports the stylized frames each viewer got per second,
the camera frames the server received, stylized and dropped per second (latest frame wins), and the
server's latency (camera frame received -> stylized frame out) sampled once a second. The camera
sends a sound too, a beep at the start of each loop of the clip, whose first 4 frames are black: the first
viewer also takes the sound, and the gap between a beep and the black frame at that viewer is how far
the sound is out of step with the stylized video (positive: the sound comes late).

    .venv/bin/python benchmarks/whip_stream.py --json benchmarks/whip_stream.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "serve"))
VIDEOS = HERE.parents[1] / "shared" / "videos"


def start_server(model: str) -> tuple[subprocess.Popen[str], str]:
    """`rtrdit serve --port 0` in its own process; returns it and its URL."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    proc = subprocess.Popen([sys.executable, "-m", "rtrdit.cli", "serve", "--model", model, "--port", "0"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    for line in proc.stderr:  # type: ignore[union-attr]
        if m := re.search(r"(https?://[^/ ]+)/ on ", line):
            return proc, m.group(1)
    raise SystemExit(f"rtrdit serve did not start (exit code {proc.wait()})")


async def measure(url: str, frames: np.ndarray, fps: float, viewers: int, seconds: float,
                  sound: bool = True) -> dict[str, Any]:
    import httpx
    from whip_client import FramesTrack, ToneTrack, publish, view

    clock: dict[str, float] = {}  # the camera and the microphone start together
    camera = FramesTrack(frames, fps, loop=True, clock=clock)
    beeps = ToneTrack(440, period=len(frames) / fps, beep=0.1, clock=clock)
    async with httpx.AsyncClient(timeout=30) as client:
        pub = await publish(client, f"{url}/whip/bench?prompt=a%20pencil%20sketch", camera, audio=beeps if sound else None)
        peers = [await view(client, f"{url}/whep/bench", audio=sound and i == 0) for i in range(viewers)]
        await asyncio.sleep(5)  # warm-up: connections, first chunks

        async def info() -> dict[str, float]:
            return (await client.get(f"{url}/streams")).json()["streams"][0]

        got0, s0, t0 = [len(p.frames) for p in peers], await info(), time.monotonic()
        latency = []
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(1)
            latency.append((await info())["latency_ms"])
        s1, dt = await info(), time.monotonic() - t0
        for p in peers:
            await p.close(client)
        await pub.close(client)
    rate = lambda key: round((s1[key] - s0[key]) / dt, 1)
    offsets = out_of_step(peers[0])
    return {"viewer_fps": [round((len(p.frames) - g) / dt, 1) for p, g in zip(peers, got0, strict=True)],
            "camera_fps_in": rate("received"), "stylized_fps": rate("processed"), "dropped_per_s": rate("dropped"),
            "latency_ms_p50": round(float(np.percentile(latency, 50)), 1),
            "latency_ms_p95": round(float(np.percentile(latency, 95)), 1),
            "audio_delay_ms": s1["audio_delay_ms"], "beeps_matched": len(offsets),
            "sound_late_ms_p50": round(float(np.percentile(offsets, 50)), 1) if offsets else None,
            "sound_late_ms_max_abs": round(float(np.max(np.abs(offsets))), 1) if offsets else None}


def out_of_step(peer: Any) -> list[float]:
    """ms from each black frame's arrival to its beep's, at one viewer (the black frames: far darker
    than the stylized clip's median; a beep: the first loud audio frame after a quiet one)."""
    light = np.array([f.mean() for f in peer.frames])
    dark = light < np.median(light) - 60
    flashes = [t for t, d, before in zip(peer.arrivals["video"][1:], dark[1:], dark[:-1], strict=True) if d and not before]
    loud = np.array([np.sqrt(np.mean(s.astype(np.float64) ** 2)) > 1000 for s in peer.sound])
    beeps = [t for t, x, before in zip(peer.arrivals["audio"][1:], loud[1:], loud[:-1], strict=True) if x and not before]
    offsets = []
    for b in beeps:
        near = min(flashes, key=lambda f: abs(f - b), default=None)
        if near is not None and abs(near - b) < 0.5:
            offsets.append((b - near) * 1000)
    return offsets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--size", default="256x192", help="camera WxH")
    parser.add_argument("--fps", type=float, default=24.0, help="camera frame rate")
    parser.add_argument("--viewers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-sound", action="store_true", help="a camera without a microphone")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    from rtrdit.codecs.video import read_frames

    w, h = (int(x) for x in args.size.split("x"))
    frames = read_frames(VIDEOS / "dog.mp4", size=(w, h), count=48)
    frames[:4] = 0  # black for 1/6 s (a frame or two may be dropped): seen as the beep is heard
    proc, url = start_server(args.model)
    try:
        result = asyncio.run(measure(url, frames, args.fps, args.viewers, args.seconds, not args.no_sound))
    finally:
        proc.terminate()
        proc.wait(30)
    result = {"model": args.model, "camera": args.size, "camera_fps": args.fps, "sound": not args.no_sound,
              "viewers": args.viewers,
              "seconds": args.seconds, "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              **result}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
