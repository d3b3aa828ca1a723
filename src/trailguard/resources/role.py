"""IAM roles: trailguard's own (its calls are never tampering) and a trail's CloudWatch Logs role."""

from __future__ import annotations

from trailguard.resources.base import IamScope, Kind


def identity(arn: str) -> tuple[str, str] | None:
    """(account, role name) of a role ARN or an assumed-role session ARN, so the two forms compare equal.

    Role ARNs carry a path (``role/service-role/x``) that session ARNs drop, so only the name is kept.
    """
    if not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    service, account, resource = parts[2], parts[4], parts[5]
    if service == "iam" and resource.startswith("role/"):
        return account, resource.rsplit("/", 1)[-1]
    if service == "sts" and resource.startswith("assumed-role/"):
        pieces = resource.split("/")
        return (account, pieces[1]) if len(pieces) >= 2 and pieces[1] else None
    return None


def session_name(arn: str) -> str | None:
    """The session of an assumed-role ARN (``x`` of ``arn:aws:sts::1:assumed-role/r/x``): Lambda names
    it after the function; None for any other ARN."""
    if not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sts" or not parts[5].startswith("assumed-role/"):
        return None
    pieces = parts[5].split("/", 2)
    return pieces[2] if len(pieces) == 3 and pieces[2] else None


KIND = Kind(
    name="role",
    noun="role",
    sweep_order=35,
    securityhub_type="AwsIamRole",
    gone_codes=frozenset({"NoSuchEntity"}),
    iam_actions=("iam:PassRole",),
    iam_reason="A repaired trail gets its CloudWatch Logs role back: passed to CloudTrail only, and only "
    "the protected trails' delivery roles (TrailLogsRoleArns).",
    iam_resources=("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*",),
    iam_scope=IamScope(
        parameter="TrailLogsRoleArns",
        condition="HasTrailLogsRoleArns",
        fallback="any role of the account (no protected trail delivers to CloudWatch Logs, or not deployed "
        "by `trailguard deploy`).",
    ),
    iam_condition={"StringEquals": {"iam:PassedToService": "cloudtrail.amazonaws.com"}},
)
