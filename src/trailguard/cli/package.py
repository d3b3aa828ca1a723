"""``trailguard package``: build the Lambda zip and copy the template beside it, without deploying."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trailguard.deploy import DeployError, package


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "package",
        help="build the Lambda zip and the template (what deploy uploads)",
        description="Build trailguard-lambda.zip (deterministic: same source, same bytes) and copy "
        "trailguard.yaml beside it.",
    )
    parser.add_argument("--output-dir", required=True, metavar="DIR", help="where to write the files")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        pkg = package(args.output_dir)
    except (DeployError, OSError) as exc:
        print(f"trailguard package: {exc}", file=sys.stderr)
        return 1
    print(f"zip       {pkg.zip_path} ({pkg.zip_path.stat().st_size} bytes)")
    print(f"sha256    {pkg.code_sha256}")
    print(f"template  {pkg.template_path}")
    return 0
