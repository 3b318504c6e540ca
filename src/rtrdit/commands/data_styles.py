"""`rtrdit data styles [--json]`: list the built-in classical stylizers and their prompts."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of objects with 'name', 'description' and 'prompts'")


def run(args: argparse.Namespace) -> int:
    from rtrdit.data.stylizers import builtin_styles

    styles = builtin_styles().values()
    if args.json:
        print(json.dumps([{"name": s.name, "description": s.description, "prompts": list(s.prompts)}
                          for s in styles], indent=2))
        return 0
    for s in styles:
        print(f"{s.name:<15} {s.description}")
        for p in s.prompts:
            print(f"{'':<15}   - {p}")
    return 0
