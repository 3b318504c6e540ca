"""WHIP ingest and WHEP playback against the real server, with aiortc peers as the encoder (OBS
publishes the same way: SDP in a POST, 201 with the answer and a Location, DELETE at the end)
and as viewers: the stylized frames equal the stylizer's own output on the published camera, a
style sent to /streams/NAME reaches them, and bad requests get one status and one line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from live_server import LiveServer, live_server
from video_clips import SHARED_VIDEOS
from whip_client import SDP, FramesTrack, ToneTrack, dominant_hz, publish, view, wait_for

pytestmark = pytest.mark.xdist_group("serve")

THERMAL, SKETCH = "a thermal camera image", "a pencil sketch"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    """A still camera (one real frame, repeated): the stylized frames settle, so they can be compared."""
    from rtrdit.codecs.video import read_frames

    frame = read_frames(SHARED_VIDEOS / "music.mp4", size=(128, 96), count=1)[0]
    return np.repeat(frame[None], 12, axis=0)


@pytest.fixture(scope="module")
def demo() -> Any:
    from rtrdit.stream.stylizer import Stylizer

    return Stylizer.from_pretrained("demo")


@pytest.fixture(scope="module")
def demo_server(demo: Any) -> Iterator[LiveServer]:
    with live_server(demo, max_sessions=4, idle_timeout=20.0) as s:
        yield s


def stylized(demo: Any, frame: np.ndarray, prompt: str, n: int = 24) -> np.ndarray:
    """The demo stylizer's own last frame after `n` pushes of the still camera with `prompt`."""
    session = demo.session(prompt=prompt, seed=0)
    out = [session.push(frame[None]) for _ in range(n)]
    return np.concatenate([*out, session.flush()])[-1]


def test_a_whip_camera_is_stylized_for_two_whep_viewers_and_restyled_through_streams(
        demo_server: LiveServer, demo: Any, camera: np.ndarray) -> None:
    thermal, sketch = stylized(demo, camera[0], THERMAL), stylized(demo, camera[0], SKETCH)
    assert psnr(thermal, sketch) < 12  # the two styles are far apart

    async def run() -> None:
        url = demo_server.url
        async with httpx.AsyncClient(timeout=30) as client:
            pub = await publish(client, f"{url}/whip/cam?prompt={THERMAL}", FramesTrack(camera, loop=True))
            assert "/whip/cam/" in pub.location
            viewers = [await view(client, f"{url}/whep/cam") for _ in range(2)]
            await wait_for(lambda: min(len(v.frames) for v in viewers) >= 20, 60, "20 frames at each viewer")
            (info,) = (await client.get(f"{url}/streams")).json()["streams"]
            assert info["name"] == "cam" and info["viewers"] == 2 and info["style"]["prompt"] == THERMAL
            for v in viewers:  # the stylizer's frames, through two video codecs, at the camera's size
                assert v.frames[-1].shape == camera[0].shape
                assert psnr(v.frames[-1], thermal) > 22 and psnr(v.frames[-1], sketch) < 12

            r = await client.post(f"{url}/streams/cam", json={"type": "style", "prompt": SKETCH})
            assert r.status_code == 202
            n = len(viewers[0].frames)
            await wait_for(lambda: len(viewers[0].frames) >= n + 20, 60, "20 frames after the switch")
            assert psnr(viewers[0].frames[-1], sketch) > 20 and psnr(viewers[0].frames[-1], thermal) < 12
            assert (await client.get(f"{url}/streams")).json()["streams"][0]["style"]["prompt"] == SKETCH

            assert await viewers[1].close(client) == 200  # one viewer leaves, the stream goes on
            assert (await client.get(f"{url}/streams")).json()["streams"][0]["viewers"] == 1
            n = len(viewers[0].frames)
            await wait_for(lambda: len(viewers[0].frames) >= n + 5, 30, "frames after a viewer left")

            assert await pub.close(client) == 200  # the publisher's DELETE ends the stream and its viewers
            assert (await client.get(f"{url}/streams")).json()["streams"] == []
            assert demo_server.wait_sessions(0) == 0
            assert (await client.delete(viewers[0].location)).status_code == 404
            await viewers[0].close(client)

    asyncio.run(run())


def test_the_publishers_sound_reaches_the_viewers_that_ask_for_it_held_back_by_the_latency(
        server: LiveServer, camera: np.ndarray) -> None:
    """OBS sends a microphone with the camera: a viewer whose offer takes audio hears it (the
    publisher's 440 Hz tone, through two Opus codecs), held back by the video's latency, and a
    video-only viewer is not sent any; a publisher without sound still has viewers that offer audio."""
    async def run() -> None:
        url = server.url
        async with httpx.AsyncClient(timeout=30) as client:
            pub = await publish(client, f"{url}/whip/mic", FramesTrack(camera, loop=True), audio=ToneTrack(440))
            listener, watcher = await view(client, f"{url}/whep/mic", audio=True), await view(client, f"{url}/whep/mic")
            await wait_for(lambda: len(listener.sound) >= 75 and min(len(listener.frames), len(watcher.frames)) >= 10,
                           60, "1.5 s of sound and 10 frames at the viewers")
            heard = np.concatenate(listener.sound[-50:])  # the last second
            assert abs(dominant_hz(heard) - 440) < 5 and np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 2000
            assert watcher.sound == []
            (info,) = (await client.get(f"{url}/streams")).json()["streams"]
            assert info["audio"] is True and info["latency_ms"] > 0 and info["audio_delay_ms"] > 0
            assert await listener.close(client) == 200 and await watcher.close(client) == 200
            assert await pub.close(client) == 200

            quiet = await publish(client, f"{url}/whip/quiet", FramesTrack(camera, loop=True))  # no microphone
            asker = await view(client, f"{url}/whep/quiet", audio=True)  # a browser offers audio all the same
            await wait_for(lambda: len(asker.frames) >= 5, 60, "5 frames of a stream without sound")
            (info,) = (await client.get(f"{url}/streams")).json()["streams"]
            assert asker.sound == [] and info["audio"] is False and info["audio_delay_ms"] is None
            assert await asker.close(client) == 200 and await quiet.close(client) == 200
            assert server.wait_sessions(0) == 0

    asyncio.run(run())


def test_an_obs_like_h264_publisher_is_stylized(server: LiveServer, camera: np.ndarray) -> None:
    """OBS offers H.264 alone (with Opus): the server takes it, and its viewers get the stylized video."""
    async def run() -> None:
        url = server.url
        async with httpx.AsyncClient(timeout=30) as client:
            pub = await publish(client, f"{url}/whip/obs", FramesTrack(camera, loop=True), audio=ToneTrack(440),
                                codec="H264")
            offered = pub.pc.localDescription.sdp.split("m=video")[1]
            assert "H264/90000" in offered and "VP8" not in offered
            answered = pub.pc.remoteDescription.sdp.split("m=video")[1]
            assert "H264/90000" in answered and "a=recvonly" in answered
            viewer = await view(client, f"{url}/whep/obs", audio=True)
            await wait_for(lambda: len(viewer.frames) >= 10 and len(viewer.sound) >= 25, 60, "frames and sound")
            (info,) = (await client.get(f"{url}/streams")).json()["streams"]
            assert info["received"] >= 10 and info["audio"] is True and info["errors"] == []
            assert viewer.frames[-1].shape == camera[0].shape
            assert await viewer.close(client) == 200 and await pub.close(client) == 200
            assert server.wait_sessions(0) == 0

    asyncio.run(run())


def test_the_delayed_audio_track_sends_each_frame_at_its_time_and_ends_after_the_publisher() -> None:
    """`AudioRelay`: the delay follows the video's latency (smoothed), every viewer gets each frame as a
    frame of its own, timed by its samples and sent no earlier than its arrival plus the delay; the
    tracks end after what they hold when the publisher's sound ends."""
    from aiortc.mediastreams import MediaStreamError

    from rtrdit.serve.audio import SMOOTHING, AudioRelay

    async def run() -> None:
        tone = ToneTrack(440, seconds=0.4)  # 20 frames, in real time
        relay = AudioRelay(lambda: 0.3)
        a, b = relay.subscribe("a"), relay.subscribe("b")
        relay.unsubscribe("b")  # a viewer that left gets nothing more
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await relay.run(tone)
        assert relay.frames == 20 and relay.delay == pytest.approx(0.3 * (1 - (1 - SMOOTHING) ** 20))
        got, times = [], []
        while True:
            try:
                frame = await a.recv()
            except MediaStreamError:
                break
            got.append(frame)
            times.append(loop.time() - t0)
        assert len(got) == 20 and [f.pts for f in got] == [960 * i for i in range(20)]
        assert dominant_hz(np.concatenate([f.to_ndarray()[0] for f in got])) == pytest.approx(440, abs=5)
        assert times[-1] >= 0.38 + relay.delay * 0.9  # the last came at ~0.38 s and was held back
        assert len({id(f) for f in got}) == 20
        with pytest.raises(MediaStreamError):
            await b.recv()

    asyncio.run(run())


def test_whip_and_whep_refuse_bad_requests_with_a_status_and_one_line(server: LiveServer, camera: np.ndarray) -> None:
    async def run() -> None:
        url = server.url
        async with httpx.AsyncClient(timeout=30) as client:
            async def post(path: str, body: str | bytes, headers: dict[str, str] = SDP) -> tuple[int, str]:
                r = await client.post(url + path, content=body, headers=headers)
                return r.status_code, r.json()["error"]

            assert await post("/whip/cam", "v=0", {"Content-Type": "application/json"}) == (
                415, "the offer must be sent as Content-Type: application/sdp")
            assert await post("/whip/cam", "hello") == (400, "the body is not an SDP offer (it must start with v=0)")
            assert await post("/whip/cam", b"v=0\xff") == (400, "the offer is not UTF-8 text")
            audio_only = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
            assert await post("/whip/cam", audio_only) == (400, "the offer has no video (an m=video line)")
            av1 = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video 9 UDP/TLS/RTP/SAVPF 45 46\r\na=rtpmap:45 AV1/90000\r\n"
                   "a=rtpmap:46 rtx/90000\r\n")  # OBS with an AV1 encoder
            refused = "the offer's video is AV1; this server takes H.264 or VP8 (OBS: Settings -> Output -> Video Encoder x264)"
            assert await post("/whip/cam", av1) == (400, refused)
            status, message = await post("/whip/cam", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n")
            assert status == 400 and message.startswith("cannot answer the WebRTC offer: "), message
            assert await post("/whip/" + "x" * 65, "v=0") == (400, "a stream name is 1-64 letters, digits, '-' or '_'")
            assert await post("/whep/nobody", "v=0") == (404, "no stream 'nobody' is being published")
            assert (await client.options(url + "/whip/cam")).headers["accept-post"] == "application/sdp"
            assert server.wait_sessions(0) == 0  # nothing half-open is left of the refused offers

            pub = await publish(client, f"{url}/whip/cam", FramesTrack(camera, loop=True))
            with pytest.raises(AssertionError, match="409 .*already being published"):
                await publish(client, f"{url}/whip/cam", FramesTrack(camera))
            r = await client.patch(pub.location, content="a=ice-ufrag:x",
                                   headers={"Content-Type": "application/trickle-ice-sdpfrag"})
            assert r.status_code == 405 and "trickle ICE" in r.json()["error"]
            r = await client.post(f"{url}/streams/cam", json={"type": "style"})
            assert (r.status_code, r.json()["error"]) == (400, "a style message needs a prompt or a reference")
            r = await client.post(f"{url}/streams/cam", content="{not json")
            assert (r.status_code, r.json()["error"]) == (400, "a text message must be a JSON object")
            assert (await client.delete(pub.location + "x")).status_code == 404  # only its publisher may end it
            assert len((await client.get(f"{url}/streams")).json()["streams"]) == 1
            assert await pub.close(client) == 200
            assert server.wait_sessions(0) == 0

    asyncio.run(run())


def test_whip_takes_the_bearer_token_and_a_full_server_says_503(tiny_stylizer: Any, camera: np.ndarray) -> None:
    async def run(url: str) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            with pytest.raises(AssertionError, match="401 .*missing or wrong token"):
                await publish(client, f"{url}/whip/cam", FramesTrack(camera))
            with pytest.raises(AssertionError, match="401"):
                await publish(client, f"{url}/whip/cam", FramesTrack(camera), {"Authorization": "Bearer nope"})
            auth = {"Authorization": "Bearer s3cret"}
            pub = await publish(client, f"{url}/whip/cam", FramesTrack(camera, loop=True), auth)
            with pytest.raises(AssertionError, match="503 .*the server is full"):
                await publish(client, f"{url}/whip/other", FramesTrack(camera), auth)
            assert (await client.get(f"{url}/streams")).status_code == 401
            viewer = await view(client, f"{url}/whep/cam?token=s3cret")  # a player may give it in the URL
            await wait_for(lambda: len(viewer.frames) >= 3, 60, "frames with a token")
            assert await viewer.close(client, auth) == 200
            assert await pub.close(client, auth) == 200

    with live_server(tiny_stylizer, token="s3cret", max_sessions=1) as s:
        asyncio.run(run(s.url))
        assert s.wait_sessions(0) == 0


def test_a_publisher_that_vanishes_without_delete_frees_its_stream(tiny_stylizer: Any, camera: np.ndarray) -> None:
    async def run(url: str) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            pub = await publish(client, f"{url}/whip/cam", FramesTrack(camera, loop=True))
            viewer = await view(client, f"{url}/whep/cam")
            await wait_for(lambda: len(viewer.frames) >= 3, 60, "frames")
            await pub.pc.close()  # gone: no DELETE (a crashed encoder, a lost network)
            async def gone() -> bool:
                return (await client.get(f"{url}/streams")).json()["streams"] == []
            deadline = asyncio.get_running_loop().time() + 30
            while not await gone():
                assert asyncio.get_running_loop().time() < deadline, "the stream outlived its publisher"
                await asyncio.sleep(0.2)
            await wait_for(lambda: viewer.pc.connectionState in ("closed", "failed"), 30, "the viewer to be closed")
            await viewer.pc.close()

    with live_server(tiny_stylizer, idle_timeout=3.0) as s:
        asyncio.run(run(s.url))
        assert s.wait_sessions(0) == 0
