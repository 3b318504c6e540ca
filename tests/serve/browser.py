"""Helpers for the headless Chromium test: a fake-camera file and the browser launch flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]


def write_y4m(path: Path, frames: np.ndarray, fps: int = 15) -> Path:
    """uint8 RGB frames (T, H, W, 3), even sizes, as a YUV4MPEG2 file (Chromium's fake camera input)."""
    import cv2

    _, h, w, _ = frames.shape
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420).tobytes())
    return path
