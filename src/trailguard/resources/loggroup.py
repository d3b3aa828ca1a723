"""CloudWatch Logs log groups (a trail's CloudWatch Logs delivery): ids are log group ARNs."""

from __future__ import annotations

from trailguard.resources.base import Kind, arn_resource


def name_of(ref: str) -> str:
    """``/x`` of ``/x`` or ``arn:aws:logs:r:a:log-group:/x:*``."""
    resource = arn_resource(ref)
    if resource.startswith("log-group:"):
        resource = resource[len("log-group:") :]
        return resource[:-2] if resource.endswith(":*") else resource
    return ref


KIND = Kind(
    name="loggroup",
    noun="log group",
    sweep_order=55,
    securityhub_type="AwsLogsLogGroup",
    short=name_of,
    gone_codes=frozenset({"ResourceNotFoundException"}),
)
