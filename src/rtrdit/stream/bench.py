"""Streaming benchmark: push a generated clip through a session as a camera would (the
first frame, then 4 frames at a time) and measure throughput, latency and memory.

Frames are generated on the fly (a camera move over a shipped photo, played back and
forth), so a long run holds no video in memory and any growth is the stylizer's own.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from rtrdit.stream.stylizer import Stylizer


@dataclass
class BenchResult:
    """Numbers of one streaming run (JSON keys are the field names)."""

    fps: float
    first_frame_latency_ms: float
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    peak_rss_mb: float
    late_over_early: float
    rss_start_mb: float
    rss_end_mb: float
    frames: int
    seconds: float
    width: int
    height: int
    latency_ms_by_tenth: list[float]  # mean chunk latency in each tenth of the run: growth vs host noise

    def to_dict(self) -> dict[str, float | int | list[float]]:
        return asdict(self)


def current_rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def camera_loop(size: tuple[int, int], frames: int = 96) -> np.ndarray:
    """A short camera move over a shipped photo (or a moving pattern if none is installed)."""
    from rtrdit.codecs.photo import read_image
    from rtrdit.data.build import animate_image, package_images

    images = package_images()
    if images:
        return animate_image(read_image(images[0]), size, frames, np.random.default_rng(0))
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([np.stack([(xx + 3 * i) % 256, (yy + 2 * i) % 256, (xx ^ yy) % 256], -1)
                     for i in range(frames)]).astype(np.uint8)


def tenth_means(values: np.ndarray) -> list[float]:
    """Means of `values` over ten consecutive, near-equal parts (fewer when there are fewer values):
    a steady rise says the stylizer slows down, a step says the host did."""
    return [float(part.mean()) for part in np.array_split(values, min(10, len(values)))]


def ping_pong_index(j: int, n: int) -> int:
    """Frame of an n-frame clip shown at step j when it is played forth and back forever."""
    period = max(1, 2 * n - 2)
    r = j % period
    return r if r < n else period - r


def benchmark_frames(seconds: float, fps: float = 24.0) -> int:
    """How many frames a benchmark of ``seconds`` at ``fps`` streams (at least one)."""
    return max(1, round(seconds * fps))


def run_benchmark(stylizer: Stylizer, size: tuple[int, int], seconds: float, fps: float = 24.0,
                  prompt: str = "a traditional Chinese ink wash painting",
                  progress: Callable[[int], None] | None = None) -> BenchResult:
    """Stream `seconds` of video at `fps` (as many frames; pushed as fast as the model goes)."""
    loop = camera_loop(size)
    total = benchmark_frames(seconds, fps)
    sess = stylizer.session(prompt=prompt, seed=0, size=None)
    latencies: list[float] = []
    first_latency = float("nan")
    done = 0
    rss_start = current_rss_mb()
    t_start = time.perf_counter()
    i = 0
    while i < total:
        n = 1 if i == 0 else min(4, total - i)
        idx = [ping_pong_index(j, len(loop)) for j in range(i, i + n)]
        t0 = time.perf_counter()
        out = sess.push(loop[idx])
        dt = time.perf_counter() - t0
        if len(out):
            latencies.append(dt)
            if done == 0:
                first_latency = time.perf_counter() - t_start
        done += len(out)
        i += n
        if progress is not None:
            progress(i)
    done += len(sess.flush())
    secs = time.perf_counter() - t_start
    lat_ms = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    k = max(1, len(lat_ms) // 5)
    h, w = loop.shape[1:3]
    return BenchResult(
        fps=done / secs, first_frame_latency_ms=first_latency * 1000,
        latency_ms_p50=float(np.percentile(lat_ms, 50)), latency_ms_p95=float(np.percentile(lat_ms, 95)),
        latency_ms_p99=float(np.percentile(lat_ms, 99)), peak_rss_mb=_peak_rss_mb(),
        late_over_early=float(lat_ms[-k:].mean() / lat_ms[:k].mean()),
        rss_start_mb=rss_start, rss_end_mb=current_rss_mb(), frames=done, seconds=secs, width=w, height=h,
        latency_ms_by_tenth=tenth_means(lat_ms),
    )
