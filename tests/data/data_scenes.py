"""Small synthetic scenes for data tests (importable helpers; fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def scene(i: int, width: int, height: int) -> np.ndarray:
    """Frame ``i`` of a small moving scene: colour gradients, stripes and a disk sliding right."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([255 * xx / width, 255 * yy / height, 128 + 60 * np.sin(xx / 5.0 + yy / 7.0)], -1)
    cx, cy = 10 + 2.5 * i, height / 2
    disk = (xx - cx) ** 2 + (yy - cy) ** 2 < (min(width, height) / 5) ** 2
    img[disk] = (250, 40, 60)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_scene(path: Path, frames: int = 24, size: tuple[int, int] = (96, 80), fps: float = 24.0) -> Path:
    from rtrdit.codecs.video_writer import write_video

    w, h = size
    write_video(path, np.stack([scene(i, w, h) for i in range(frames)]), fps)
    return path
