"""IAM roles that keep logs flowing: trailguard's own role, and a trail's CloudWatch Logs delivery role.

The same IAM calls change both, so the two techniques share their calls; each decides from the role the
call names.
"""

from __future__ import annotations

import json

from trailguard.events import Record
from trailguard.policy.inventory import Entry, Inventory
from trailguard.policy.technique import Match, Sweep, Technique, base_event_name, param, unnamed
from trailguard.policy.techniques._common import TAMPER_MITRE, TOOLS_MITRE, no_inventory
from trailguard.remediate.floors import FloorRefused
from trailguard.remediate.logs import check_delivery_policy, check_delivery_trust, restore_delivery_role
from trailguard.remediate.role import restore_role
from trailguard.resources import guardrole as guardrole_kind
from trailguard.resources import loggroup
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
        if found and found[1] == name and isinstance(arn, str):
            if inventory.is_guard_principal(record.issuer_arn, record.principal_arn) and _restores(
                record, inventory, trail, arn
            ):
                return Match.harmless(
                    arn, f"{_verb(record)} role {name} as trailguard's restore of its baseline does"
                )
            return Match.tamper(
                arn,
                f"{_verb(record)} role {name}, which delivers trail {trail.get('Name')}'s logs to "
                "CloudWatch Logs",
            )
    return Match.harmless(name, f"role {name} is not the CloudWatch Logs role of a protected trail")


def _restores(record: Record, inventory: Inventory, trail: Entry, arn: str) -> bool:
    """A call on the delivery role that trailguard's restore makes: from a session of trailguard's own
    functions (Lambda names it after the function), removing what the baseline lacks, or writing a
    policy / trust the restore's floors accept (only CreateLogStream / PutLogEvents on the trail's
    group; only CloudTrail may assume it; no Deny). Anything else on the role is tamper whoever makes
    it."""
    session = role_kind.session_name(record.principal_arn or "")
    if not session or session not in {n.rsplit(":", 1)[-1] for n in inventory.guard.function_names}:
        return False  # not from trailguard's own function: judged as anyone's
    event = base_event_name(record.event_name or "")
    if event in ("DeleteRolePolicy", "DetachRolePolicy", "DeleteRolePermissionsBoundary"):
        return True
    document = record.request_parameters.get("policyDocument")
    if '"Deny"' in json.dumps(role_kind.document(document)):
        return False  # a restore may put back a recorded Deny, but a Deny is never judged harmless here
    group = loggroup.arn_of(str(trail.get("CloudWatchLogsLogGroupArn") or ""))
    try:
        if event == "PutRolePolicy":
            check_delivery_policy(arn, str(param(record, "policyName") or ""), document, {group})
        elif event == "UpdateAssumeRolePolicy":
            check_delivery_trust(arn, document)
        else:
            return False
    except FloorRefused:
        return False
    return True


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
