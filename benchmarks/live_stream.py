"""A live stream through `rtrdit stylize URL --listen` (`Stylizer.stylize_stream`) with the demo model.

A sender (a thread here, as OBS or a phone app would be) sends a camera clip from `../shared/videos/dog.mp4`
as RTMP in real time, at its own size and frame rate, with a sound track; the stylizer listens, stylizes
what arrives and writes an MP4. Prints the frames stylized per second of stream, the frames dropped to
stay live, and the lag at the end (from the sender's last packet to the finished file).

    python benchmarks/live_stream.py [--seconds 20] [--fps 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from rtrdit.codecs.video import iter_frames, probe
from rtrdit.stream.stylizer import Stylizer

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "videos" / "dog.mp4"


def send(url: str, seconds: float, fps: int, done: dict[str, float]) -> None:
    """Encode ``seconds`` of the camera clip (looped) with a 440 Hz tone and send them in real time."""
    import av

    frames = list(iter_frames(VIDEO, size=(512, 512)))
    while True:
        try:
            out = av.open(url, "w", format="flv")
            video = out.add_stream("libx264", rate=fps)
            video.width = video.height = 512
            video.pix_fmt = "yuv420p"
            video.options = {"preset": "veryfast", "tune": "zerolatency", "g": str(fps)}
            audio = out.add_stream("aac", rate=48000)
            audio.layout = "mono"
            t0 = time.monotonic()
            for i in range(round(seconds * fps)):
                frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
                frame.pts, frame.time_base = i, Fraction(1, fps)
                for packet in video.encode(frame):
                    out.mux(packet)  # the first one connects
                n = 48000 // fps
                wave = 0.2 * np.sin(2 * np.pi * 440 * (np.arange(n) + i * n) / 48000).astype(np.float32)
                sound = av.AudioFrame.from_ndarray(wave[None], format="fltp", layout="mono")
                sound.sample_rate, sound.pts, sound.time_base = 48000, i * n, Fraction(1, 48000)
                for packet in audio.encode(sound):
                    out.mux(packet)
                time.sleep(max(0.0, t0 + (i + 1) / fps - time.monotonic()))
            for stream in (video, audio):
                for packet in stream.encode(None):
                    out.mux(packet)
            out.close()
            done["sent"] = time.monotonic()
            return
        except ConnectionRefusedError:
            time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--json")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"rtmp://127.0.0.1:{port}/live/bench"
    stylizer = Stylizer.from_pretrained("demo")
    sent: dict[str, float] = {}
    threading.Thread(target=send, args=(url, args.seconds, args.fps, sent), daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "live.mp4"
        result = stylizer.stylize_stream(url, out, "a watercolor painting", listen=True, timeout=5)
        ended = time.monotonic()
        info = probe(out)
    total = round(args.seconds * args.fps)
    row = {"input": f"512x512 at {args.fps} fps, RTMP with AAC", "seconds": args.seconds, "frames_sent": total,
           "frames_stylized": result.frames, "frames_dropped": int(result.extra["dropped"]),
           "stylized_fps": round(result.frames / args.seconds, 1),
           "end_lag_s": round(ended - sent.get("sent", ended), 2),
           "output_duration_s": round(info.duration, 2), "output_has_audio": info.has_audio,
           "host": platform.node(), "cpu": platform.processor() or platform.machine()}
    print(json.dumps(row, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1) + "\n")


if __name__ == "__main__":
    main()
