"""`rtrdit bench [--model demo|DIR] [--size WxH] [--seconds N] [--json]`: streaming speed."""

from __future__ import annotations

import argparse
import json

from rtrdit.cli import CLIError, add_dtype_option, device_arg, positive_float, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="demo", help="'demo' or a stylizer directory")
    p.add_argument("--size", default="256x256", help="frame size WxH of the generated camera stream")
    p.add_argument("--seconds", type=positive_float, default=20.0, help="seconds of 24 fps video to stream")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, auto (a GPU if any)")
    add_dtype_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from rtrdit.commands.stylize import parse_size
    from rtrdit.stream.bench import benchmark_frames, run_benchmark
    from rtrdit.stream.session import StylizerError
    from rtrdit.stream.stylizer import Stylizer

    size = parse_size(args.size)
    assert size is not None
    device = device_arg(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        st = Stylizer.from_pretrained(args.model, device=device, dtype=args.dtype)
    except (StylizerError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    with tqdm(total=benchmark_frames(args.seconds), unit="frame", desc="bench", disable=args.json) as bar:
        res = run_benchmark(st, size, args.seconds, progress=lambda i: bar.update(i - bar.n))
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
    else:
        for k, v in res.to_dict().items():
            text = " ".join(f"{x:.1f}" for x in v) if isinstance(v, list) else f"{v:.3f}" if isinstance(v, float) else v
            print(f"{k:24s} {text}")
    return 0
