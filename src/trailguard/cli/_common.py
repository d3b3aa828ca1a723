"""What several commands share: the AWS options (spelled as the AWS CLI spells them), ``--stack-name``
read through the one stack lookup, how a failure maps to an exit code, and the JSON documents."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from trailguard import aws
from trailguard.cli.exit import CommandError, Exit
from trailguard.deploy.errors import ACCESS_DENIED, DeployError, InputError
from trailguard.deploy.stack import StackInfo, lookup


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="AWS region (default: from the environment or profile)")
    parser.add_argument("--profile", help="named profile from the AWS config files")
    parser.add_argument(
        "--endpoint-url",
        help="send every AWS call to this URL instead (a local emulator such as moto_server)",
    )


def add_stack_name(parser: argparse.ArgumentParser, *, required: bool = True, **kwargs: Any) -> None:
    """``--stack-name``; a command that adds it reads the stack with :func:`stack` (``deploy`` creates it)."""
    kwargs.setdefault("help", "the trailguard stack")
    if required:
        kwargs["required"] = True
    parser.add_argument("--stack-name", **kwargs)


def stack(args: argparse.Namespace) -> StackInfo:
    """The stack named by ``--stack-name``, in ``--region`` through ``--endpoint-url`` as ``--profile``."""
    try:
        return lookup(
            args.stack_name, region=args.region, profile=args.profile, endpoint_url=args.endpoint_url
        )
    except DeployError as exc:
        raise failure(exc) from exc


def failure(exc: Exception, doing: str = "") -> CommandError:
    """The exit code and message for ``exc``, met while reading an input (a stack, a state table).

    The caller's side (AWS not reachable with this configuration, credentials refused or denied) is
    FAILED, the same as a deploy that cannot reach AWS; the input's side (not there, not readable, not
    understood) is USAGE. See :mod:`trailguard.cli.exit`.
    """
    from botocore.exceptions import BotoCoreError  # only once something failed: never at import

    prefix = f"{doing}: " if doing else ""
    if isinstance(exc, CommandError):  # already judged (the stack lookup): keep its code
        return CommandError(exc.code, f"{prefix}{exc}")
    if isinstance(exc, InputError):
        return CommandError(Exit.USAGE, f"{prefix}{exc}")
    if isinstance(exc, DeployError):
        return CommandError(Exit.FAILED, f"{prefix}{exc}")
    problem = aws.reach_problem(exc)
    if problem is not None:
        return CommandError(Exit.FAILED, f"{prefix}{problem}")
    code = aws.error_code(exc)
    if code in ACCESS_DENIED or (not code and isinstance(exc, BotoCoreError)):
        return CommandError(Exit.FAILED, f"{prefix}{aws.error_text(exc)}")
    return CommandError(Exit.USAGE, f"{prefix}{aws.error_text(exc)}")


def write_document(schema: str, body: Mapping[str, Any]) -> None:
    """An ``--output json`` document: ``schema`` first (``trailguard.<command>/<version>``), then ``body``."""
    json.dump({"schema": schema, **body}, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")
