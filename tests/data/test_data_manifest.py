"""Manifest schema and validator: every bad row is reported with its line number, none is skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_scenes import write_scene

from rtrdit.cli import main
from rtrdit.data.manifest import (
    RV2V_PROMPT,
    ManifestError,
    ManifestRow,
    read_manifest,
    validate_manifest,
    write_manifest,
)


@pytest.fixture
def bad_manifest(tmp_path: Path) -> Path:
    from PIL import Image

    write_scene(tmp_path / "a.mp4", frames=9, size=(64, 64))
    write_scene(tmp_path / "b.mp4", frames=9, size=(64, 64))
    write_scene(tmp_path / "short.mp4", frames=5, size=(64, 64))
    write_scene(tmp_path / "big.mp4", frames=9, size=(96, 80))
    (tmp_path / "broken.mp4").write_bytes(b"this is not a video at all" * 10)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "ref.png")
    (tmp_path / "bad.png").write_text("not an image")

    def row(**kw: object) -> str:
        base = {"source": "a.mp4", "target": "b.mp4", "mode": "tv2v", "prompt": "a watercolor painting",
                "reference": None, "split": "train"}
        base.update(kw)
        return json.dumps(base)

    lines = [
        row(),                                                      # 1 good
        row(mode="rv2v", prompt=RV2V_PROMPT, reference="ref.png"),  # 2 good
        '{"source": "a.mp4", "target": ',                           # 3 not JSON
        row(mode="t2v"),                                            # 4 unknown mode
        row(prompt=""),                                             # 5 missing prompt
        row(source="missing.mp4"),                                  # 6 missing file
        row(target="broken.mp4"),                                   # 7 unreadable video
        row(target="short.mp4"),                                    # 8 frame count mismatch
        row(target="big.mp4"),                                      # 9 size mismatch
        row(mode="rv2v", prompt=RV2V_PROMPT),                       # 10 rv2v without reference
        row(mode="rv2v", prompt=RV2V_PROMPT, reference="bad.png"),  # 11 unreadable reference
        "",                                                         # 12 blank: ignored
        row(style="watercolor"),                                    # 13 good (extra keys are metadata)
    ]
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


EXPECTED = {
    3: "not valid JSON",
    4: "unknown mode 't2v'",
    5: "missing prompt",
    6: "source: no such file",
    7: "target: unreadable video",
    8: "frame count mismatch: source has 9 frames, target 5",
    9: "size mismatch: source is 64x64, target 96x80",
    10: "rv2v row has no reference image",
    11: "reference: unreadable image",
}


def test_validator_names_each_bad_line(bad_manifest: Path) -> None:
    rows, issues = validate_manifest(bad_manifest)
    assert rows == 12
    by_line = {i.line: i.message for i in issues}
    assert set(by_line) == set(EXPECTED), by_line
    for line, text in EXPECTED.items():
        assert text in by_line[line], (line, by_line[line])


def test_validate_command_reports_all_and_fails(bad_manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", str(bad_manifest)]) == 1
    err = capsys.readouterr().err
    for line in EXPECTED:
        assert f"{bad_manifest}:{line}:" in err
    assert f"{bad_manifest}:1:" not in err and f"{bad_manifest}:13:" not in err
    assert "9 of 12 rows are bad" in err
    # schema-only skips the file checks (lines 6-9 and 11 are fine as rows)
    assert main(["data", "validate", "--schema-only", str(bad_manifest)]) == 1
    err = capsys.readouterr().err
    assert f"{bad_manifest}:6:" not in err and f"{bad_manifest}:4:" in err


def test_validate_good_manifest_and_missing_file(bad_manifest: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("".join(line + "\n" for i, line in enumerate(bad_manifest.read_text().splitlines(), 1)
                            if i in (1, 2, 13)))
    assert main(["data", "validate", str(good)]) == 0
    assert "all 3 rows are valid" in capsys.readouterr().out
    assert main(["data", "validate", str(tmp_path / "nope.jsonl")]) == 2
    assert "no such manifest file" in capsys.readouterr().err
    # the dataset folder `data build` wrote (its manifest.jsonl) will do; another folder is named as such
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "manifest.jsonl").write_text(good.read_text())
    assert main(["data", "validate", str(dataset), "--schema-only"]) == 0  # its rows name files beside good.jsonl
    assert f"{dataset / 'manifest.jsonl'}: all 3 rows are valid" in capsys.readouterr().out
    (tmp_path / "videos").mkdir()
    assert main(["data", "validate", str(tmp_path / "videos")]) == 2
    assert "videos: a folder without manifest.jsonl; give the manifest file" in capsys.readouterr().err


def test_rows_round_trip_and_read_stops_with_line_number(tmp_path: Path) -> None:
    rows = [ManifestRow("s.mp4", "t.mp4", "tv2v", "ink wash", None, "train", {"style": "ink_wash"}),
            ManifestRow("s.mp4", "t.mp4", "rv2v", RV2V_PROMPT, "r.png", "val")]
    path = tmp_path / "m.jsonl"
    write_manifest(path, rows)
    assert [r for _, r in read_manifest(path)] == rows
    assert not list(tmp_path.glob(".*.part"))
    path.write_text(path.read_text() + '{"mode": "tv2v"}\n')
    with pytest.raises(ManifestError, match=r"m.jsonl:3: missing 'source'"):
        read_manifest(path)
