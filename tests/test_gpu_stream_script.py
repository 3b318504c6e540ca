"""The prepared GPU check (benchmarks/gpu_stream.py) runs end to end, here on the CPU with tiny sizes,
so a session that is lent a GPU can run it as it is."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_stream.py"


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["auto", "bfloat16"])  # auto: float32 here; bfloat16: what the GPU runs
def test_gpu_stream_script_reports_both_codecs(tmp_path: Path, dtype: str) -> None:
    spec = importlib.util.spec_from_file_location("gpu_stream", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "report.json"
    report = module.main(["--config", "tiny", "--size", "64x48", "--seconds", "0.5", "--device", "cpu",
                          "--vae-base-dim", "8", "--window-frames", "3", "--dtype", dtype, "--json", str(out)])
    assert json.loads(out.read_text()) == report
    assert report["dtype"] == ("float32" if dtype == "auto" else dtype) and report["size"] == "64x48" and report["parameters"] > 0
    assert set(report["codecs"]) == {"wan", "tiny"}
    for res in report["codecs"].values():
        assert res["frames"] == 12 and (res["width"], res["height"]) == (64, 48)
        assert res["fps"] > 0 and res["latency_ms_p50"] > 0
