"""`rtrdit data validate MANIFEST`: check every row of a manifest and name each bad line."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", metavar="MANIFEST",
                        help="JSONL manifest (paths relative to it), or the dataset folder `data build` wrote")
    parser.add_argument("--schema-only", action="store_true", help="check the rows' fields, not the files")


def run(args: argparse.Namespace) -> int:
    from rtrdit.cli import CLIError
    from rtrdit.data.manifest import ManifestError, manifest_path, validate_manifest

    args.manifest = manifest_path(args.manifest)
    try:
        rows, issues = validate_manifest(args.manifest, check_files=not args.schema_only)
    except ManifestError as exc:
        raise CLIError(str(exc)) from None
    for issue in issues:
        print(issue.format(args.manifest), file=sys.stderr)
    bad = len({i.line for i in issues})
    if issues:
        print(f"{args.manifest}: {bad} of {rows} rows are bad", file=sys.stderr)
        return 1
    print(f"{args.manifest}: all {rows} rows are valid")
    return 0
