"""Stack parameters as ``aws cloudformation deploy`` sends them.

A parameter the caller names gets its value; on an update, every other parameter the stack already has
keeps its previous value (``UsePreviousValue``), so an upgrade without the original flags keeps the
allow-list, the protected trails and a hand-set ``BackstopSchedule``; a parameter new in this template
takes its default. ``CodeS3Bucket`` and ``CodeS3Key`` are always deploy's own: where it uploaded the code.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from trailguard.deploy.errors import InputError

OWN = ("CodeS3Bucket", "CodeS3Key")
_TOP_LEVEL = re.compile(r"^([^\s#][^:#]*):")
_ENTRY = re.compile(r"^( +)([A-Za-z0-9]+):\s*(#.*)?$")


def _section(body: str, section: str) -> Iterator[tuple[str, str, bool]]:
    """``(entry, line, starts)`` for each line of the top-level ``section`` from its first entry on;
    ``starts`` when the line is the entry's own key. An entry is a key at the indentation of the
    section's first key (two spaces in the source, one in the compacted template that is deployed)."""
    inside, entry, indent = False, "", ""
    for line in body.splitlines():
        top = _TOP_LEVEL.match(line)
        if top:
            inside, entry, indent = top.group(1).strip() == section, "", ""
        elif inside:
            named = _ENTRY.match(line)
            if named and (not indent or named.group(1) == indent):
                indent, entry = named.group(1), named.group(2)
                yield entry, line, True
            elif entry:
                yield entry, line, False


def section_lines(body: str, section: str) -> Iterator[tuple[str, str]]:
    """``(entry, line)`` for each line of the template text's top-level ``section`` from its first
    entry on, ``entry`` the name (a key one level in) the line is under or starts.

    Read from the text (the template uses CloudFormation's short-form tags, which a plain YAML loader
    refuses), so no AWS call is needed to read the template's parameters or retained resources.
    """
    for entry, line, _starts in _section(body, section):
        yield entry, line


def template_parameters(body: str) -> list[str]:
    """The names under the template's top-level ``Parameters:`` section, in order."""
    return [entry for entry, _line, starts in _section(body, "Parameters") if starts]


def role_scope(trails: Sequence[Mapping[str, Any]], *, named: bool, partition: str = "aws") -> dict[str, str]:
    """The parameters that narrow the role to the protected ``trails`` (as DescribeTrails lists them):
    ``ProtectedTrailArns`` (empty unless the trails were ``named``: protecting every trail includes one
    created later), ``ProtectedBuckets`` (their log buckets' ARNs) and ``TrailLogsRoleArns`` (their
    CloudWatch Logs delivery roles). Comma-separated, sorted, without repeats (a multi-region trail is
    listed once per region)."""

    def joined(values: Collection[str]) -> str:
        return ",".join(sorted({v for v in values if v}))

    return {
        "ProtectedTrailArns": joined([str(t.get("TrailARN") or "") for t in trails]) if named else "",
        "ProtectedBuckets": joined(
            [f"arn:{partition}:s3:::{t['S3BucketName']}" for t in trails if t.get("S3BucketName")]
        ),
        "TrailLogsRoleArns": joined([str(t.get("CloudWatchLogsRoleArn") or "") for t in trails]),
    }


def partition_of(arn: str) -> str:
    """The partition an ARN is in (``aws`` when it is not an ARN)."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


def check_overrides(given: Mapping[str, str], names: Collection[str]) -> None:
    """Every named parameter is one of the template's, and none is one deploy sets itself."""
    unknown = sorted(set(given) - set(names))
    if unknown:
        settable = ", ".join(n for n in names if n not in OWN)
        raise InputError(f"unknown parameter {', '.join(unknown)}: the template's parameters are {settable}")
    own = sorted(set(given) & set(OWN))
    if own:
        raise InputError(
            f"{', '.join(own)} is set by deploy from where it uploads the code; use --s3-bucket/--s3-prefix"
        )


def change_set_parameters(
    names: Collection[str],
    given: Mapping[str, str],
    previous: Collection[str] | None,
) -> list[dict[str, Any]]:
    """The ``Parameters`` of the change set: ``given`` values; on an update (``previous`` is the stack's
    parameter names) ``UsePreviousValue`` for the others it already has; nothing for the rest (their
    template default on a create or for a parameter new in this template)."""
    out: list[dict[str, Any]] = []
    for name in names:
        if name in given:
            out.append({"ParameterKey": name, "ParameterValue": given[name]})
        elif previous is not None and name in previous:
            out.append({"ParameterKey": name, "UsePreviousValue": True})
    return out


def describe_parameters(parameters: list[dict[str, Any]]) -> list[str]:
    """One line per parameter as sent: ``Name = value`` or ``Name (previous value)``."""
    return [
        f"{p['ParameterKey']} (previous value kept)"
        if p.get("UsePreviousValue")
        else f"{p['ParameterKey']} = {p.get('ParameterValue', '')!r}"
        for p in parameters
    ]
