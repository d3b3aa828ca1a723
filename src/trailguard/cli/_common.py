"""Options several commands share, spelled as the AWS CLI spells them."""

from __future__ import annotations

import argparse


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="AWS region (default: from the environment or profile)")
    parser.add_argument("--profile", help="named profile from the AWS config files")
    parser.add_argument(
        "--endpoint-url",
        help="send every AWS call to this URL instead (a local emulator such as moto_server)",
    )
