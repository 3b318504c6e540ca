"""End-to-end latency and fps of `rtrdit serve` over the WebSocket path on loopback.

Starts `rtrdit serve` as a separate process with a small random stylizer (tiny DiT, tiny
autoencoder, MiniLM; or --model DIR), then streams a real camera clip as JPEG frames at camera
rate from 1 and 4 concurrent clients. Latency is camera frame sent -> stylized frame received,
on the client's clock (the stats message before each frame names its source frame). With
--seconds 600 it also shows whether latency grows over a 10-minute session (first vs last minute).

    .venv/bin/python benchmarks/serve_latency.py                      # 1 and 4 clients, 20 s each
    .venv/bin/python benchmarks/serve_latency.py --clients 1 --seconds 600 --out /tmp/long
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VIDEOS = HERE.parents[1] / "shared" / "videos"


def build_model(path: Path, side: int = 64) -> Path:
    """The small random stylizer: tiny block-causal DiT, tiny autoencoder, MiniLM, side x side area."""
    import torch

    from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder
    from rtrdit.codecs.tiny_ae import TinyAutoencoder
    from rtrdit.model.config import get_config
    from rtrdit.model.dit import DiT
    from rtrdit.stream.stylizer import Stylizer, StylizerConfig

    torch.manual_seed(0)
    text = load_text_encoder("minilm")
    dit = DiT(get_config("tiny").replace(text_dim=text.dim, text_len=text.max_tokens, attention="block_causal"))
    Stylizer(dit, TinyAutoencoder(), CachedTextEncoder(text), StylizerConfig(area=side * side)).save_pretrained(path)
    return path


def start_server(model: str, threads: int) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen([sys.executable, "-m", "rtrdit.cli", "serve", "--model", model, "--port", "0",
                             "--devices", "cpu", "--max-sessions", "8"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m:
            return proc, f"ws://127.0.0.1:{m.group(1)}/ws"
        print(line, end="", file=sys.stderr)
    proc.kill()
    raise SystemExit("rtrdit serve did not start")


def client(url: str, jpegs: list[bytes], fps: float, seconds: float, result: dict, start: threading.Barrier) -> None:
    from websockets.sync.client import connect

    sent: dict[int, float] = {}
    got: list[tuple[int, float, float]] = []  # (source index, sent time, received time)
    with connect(url, max_size=None, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "style", "prompt": "Turn the video into an ink wash painting"}))

        def reader() -> None:
            pending = None
            try:
                for msg in ws:
                    now = time.monotonic()
                    if isinstance(msg, str):
                        m = json.loads(msg)
                        if m["type"] == "stats" and "frame" in m:
                            pending = m["frame"]
                    elif pending is not None:
                        got.append((pending, sent[pending], now))
                        pending = None
            except Exception:  # noqa: BLE001, S110 - the client keeps streaming whatever one send does
                pass

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        start.wait()
        t0 = time.monotonic()
        i = 0
        while True:
            due = t0 + i / fps
            now = time.monotonic()
            if due > t0 + seconds:
                break
            if due > now:
                time.sleep(due - now)
            sent[i] = time.monotonic()
            ws.send(jpegs[i % len(jpegs)])
            i += 1
        time.sleep(1.0)
    result.update(sent=i, got=got, t0=t0, seconds=seconds)


def summarize(results: list[dict], warmup: float) -> dict:
    lat, fps = [], []
    for r in results:
        t_start = r["t0"] + warmup
        kept = [(rcv - snd) * 1000 for _, snd, rcv in r["got"] if snd >= t_start]
        lat.extend(kept)
        fps.append(len(kept) / (r["seconds"] - warmup))
    sent = sum(r["sent"] for r in results)
    received = sum(len(r["got"]) for r in results)
    return {
        "clients": len(results),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None,
        "fps_per_client": round(float(np.mean(fps)), 2),
        "fps_total": round(float(np.sum(fps)), 2),
        "frames_sent": sent,
        "frames_stylized": received,
        "dropped_fraction": round(1 - received / max(sent, 1), 3),
    }


def drift(result: dict, window: float = 60.0) -> dict:
    """Latency p50 in the first and the last `window` seconds of one client's run."""
    got, t0, secs = result["got"], result["t0"], result["seconds"]
    first = [(r - s) * 1000 for _, s, r in got if t0 + 5 <= s < t0 + 5 + window]
    last = [(r - s) * 1000 for _, s, r in got if t0 + secs - window <= s]
    return {"first_window_p50_ms": round(float(np.median(first)), 1) if first else None,
            "last_window_p50_ms": round(float(np.median(last)), 1) if last else None, "window_s": window}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="stylizer directory (default: a small random one built in a tmp dir)")
    ap.add_argument("--clients", default="1,4", help="comma-separated client counts (default 1,4)")
    ap.add_argument("--seconds", type=float, default=20.0, help="streaming time per run (default 20)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds left out at the start of each run")
    ap.add_argument("--fps", type=float, default=15.0, help="camera frame rate of each client (default 15)")
    ap.add_argument("--size", default="320x240", help="camera frame size sent (default 320x240)")
    ap.add_argument("--area-side", type=int, default=64, help="the random model runs at about SIDE x SIDE pixels")
    ap.add_argument("--threads", type=int, default=1, help="OMP threads of the server (default 1)")
    ap.add_argument("--out", type=Path, default=HERE / "serve_latency", help="writes OUT.json and OUT.md")
    args = ap.parse_args()

    from rtrdit.codecs.video import read_frames
    from rtrdit.serve.scheduler import encode_jpeg

    w, h = (int(v) for v in args.size.split("x"))
    frames = read_frames(VIDEOS / "dog.mp4", size=(w, h), count=60)
    jpegs = [encode_jpeg(f, quality=80) for f in frames]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(build_model(Path(tmp) / "model", args.area_side))
        proc, url = start_server(model, args.threads)
        runs = []
        try:
            for n in (int(c) for c in args.clients.split(",")):
                results = [{} for _ in range(n)]
                barrier = threading.Barrier(n)
                threads = [threading.Thread(target=client, args=(url, jpegs, args.fps, args.seconds, r, barrier))
                           for r in results]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                row = summarize(results, args.warmup)
                if args.seconds >= 180:
                    row["drift_client0"] = drift(results[0])
                print(json.dumps(row), flush=True)
                runs.append(row)
                time.sleep(1.0)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)

    record = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores (shared), no GPU",
        "model": args.model or f"small random stylizer (tiny DiT dim 32, tiny autoencoder, MiniLM), area {args.area_side}x{args.area_side}",
        "transport": "WebSocket, loopback, JPEG q80",
        "camera": f"{w}x{h} at {args.fps:g} fps from dog.mp4", "seconds_per_run": args.seconds,
        "warmup_s": args.warmup, "server_omp_threads": args.threads, "runs": runs,
    }
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [f"# rtrdit serve: end-to-end latency on loopback ({record['date']})", "",
             f"Machine: {record['machine']}. Model: {record['model']}. {record['transport']}; camera "
             f"{record['camera']}; {args.seconds:g} s per run, first {args.warmup:g} s left out. Latency = camera "
             "frame sent -> stylized frame received (client clock). Frames come out in groups of 4 (one latent "
             f"frame), so at {args.fps:g} fps up to ~{3000 / args.fps:.0f} ms of each latency is the wait for the group "
             "to fill.", "",
             "| clients | latency p50 (ms) | latency p95 (ms) | fps per client | fps total | frames dropped |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r['clients']} | {r['latency_ms_p50']} | {r['latency_ms_p95']} | {r['fps_per_client']} | "
                     f"{r['fps_total']} | {r['dropped_fraction']:.1%} |")
    for r in runs:
        if "drift_client0" in r:
            d = r["drift_client0"]
            lines.append(f"\nLatency drift ({r['clients']} client(s), {args.seconds:g} s): p50 {d['first_window_p50_ms']} "
                         f"ms in the first minute, {d['last_window_p50_ms']} ms in the last minute.")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
