"""The /ws protocol end to end on loopback: frames in, stylized frames out (equal to running the
stylizer directly), styles by prompt and reference, controls, errors, latest-frame-wins, several
clients, vanished and idle clients, token and size limits."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from live_server import LiveServer, live_server
from ws_client import WSClient, jpeg_frames

from rtrdit.serve.scheduler import Limits, decode_jpeg, decode_reference, encode_jpeg

pytestmark = pytest.mark.xdist_group("serve")  # one worker builds the model once


def png_b64(img: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def reference_image() -> np.ndarray:
    from video_clips import SHARED_VIDEOS

    from rtrdit.codecs.video import read_frames

    return read_frames(SHARED_VIDEOS / "music.mp4", size=(80, 80), count=1)[0]


def test_health_and_client_page(server: LiveServer) -> None:
    assert server.health()["status"] == "ok"
    assert server.health()["sessions"] == 0
    page = httpx.get(server.url + "/", timeout=5)
    assert page.status_code == 200 and "/static/app.js" in page.text
    js = httpx.get(server.url + "/static/app.js", timeout=5)
    assert js.status_code == 200 and "createDataChannel" in js.text
    assert httpx.get(server.url + "/static/../app.py", timeout=5).status_code == 404


def test_presets_are_the_models_own(server: LiveServer, tiny_stylizer: Any) -> None:
    """`GET /presets`: the model's one-tap styles, none for a model that names none (the page then offers its
    own); the demo's are its built-in styles."""
    import copy
    import dataclasses

    from rtrdit.data.stylizers import builtin_presets

    assert httpx.get(server.url + "/presets", timeout=5).json() == {"presets": []}
    knows = copy.copy(tiny_stylizer)
    knows.config = dataclasses.replace(tiny_stylizer.config, presets=builtin_presets())
    with live_server(knows) as srv:
        got = httpx.get(srv.url + "/presets", timeout=5).json()["presets"]
    assert got[0] == {"name": "Ink wash", "prompt": "a traditional Chinese ink wash painting"} and len(got) == 10


def test_frames_in_frames_out_equal_the_stylizer_with_a_prompt_then_reference_switch(
        server: LiveServer, tiny_stylizer: Any) -> None:
    jpegs, decoded = jpeg_frames(21)
    ref = reference_image()
    ref_b64 = png_b64(ref)
    prompt = "Turn the video into an ink wash painting"
    c = WSClient(server.ws_url)
    try:
        c.send_json({"type": "style", "prompt": prompt})
        for i, j in enumerate(jpegs):
            if i == 9:
                c.send_json({"type": "style", "reference": ref_b64})
            c.send_frame(j)
            time.sleep(0.06)
        c.wait_quiet()
        got = c.got
    finally:
        c.close()
    assert not got.errors
    idx = [i for i, _, _ in got.frames]
    assert len(idx) >= 9 and idx == sorted(idx) and len(set(idx)) == len(idx)
    switches = [s for s in got.stats if "frame" not in s and s["style"]["reference"]]
    assert switches, "the server never reported the reference style"
    a = switches[0]["processed"]  # frames pushed before the switch
    assert 0 < a < len(idx)
    # The same frames through the stylizer directly, switching style at the same frame.
    sess = tiny_stylizer.session(prompt=prompt, seed=0)
    direct = [sess.push(decoded[idx[:a]]), None]
    sess.set_style(reference=decode_reference(base64.b64decode(ref_b64), Limits()))
    direct[1] = sess.push(decoded[idx[a:]])
    direct_frames = np.concatenate(direct)
    served = np.stack([decode_jpeg(j, 10**8) for _, j, _ in got.frames]).astype(np.int16)
    expect = np.stack([decode_jpeg(encode_jpeg(f), 10**8) for f in direct_frames[: len(idx)]]).astype(np.int16)
    assert served.shape == expect.shape
    assert np.abs(served - expect).mean() < 1.0
    # ... and the reference did change the frames after the switch (the prompt alone would not give them).
    plain = tiny_stylizer.session(prompt=prompt, seed=0).push(decoded[idx])[: len(idx)].astype(np.int16)
    after = slice(len(idx) - 4, len(idx))
    assert np.abs(plain[after] - expect[after]).mean() > 3.0


def test_controls_pause_steps_reset(server: LiveServer) -> None:
    jpegs, _ = jpeg_frames(40)
    c = WSClient(server.ws_url)
    try:
        for j in jpegs[:10]:
            c.send_frame(j)
            time.sleep(0.04)
        assert c.wait(lambda g: len(g.frames) >= 5)
        c.send_json({"type": "control", "pause": True})
        assert c.wait(lambda g: any(s.get("paused") for s in g.stats))
        c.wait_quiet(0.5)
        n = len(c.got.frames)
        for j in jpegs[10:20]:
            c.send_frame(j)
            time.sleep(0.03)
        time.sleep(0.5)
        assert len(c.got.frames) == n, "frames came out while paused"
        c.send_json({"type": "control", "action": "resume", "steps": 1})
        c.send_json({"type": "control", "reset": True})
        for j in jpegs[20:]:
            c.send_frame(j)
            time.sleep(0.04)
        assert c.wait(lambda g: len(g.frames) >= n + 5)
        last = c.got.stats[-1]
        assert last["paused"] is False and last["steps"] == 1
        assert min(i for i, _, _ in c.got.frames[n:]) >= 20  # nothing sent while paused was stylized
        assert not c.got.errors
    finally:
        c.close()


def test_bad_messages_get_an_error_and_the_connection_and_server_stay_up(server: LiveServer) -> None:
    jpegs, _ = jpeg_frames(6)
    bad_text = [
        ("not json", "JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "dance"}', "unknown message type"),
        ('{"type": "style"}', "prompt or a reference"),
        ('{"type": "style", "prompt": "   "}', "empty"),
        ('{"type": "style", "prompt": 3}', "string"),
        ('{"type": "style", "reference": "@@@"}', "base64"),
        ('{"type": "style", "reference": "aGVsbG8="}', "cannot decode the reference"),
        ('{"type": "style", "prompt": "x", "path": "/etc/passwd"}', "unknown style field"),
        ('{"type": "control", "steps": 99}', "steps"),
        ('{"type": "control", "pause": "yes"}', "pause"),
        ('{"type": "control", "action": "explode"}', "action"),
        ('{"type": "control", "file": "x"}', "unknown control field"),
    ]
    c = WSClient(server.ws_url)
    try:
        for k, (text, _) in enumerate(bad_text):
            c.ws.send(text)
            assert c.wait(lambda g, k=k: len(g.errors) > k, timeout=5), text
        c.ws.send(b"GIF89a not a jpeg")
        assert c.wait(lambda g: len(g.errors) > len(bad_text))
        c.ws.send(b"\xff\xd8 corrupt jpeg")
        assert c.wait(lambda g: len(g.errors) > len(bad_text) + 1)
        for want, got in zip([w for _, w in bad_text] + ["JPEG", "cannot decode"], c.got.errors, strict=True):
            assert want.lower() in got.lower(), (want, got)
        for j in jpegs:  # the same connection still stylizes
            c.send_frame(j)
            time.sleep(0.04)
        assert c.wait(lambda g: len(g.frames) >= 5)
    finally:
        c.close()
    assert server.health()["status"] == "ok"


def test_latest_frame_wins_under_a_flood(server: LiveServer) -> None:
    """Frames sent far faster than the model keep at most a frame or two inside the server and the
    latency stays bounded; a queue would grow by hundreds of frames (many seconds) here."""
    jpegs, _ = jpeg_frames(30)
    c = WSClient(server.ws_url)
    try:
        t_end = time.monotonic() + 3.0
        i = 0
        while time.monotonic() < t_end:
            c.send_frame(jpegs[i % len(jpegs)])
            i += 1
            time.sleep(0.003)
        flood_end = time.monotonic()
        c.wait_quiet(1.0)
        c.send_json({"type": "control", "pause": False})  # answered with the session's counters
        assert c.wait(lambda g: "frame" not in g.stats[-1])
        got = c.got
    finally:
        c.close()
    assert i > 300 and not got.errors
    frame_stats = [s for s in got.stats if "frame" in s]
    assert len(frame_stats) >= 5
    in_flight = [s["received"] - s["dropped"] - s["processed"] for s in frame_stats]
    assert max(in_flight) <= 2, in_flight
    final = got.stats[-1]
    assert final["received"] == i and final["dropped"] > 0
    assert final["received"] == final["dropped"] + final["processed"]  # nothing left queued
    latency = [t - c.sent_at[idx] for idx, _, t in got.frames]
    assert max(latency) < 3.0, max(latency)
    # The last frames out are recent ones, not frames waiting since the start of the flood.
    assert got.frames[-1][0] > i * 0.8
    assert got.frames[-1][2] < flood_end + 3.0


def test_four_concurrent_clients_each_get_frames(server: LiveServer) -> None:
    jpegs, _ = jpeg_frames(24)
    clients = [WSClient(server.ws_url) for _ in range(4)]
    try:
        assert server.wait_sessions(4) == 4

        def stream(c: WSClient, k: int) -> None:
            c.send_json({"type": "style", "prompt": f"style number {k}"})
            for j in jpegs:
                c.send_frame(j)
                time.sleep(1 / 20)

        threads = [threading.Thread(target=stream, args=(c, k)) for k, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        for c in clients:
            assert c.wait(lambda g: len(g.frames) >= 9, timeout=20), len(c.got.frames)
            assert not c.got.errors
        counts = [len(c.got.frames) for c in clients]
        assert min(counts) >= 0.4 * max(counts), counts  # round-robin: nobody starves
    finally:
        for c in clients:
            c.close()
    assert server.wait_sessions(0) == 0


def test_vanished_clients_leave_no_session(server: LiveServer) -> None:
    jpegs, _ = jpeg_frames(8)
    clients = [WSClient(server.ws_url) for _ in range(3)]
    for c in clients:
        for j in jpegs:
            c.send_frame(j)
    assert server.wait_sessions(3) == 3
    for c in clients:  # gone without a close handshake, mid-stream
        c.ws.socket.close()
    assert server.wait_sessions(0) == 0


def test_silent_client_is_closed_after_the_idle_timeout(tiny_stylizer: Any) -> None:
    jpegs, _ = jpeg_frames(1)
    with live_server(tiny_stylizer, idle_timeout=1.0) as srv:
        c = WSClient(srv.ws_url)
        c.send_frame(jpegs[0])
        assert srv.wait_sessions(1) == 1
        assert c.wait(lambda g: g.closed is not None, timeout=8)
        assert any("without frames" in e for e in c.got.errors)
        assert srv.wait_sessions(0) == 0


def test_token_session_count_and_size_limits(tiny_stylizer: Any) -> None:
    from websockets.exceptions import ConnectionClosed

    token = "s3cret-token"
    limits = Limits(max_frame_bytes=30_000, max_frame_pixels=200 * 200, max_reference_bytes=40_000,
                    max_text_bytes=100_000)
    rng = np.random.default_rng(0)
    with live_server(tiny_stylizer, token=token, max_sessions=1, limits=limits, ws_max_size=200_000) as srv:
        for url in (srv.ws_url, srv.ws_url + "?token=wrong"):
            c = WSClient(url)
            assert c.wait(lambda g: g.closed is not None)
            assert c.got.errors == ["missing or wrong token"]
            assert getattr(c.got.closed, "rcvd", None) is not None and c.got.closed.rcvd.code == 1008
        assert httpx.post(srv.url + "/offer", json={"sdp": "x", "type": "offer"}, timeout=5).status_code == 401
        bad = httpx.post(srv.url + "/offer?token=" + token, content=b"{", timeout=5)
        assert bad.status_code == 400

        c = WSClient(srv.ws_url + "?token=" + token)
        try:
            assert srv.wait_sessions(1) == 1
            full = WSClient(srv.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
            assert full.wait(lambda g: g.closed is not None)
            assert "full" in full.got.errors[0] and full.got.closed.rcvd.code == 1013

            noise = encode_jpeg(rng.integers(0, 255, (180, 180, 3), dtype=np.uint8), quality=95)
            assert len(noise) > limits.max_frame_bytes
            checks = [
                (lambda: c.ws.send(noise), "too large"),
                (lambda: c.ws.send(encode_jpeg(np.zeros((240, 240, 3), np.uint8))), "too large"),
                (lambda: c.send_json({"type": "style", "reference": base64.b64encode(
                    b"\x89PNG" + bytes(50_000)).decode()}), "too large"),
                (lambda: c.ws.send('{"type": "style", "prompt": "' + "a" * 120_000 + '"}'), "too large"),
                (lambda: c.send_json({"type": "style", "prompt": "b" * 3000}), "too long"),
            ]
            for k, (send, want) in enumerate(checks):
                send()
                assert c.wait(lambda g, k=k: len(g.errors) > k, timeout=5), want
                assert want in c.got.errors[k], c.got.errors[k]
            c.send_frame(jpeg_frames(1)[0][0])
            assert c.wait(lambda g: len(g.frames) >= 1)
            # Bigger than the server's WebSocket message limit: the connection closes (1009), the server lives.
            with contextlib.suppress(ConnectionClosed):
                c.ws.send(bytes(300_000))
            assert c.wait(lambda g: g.closed is not None)
            assert c.got.closed.rcvd is not None and c.got.closed.rcvd.code == 1009
        finally:
            c.close()
        assert srv.wait_sessions(0) == 0
        assert srv.health()["status"] == "ok"
        ok = WSClient(srv.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
        try:
            ok.send_frame(jpeg_frames(1)[0][0])
            assert ok.wait(lambda g: len(g.frames) >= 1)
        finally:
            ok.close()


def test_a_reference_upload_pillow_cannot_open_is_read_by_ffmpeg(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A format Pillow cannot open (DPX): decoded by FFmpeg, pixel limit checked before decoding; a video
    uploaded as a reference is refused in one line."""
    private = tmp_path / "tmp"  # a temporary folder of its own: another test worker's copies are not this test's
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    from video_clips import make_clip, write_dpx_still

    from rtrdit.serve.scheduler import ServeError

    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[:20] = (200, 40, 60)
    data = write_dpx_still(tmp_path / "r.dpx", rgb).read_bytes()
    np.testing.assert_array_equal(decode_reference(data, Limits()), rgb)
    with pytest.raises(ServeError, match="reference image of 80x60 is too large"):
        decode_reference(data, Limits(max_reference_pixels=80 * 59))
    with pytest.raises(ServeError, match=r"cannot decode the reference image: not a photo \(5 frames"):
        decode_reference(make_clip(tmp_path / "c.mp4", frames=5).read_bytes(), Limits())
    assert os.listdir(private) == []  # the temporary copy is gone


def test_a_phone_heic_reference_upload_is_in_srgb(tmp_path: Path) -> None:
    """An iPhone's HEIC from the gallery (Display P3) is read through pillow-heif as a JPEG is: P3
    (200, 100, 80) as sRGB (216, 93, 72); through FFmpeg, which drops the profile, it stayed (200, 100, 80)."""
    from PIL import Image
    from video_clips import display_p3_icc, save_heic

    heic = save_heic(tmp_path / "r.heic", Image.new("RGB", (40, 30), (200, 100, 80)), display_p3_icc())
    ref = decode_reference(heic.read_bytes(), Limits())
    assert ref.shape == (30, 40, 3)
    assert np.abs(ref[5:25, 10:30].reshape(-1, 3).mean(axis=0) - (216, 93, 72)).max() < 2.5
