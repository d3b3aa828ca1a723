"""IAM roles that keep logs flowing: trailguard's own role, and a trail's CloudWatch Logs delivery role.

The same IAM calls change both, so the two techniques share their calls; each decides from the role the
call names.
"""

from __future__ import annotations

from trailguard.events import Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Sweep, Technique, base_event_name, param, unnamed
from trailguard.policy.techniques._common import TAMPER_MITRE, TOOLS_MITRE, no_inventory
from trailguard.remediate.logs import restore_delivery_role
from trailguard.remediate.role import restore_role
from trailguard.resources import guardrole as guardrole_kind
from trailguard.resources import role as role_kind

ROLE_CALLS = frozenset(
    {
        "DeleteRole",
        "DeleteRolePolicy",
        "PutRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "UpdateAssumeRolePolicy",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
    }
)
_VERBS = {
    "DeleteRole": "deletes",
    "DeleteRolePolicy": "deletes an inline policy of",
    "PutRolePolicy": "writes an inline policy on",
    "AttachRolePolicy": "attaches a policy to",
    "DetachRolePolicy": "detaches a policy from",
    "UpdateAssumeRolePolicy": "rewrites the trust policy of",
    "PutRolePermissionsBoundary": "puts a permissions boundary on",
    "DeleteRolePermissionsBoundary": "removes the permissions boundary of",
}


def _verb(record: Record) -> str:
    return _VERBS.get(base_event_name(record.event_name or ""), "changes")


def _role_name(record: Record) -> str | Match:
    name = param(record, "roleName", "RoleName")
    return guardrole_kind.name_of(name) if name else unnamed("IAM role")


def _guard_role(record: Record, inventory: Inventory) -> Match:
    name = _role_name(record)
    if isinstance(name, Match):
        return name
    mine = {found[1] for arn in inventory.guard.role_arns if (found := role_kind.identity(arn))}
    if name not in mine:
        return Match.harmless(name, f"role {name} is not trailguard's role")
    return Match.tamper(name, f"{_verb(record)} trailguard's own role {name}")


def _delivery_role(record: Record, inventory: Inventory) -> Match:
    name = _role_name(record)
    if isinstance(name, Match):
        return name
    if not inventory.knows_trails:
        return no_inventory("trail delivery role", name)
    for trail in inventory.trails or ():
        arn = trail.get("CloudWatchLogsRoleArn")
        found = role_kind.identity(arn) if isinstance(arn, str) else None
        if found and found[1] == name:
            return Match.tamper(
                arn,
                f"{_verb(record)} role {name}, which delivers trail {trail.get('Name')}'s logs to "
                "CloudWatch Logs",
            )
    return Match.harmless(name, f"role {name} is not the CloudWatch Logs role of a protected trail")


GUARD_ROLE = Technique(
    id="guard.role",
    tamper_when="trailguard's own role (inline or attached policies, boundary, trust, deletion)",
    repair_summary=(
        "remove added inline or attached policies and a boundary; a removed or rewritten declared policy, "
        "a changed trust or a deleted role is escalated"
    ),
    title="trailguard role changed",
    mitre=TOOLS_MITRE,
    kind=guardrole_kind.KIND,
    guard=True,
    shares_calls=True,
    event_source="iam.amazonaws.com",
    event_names=ROLE_CALLS,
    condition=_guard_role,
    action=restore_role,
    verification=(
        "ListRolePolicies, ListAttachedRolePolicies and GetRole show only what the template declares."
    ),
)

DELIVERY_ROLE = Technique(
    id="logs.delivery-role",
    tamper_when="the role a protected trail names as its `CloudWatchLogsRoleArn`",
    repair_summary=(
        "trust and inline policies put back from the baseline (only CloudTrail may assume it; only "
        "CreateLogStream/PutLogEvents on the trail's group), added policies and a boundary removed; a "
        "deleted role, a detached managed policy or no baseline is escalated"
    ),
    title="CloudWatch Logs delivery role of a trail changed",
    mitre=TAMPER_MITRE,
    kind=role_kind.KIND,
    shares_calls=True,
    event_source="iam.amazonaws.com",
    event_names=ROLE_CALLS,
    sweep=Sweep(),
    condition=_delivery_role,
    action=restore_delivery_role,
    verification="GetRole, ListRolePolicies, GetRolePolicy and ListAttachedRolePolicies read back the "
    "baseline trust policy, inline policies, attached policies and boundary.",
)

TECHNIQUES = (GUARD_ROLE, DELIVERY_ROLE)
