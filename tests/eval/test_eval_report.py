"""Reports: JSON with mean and per-video values, the paper's Table 1 layout in Markdown, PNG curves."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from rtrdit.eval.plot import PALETTE, line_plot, nice_ticks, rolling_mean
from rtrdit.eval.report import MetricInfo, Report, VideoScores, read_json, to_markdown, write_json, write_plots


def _report() -> Report:
    metrics = [MetricInfo("clip_t", "CLIP-T", True), MetricInfo("csd", "CSD-Score", True),
               MetricInfo("clip_f", "CLIP-F", True), MetricInfo("warp", "Warp err", False)]
    videos = [
        VideoScores("a", 5, {"clip_t": 0.25, "csd": float("nan"), "clip_f": 0.99, "warp": 0.01},
                    {"clip_f": [0.99, 0.98, 1.0, 0.99]}, {"mode": "tv2v"}),
        VideoScores("b", 5, {"clip_t": 0.27, "csd": float("nan"), "clip_f": 0.97, "warp": 0.03},
                    {"clip_f": [0.97, 0.97, 0.97, 0.97]}, {"mode": "tv2v"}),
        VideoScores("c", 5, {"clip_t": float("nan"), "csd": 0.8, "clip_f": 0.95, "warp": 0.02}, {}, {"mode": "rv2v"}),
    ]
    return Report("Ours", metrics, videos, {"protocol": {"fps": 24}})


def test_json_has_means_and_per_video_values_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_json(_report(), path)
    data = json.loads(path.read_text())  # strict JSON: NaN written as null
    assert data["mean"]["clip_f"] == (0.99 + 0.97 + 0.95) / 3
    assert data["mean"]["clip_t"] == (0.25 + 0.27) / 2  # NaN (not applicable) videos left out
    assert data["by_mode"]["rv2v"]["csd"] == 0.8 and data["by_mode"]["rv2v"]["clip_t"] is None
    assert [v["name"] for v in data["videos"]] == ["a", "b", "c"]
    assert data["videos"][0]["values"]["warp"] == 0.01 and data["videos"][0]["mode"] == "tv2v"
    assert data["videos"][0]["per_frame"]["clip_f"] == [0.99, 0.98, 1.0, 0.99]
    assert data["videos"][0]["drift"] == {"clip_f": None}  # under 8 values
    assert data["protocol"] == {"fps": 24}
    assert read_json(path).to_dict() == data
    assert [tmp.name for tmp in tmp_path.iterdir()] == ["r.json"]  # no temporary file left


def test_markdown_follows_table1_layout() -> None:
    md = to_markdown([_report()], paper_rows=True)
    lines = md.splitlines()
    tv = lines.index("### TV2V (text-guided)")
    rv = lines.index("### RV2V (reference-guided)")
    assert lines[tv + 2] == "| Methods | CLIP-T | CLIP-F | AQ | IQ | Time(min) | Warp err |"
    assert lines[rv + 2] == "| Methods | CSD-Score | CLIP-F | AQ | IQ | Time(min) | Warp err |"
    assert "| FRESCO | 0.1970 | 0.9907 | 0.6060 | 0.6834 | 7.30 | - |" in lines
    assert "| Gen-4 Aleph | 0.8312 | 0.9925 | 0.6336 | 0.7378 | 3.50 | - |" in lines
    assert "| **Ours** (2 videos) | 0.2600 | 0.9800 | - | - | - | 0.0200 |" in lines
    assert "| **Ours** (1 video) | 0.8000 | 0.9500 | - | - | - | 0.0200 |" in lines
    assert "FRESCO" not in to_markdown([_report()], paper_rows=False)


def test_plots_are_pngs_with_one_coloured_curve_per_video(tmp_path: Path) -> None:
    written = write_plots(_report(), tmp_path)
    assert [p.name for p in written] == ["clip_f_per_frame.png"]  # only metrics with per-frame values
    img = np.asarray(Image.open(written[0]).convert("RGB"))
    for color in PALETTE[:2]:  # videos a and b
        assert (img == np.array(color, np.uint8)).all(-1).sum() > 50


def test_line_plot_handles_gaps_and_flat_series() -> None:
    png = line_plot({"x": [1.0, float("nan"), 1.0, 1.0]}, "t", "frame", "v", size=(400, 300))
    img = Image.open(io.BytesIO(png))
    assert img.size == (400, 300)
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_drift_is_last_quarter_minus_first_quarter() -> None:
    from rtrdit.eval.report import drift

    assert drift([1.0] * 4 + [0.5] * 4 + [0.0] * 4) == -1.0  # quarters of 3 values
    assert drift([0.8] * 100) == 0.0
    assert drift([0.1] * 7) is None


def test_long_series_get_a_rolling_mean_on_top() -> None:
    assert rolling_mean([0.0, 3.0, 0.0, 3.0], 3) == [1.5, 1.0, 2.0, 1.5]
    ys = [0.9 + 0.05 * (-1) ** i - 0.001 * i for i in range(300)]  # noisy, drifting down
    img = np.asarray(Image.open(io.BytesIO(line_plot({"s": ys}, "t", "frame", "v"))).convert("RGB"))
    strong = (img == np.array(PALETTE[0], np.uint8)).all(-1).sum()
    faint = (img == np.array([int(c + 0.65 * (255 - c)) for c in PALETTE[0]], np.uint8)).all(-1).sum()
    assert strong > 300 and faint > 300
