"""What several commands share: the AWS options (spelled and resolved as the AWS CLI does),
``--stack-name`` read through the one stack lookup, how a failure maps to an exit code, the CLI contract's
streams (progress and prompts on stderr, results on stdout, colour only on a terminal), ``--output``, the
JSON documents, and the one line a missing optional extra gets."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from trailguard import aws
from trailguard.cli.exit import CommandError, Exit
from trailguard.deploy.errors import ACCESS_DENIED, DeployError, InputError
from trailguard.deploy.stack import StackInfo, lookup


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    """``--region``, ``--profile``, ``--endpoint-url``; :func:`trailguard.cli.main` resolves the region
    as the AWS CLI does (:func:`trailguard.aws.resolve_region`) before the command runs."""
    parser.add_argument(
        "--region",
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region)",
    )
    parser.add_argument("--profile", help="named profile from the AWS config files (default: AWS_PROFILE)")
    parser.add_argument(
        "--endpoint-url",
        help="send every AWS call to this URL instead (a local emulator such as moto_server)",
    )
    parser.set_defaults(uses_aws=True)


def resolve_region(args: argparse.Namespace) -> None:
    """Set ``args.region`` as the AWS CLI would, for a command with the AWS options; no region anywhere
    is a usage error (exit 2) saying how to set one."""
    if not getattr(args, "uses_aws", False):
        return
    try:
        args.region = aws.resolve_region(args.region, args.profile)
    except Exception as exc:
        raise failure(exc) from exc


def add_output(parser: argparse.ArgumentParser, text: str = "text") -> None:
    """``--output text|json`` (the first is what a person reads, the second a script's document)."""
    parser.add_argument(
        "--output", choices=(text, "json"), default=text, help=f"default: {text}; json: one document"
    )


def progress(line: str) -> None:
    """A progress line: on stderr, so stdout carries only the results a script parses."""
    print(line, file=sys.stderr, flush=True)


def prompt(question: str) -> bool:
    """Ask on stderr, read the answer from stdin; anything but y/yes is no."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in {"y", "yes"}


def colour_enabled(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def paint(text: str, code: str, stream: TextIO) -> str:
    """``text`` in the ANSI colour ``code`` ("31" red, "32" green, "33" yellow) when ``stream`` is a TTY."""
    return f"\033[{code}m{text}\033[0m" if colour_enabled(stream) else text


def key_values(values: Sequence[str], flag: str) -> dict[str, str]:
    """``Key=Value ...`` as the AWS CLI takes them for ``--parameter-overrides`` and ``--tags``: split at
    the first ``=``; an empty value is allowed; a pair without ``=`` or a key given twice is bad usage."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(Exit.USAGE, f"{flag}: {item!r} is not Key=Value")
        if key in out:
            raise CommandError(Exit.USAGE, f"{flag}: {key} is given twice")
        out[key] = value
    return out


LOCAL_MODULES = ("moto", "flask", "werkzeug")  # what the `local` extra (moto[server]) brings


def require_extra(extra: str, *modules: str) -> None:
    """One line naming the optional extra to install when one of ``modules`` cannot be imported."""
    import importlib.util

    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise CommandError(
                Exit.FAILED,
                f"this command needs the optional '{extra}' extra ({module} is not installed): "
                f"pip install 'trailguard[{extra}]'",
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
    from botocore.exceptions import BotoCoreError, NoRegionError  # only once something failed

    prefix = f"{doing}: " if doing else ""
    if isinstance(exc, aws.RegionNotSetError | NoRegionError):  # the caller must say where: as the AWS CLI
        return CommandError(Exit.USAGE, f"{prefix}{aws.reach_problem(exc)}")
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
