"""HDR video (a phone's HLG, an HDR10 PQ file) is read as the SDR picture it carries, not washed out."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from video_clips import make_hdr_clip, sdr_nits

from rtrdit.cli import main
from rtrdit.codecs import hdr
from rtrdit.codecs.video import iter_frames, probe, resize_frame

# 32x32 patches: SDR colours below the roll-off (skin, sky, grass, grey), then HDR highlights (nits)
SDR_PATCHES = [(190, 140, 120), (90, 140, 200), (60, 130, 50), (128, 128, 128)]
HIGHLIGHTS = [(203, 203, 203), (400, 400, 400), (1000, 1000, 1000), (1000, 60, 60)]


def _frame() -> np.ndarray:
    """Display light (nits, BT.709 primaries) of one 128x64 test frame: SDR patches above, highlights below."""
    light = np.zeros((64, 128, 3))
    for i, rgb in enumerate(SDR_PATCHES):
        light[:32, 32 * i:32 * (i + 1)] = sdr_nits(np.array(rgb, np.uint8))
    for i, nits in enumerate(HIGHLIGHTS):
        light[32:, 32 * i:32 * (i + 1)] = nits
    return light


def _patch(img: np.ndarray, row: int, col: int, scale: int = 1) -> np.ndarray:
    """Mean colour of a patch's inside (6 px from its edges, where 4:2:0 chroma is not blended)."""
    s, m = 32 // scale, 6 // scale
    return img[row * s + m:(row + 1) * s - m, col * s + m:(col + 1) * s - m].reshape(-1, 3).mean(axis=0)


@pytest.fixture(scope="module", params=["hlg", "pq"])
def hdr_clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("hdr") / f"{request.param}.mp4"
    return make_hdr_clip(path, [_frame()] * 3, request.param), request.param


def test_an_hdr_video_is_read_as_the_sdr_picture_it_carries(hdr_clip: tuple[Path, str]) -> None:
    path, _ = hdr_clip
    got = next(iter_frames(path))
    for col, rgb in enumerate(SDR_PATCHES):
        assert np.abs(_patch(got, 0, col) - rgb).max() <= 2, (col, _patch(got, 0, col), rgb)
    # read as if it were SDR (what FFmpeg does without a tone map), the same picture is far off
    with av.open(str(path)) as c:
        raw = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert max(np.abs(_patch(raw, 0, col) - rgb).max() for col, rgb in enumerate(SDR_PATCHES)) > 20


def test_highlights_roll_off_in_order_and_keep_their_hue(hdr_clip: tuple[Path, str]) -> None:
    got = next(iter_frames(hdr_clip[0]))
    white, brighter, peak, red = (_patch(got, 1, col) for col in range(4))
    assert 235 < white[0] < brighter[0] < peak[0] <= 255  # 203 < 400 < 1000 nits, none clipped to the same
    assert np.ptp(white) < 2 and np.ptp(peak) < 2  # greys stay grey
    assert red[0] > 240 and red[1] < 110 and red[2] < 110  # a bright red stays red, not pink or white


def test_a_resized_read_matches_resizing_the_full_frame(hdr_clip: tuple[Path, str]) -> None:
    path, _ = hdr_clip
    full, small = next(iter_frames(path)), next(iter_frames(path, size=(64, 32)))
    expected = resize_frame(full, (64, 32))
    for row in range(2):
        for col in range(4):
            assert np.abs(_patch(small, row, col, 2) - _patch(expected, row, col, 2)).max() < 3


def test_probe_and_video_info_name_the_hdr_transfer(
        hdr_clip: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    path, transfer = hdr_clip
    name = {"hlg": "HLG", "pq": "PQ/HDR10"}[transfer]
    assert probe(path).hdr == name and probe(path).colour == "bt2020nc"
    assert main(["video", "info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hdr"] == name
    assert main(["video", "info", str(path)]) == 0
    assert f"{name}, read tone-mapped to SDR" in capsys.readouterr().out


def test_sdr_video_says_it_is_not_hdr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from video_clips import make_clip

    clip = make_clip(tmp_path / "sdr.mp4")
    assert probe(clip).hdr == ""
    assert main(["video", "info", str(clip), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hdr"] is None


@pytest.mark.parametrize("transfer", [hdr.HLG, hdr.PQ])
def test_tone_map_is_monotone_neutral_and_bounded(transfer: int) -> None:
    ramp = np.repeat(np.arange(0, 65536, 64, dtype=np.uint16)[:, None, None], 3, axis=2)  # grey, black to peak
    out = hdr.tone_map(ramp, transfer)[:, 0]
    assert out[0].tolist() == [0, 0, 0] and out[-1].tolist() == [255, 255, 255]
    assert (out[:, 0] == out[:, 1]).all() and (out[:, 1] == out[:, 2]).all()
    assert (np.diff(out[:, 0].astype(int)) >= 0).all()
    with pytest.raises(ValueError, match="not an HDR transfer"):
        hdr.tone_map(ramp, 1)


def test_the_roll_off_is_smooth_at_the_knee_and_reaches_white_at_the_peak() -> None:
    below, above = hdr._roll_off(np.array([hdr.KNEE - 1e-4])), hdr._roll_off(np.array([hdr.KNEE + 1e-4]))
    assert (above - below)[0] == pytest.approx(2e-4, rel=1e-3)  # slope 1 on both sides
    levels = hdr._roll_off(np.array([1.0, 2.0, 4.9, hdr.PEAK_NITS / hdr.REFERENCE_WHITE_NITS, 50.0]))
    assert (np.diff(levels[:4]) > 0).all() and levels[3:].tolist() == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(("full_range", "black", "white", "red"), [
    (False, (4096, 32768, 32768), (60160, 32768, 32768), (64 + 0.2627 * 876, 512 - 0.2627 / 1.8814 * 896, 960)),
    (True, (0, 32768, 32768), (65535, 32768, 32768), (0.2627 * 1023, 512 - 0.2627 / 1.8814 * 1023, 1023)),
])
def test_the_yuv_signal_is_read_in_the_streams_range(full_range: bool, black: tuple, white: tuple, red: tuple) -> None:
    """Black, white and BT.2020 red of a 10-bit stream (shifted to 16 bits) come out as 0, 65535 and pure red."""
    red16 = [round(v) * 64 for v in red]  # the 10-bit codes as FFmpeg's yuv444p16 carries them
    yuv = np.array([[black, white, red16]], np.uint16)
    got = hdr.signal_from_yuv16(yuv, 9, full_range).astype(int)[0]
    assert got[0].tolist() == [0, 0, 0] and got[1].tolist() == [65535] * 3
    assert got[2][0] > 65000 and got[2][1:].max() < 300
