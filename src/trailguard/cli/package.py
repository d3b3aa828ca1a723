"""``trailguard package``: build the Lambda zip and copy the template beside it, without deploying.

Exit status: 0 written; 1 the files could not be built or written (no template, a directory that cannot
be written); 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from trailguard.cli._common import add_output, write_document
from trailguard.cli.exit import CommandError, Exit
from trailguard.deploy.errors import DeployError
from trailguard.deploy.package import package

SCHEMA = "trailguard.package/1"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "package",
        help="build the Lambda zip and the template (what deploy uploads)",
        description="Build trailguard-lambda.zip (deterministic: same source, same bytes) and copy "
        "trailguard.yaml beside it.",
    )
    parser.add_argument("--output-dir", required=True, metavar="DIR", help="where to write the files")
    add_output(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> Exit:
    try:
        pkg = package(args.output_dir)
    except (DeployError, OSError) as exc:
        raise CommandError(Exit.FAILED, str(exc)) from exc
    if args.output == "json":
        write_document(
            SCHEMA,
            {
                "zip": str(pkg.zip_path),
                "size": pkg.zip_path.stat().st_size,
                "sha256": pkg.code_sha256,
                "template": str(pkg.template_path),
            },
        )
        return Exit.OK
    print(f"zip       {pkg.zip_path} ({pkg.zip_path.stat().st_size} bytes)")
    print(f"sha256    {pkg.code_sha256}")
    print(f"template  {pkg.template_path}")
    if pkg.compiled:
        by = f" by {pkg.compiler}" if pkg.compiler else ""
        print(f"bytecode  compiled for {pkg.runtime} (the functions' runtime){by}")
    else:
        print(
            f"bytecode  none: built with Python {sys.version_info.major}.{sys.version_info.minor}, the "
            f"functions run {pkg.runtime} (put {pkg.runtime} on PATH to ship compiled modules)"
        )
    return Exit.OK
