"""Trail log group actions: re-create a deleted CloudWatch Logs group with its recorded retention and KMS
key, or put its retention back, and prove it with DescribeLogGroups; and put the trail's CloudWatch Logs
delivery role back to its baseline (:func:`restore_delivery_role`).

The group is the one a protected trail's ``CloudWatchLogsLogGroupArn`` names (or that has a recorded
baseline): trailguard never creates or changes any other group (the floor is checked before each call).
Without a baseline, a re-created group gets the 365-day retention floor and no KMS key, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trailguard.remediate import floors
from trailguard.remediate.base import (
    NO_BASELINE,
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    action_region,
    delivery_errors,
    read_baseline,
    read_until,
    target,
)
from trailguard.remediate.floors import FloorRefused
from trailguard.resources import loggroup
from trailguard.resources import role as role_kind
from trailguard.resources.loggroup import DEFAULT_RETENTION_FLOOR, KIND, LogGroupNotFoundError
from trailguard.resources.role import canonical, document

_MISSING = object()


def _describe(outcome: Outcome, name: str, region: str) -> dict[str, Any] | None:
    """The group called exactly ``name`` (DescribeLogGroups searches by prefix), or None."""
    token: str | None = None
    for _ in range(20):  # a prefix shared by many groups: bounded
        params: dict[str, Any] = {"logGroupNamePrefix": name}
        if token:
            params["nextToken"] = token
        page = outcome.call("logs", region, "DescribeLogGroups", **params)
        for group in page.get("logGroups") or []:
            if group.get("logGroupName") == name:
                outcome.calls[-1].result = f"retention {group.get('retentionInDays') or 'never expires'}"
                return dict(group)
        token = page.get("nextToken")
        if not token:
            break
    outcome.calls[-1].result = "no such group"
    return None


def _where(ctx: Context, request: RepairRequest) -> tuple[str, str, str] | None:
    """(id, name, region) of the group to repair."""
    ref = target(request, "logGroupName")
    if ref is None:
        return None
    ident = loggroup.arn_of(ref)
    region = loggroup.region_of(ident) or action_region(ctx, request)
    return ident, loggroup.name_of(ident), region


def _guarded(
    ctx: Context, request: RepairRequest, name: str, unnamed: str
) -> tuple[Outcome, str, str, Mapping[str, Any] | None] | Outcome:
    """(outcome, group name, region, baseline) of the group to repair, or the failed outcome when the
    request names no group (``unnamed`` says so) or the floor refuses it. The baseline is the sweep's
    (the request's), else the state table's."""
    where = _where(ctx, request)
    outcome = Outcome(name, where[0] if where else None)
    if where is None:
        return outcome.fail(unnamed)
    ident, group, region = where
    baseline = request.baseline
    if baseline is None and ident.startswith("arn:"):
        baseline = read_baseline(ctx, outcome, "loggroup", ident)
    refused = _floor(ctx, group, region, baseline)
    if refused:
        return outcome.fail(refused, "not a trail log group")
    return outcome, group, region, baseline


def _trails(ctx: Context, name: str, region: str) -> tuple[Mapping[str, Any], ...]:
    return ctx.live.inventory.trails_for_log_group(name, region)


def _floor(ctx: Context, name: str, region: str, baseline: Mapping[str, Any] | None) -> str | None:
    """Why trailguard must not touch this group (None: it is a recorded or protected trail's group)."""
    if baseline is not None or _trails(ctx, name, region):
        return None
    return (
        f"log group {name} in {region} is neither recorded in a baseline nor the CloudWatch Logs group of "
        "a protected trail, so trailguard leaves it alone"
    )


def _retention(baseline: Mapping[str, Any] | None) -> Any:
    """The recorded retention (None: kept forever); ``_MISSING`` without a baseline."""
    if baseline is None or "RetentionInDays" not in baseline:
        return _MISSING
    return baseline.get("RetentionInDays")


def _delivery_note(ctx: Context, outcome: Outcome, name: str, region: str) -> str:
    """What GetTrailStatus says about CloudWatch Logs delivery of the trails writing to the group."""
    errors = delivery_errors(ctx, outcome, _trails(ctx, name, region), "LatestCloudWatchLogsDeliveryError")
    note = "CloudWatch Logs delivery resumes with CloudTrail's next batch"
    return f"{note}; the last delivery error was {'; '.join(errors)}" if errors else note


@action(
    "logs.recreate_group",
    permissions=(
        "logs:DescribeLogGroups",
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "cloudtrail:GetTrailStatus",
    ),
    restores=KIND,
    manual_steps="Re-create the trail's CloudWatch Logs group {resource} in {region} (aws logs "
    "create-log-group --log-group-name NAME --kms-key-id KEY, then put-retention-policy), and check "
    "the trail's CloudWatch Logs delivery with aws cloudtrail get-trail-status.",
)
def recreate_group(ctx: Context, request: RepairRequest) -> Outcome:
    """``logs.group-delete``: CreateLogGroup with the baseline KMS key, PutRetentionPolicy with the
    baseline retention (the 365-day floor without a baseline), verified by DescribeLogGroups; then what
    GetTrailStatus says about delivery. Log events only the deleted group held are gone."""
    found = _guarded(
        ctx,
        request,
        "logs.recreate_group",
        "could not tell which log group was deleted, so none was re-created",
    )
    if isinstance(found, Outcome):
        return found
    outcome, name, region, baseline = found
    recorded = _retention(baseline)
    retention = DEFAULT_RETENTION_FLOOR if recorded is _MISSING else recorded
    key = baseline.get("KmsKeyId") if baseline is not None else None
    done: list[str] = []
    try:
        if _describe(outcome, name, region) is not None:
            return outcome.unchanged(f"log group {name} in {region} exists; nothing changed")
        params: dict[str, Any] = {"logGroupName": name}
        if isinstance(key, str) and key:
            params["kmsKeyId"] = key
        outcome.call("logs", region, "CreateLogGroup", **params)
        done.append(f"re-created log group {name} in {region}" + (f" encrypted with {key}" if key else ""))
        if isinstance(retention, int):
            outcome.call("logs", region, "PutRetentionPolicy", logGroupName=name, retentionInDays=retention)
            done.append(
                f"set its retention to {retention} days"
                + (" (the floor: no baseline was recorded)" if recorded is _MISSING else "")
            )
        group = read_until(
            ctx,
            lambda: _describe(outcome, name, region),
            lambda g: g is not None and g.get("retentionInDays") == retention,
        )
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(
            f"{'; '.join(done) + '; but ' if done else ''}could not re-create log group {name} in {region}: "
            f"{error}",
            error,
        )
    off = []
    if group is None:
        off.append("DescribeLogGroups does not list the group")
    elif group.get("retentionInDays") != retention:
        off.append(f"retention is {group.get('retentionInDays')}, not {retention}")
    elif key and group.get("kmsKeyId") != key:
        off.append(f"the group's KMS key is {group.get('kmsKeyId')}, not {key}")
    if recorded is _MISSING and not outcome.errors:
        done.append(f"no baseline was recorded, so no KMS key was set ({NO_BASELINE})")
    done.append(
        "log events that only the deleted group held are lost (the trail's S3 copy is not); "
        + _delivery_note(ctx, outcome, name, region)
    )
    return outcome.finish(
        f"log group {name}", done, off, "DescribeLogGroups lists the group with its baseline retention"
    )


@action(
    "logs.restore_retention",
    permissions=("logs:DescribeLogGroups", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy"),
    restores=KIND,
    manual_steps="Put the retention of the trail's log group {resource} in {region} back (aws logs "
    "put-retention-policy --log-group-name NAME --retention-in-days DAYS).",
)
def restore_retention(ctx: Context, request: RepairRequest) -> Outcome:
    """``logs.retention-cut``: PutRetentionPolicy with the baseline retention (DeleteRetentionPolicy when
    the baseline keeps logs forever), verified by DescribeLogGroups. A retention longer than the
    baseline removes nothing and is left in place; without a baseline, only a retention below the
    365-day floor is raised to it. A missing group is Gone (the sweep re-creates it instead)."""
    found = _guarded(
        ctx,
        request,
        "logs.restore_retention",
        "could not tell which log group's retention was cut, so none was restored",
    )
    if isinstance(found, Outcome):
        return found
    outcome, name, region, baseline = found
    recorded = _retention(baseline)
    label = f"the retention of log group {name} in {region}"
    try:
        group = _describe(outcome, name, region)
        if group is None:
            raise Gone(KIND, "ResourceNotFoundException", LogGroupNotFoundError(name))
        current = group.get("retentionInDays")
        if recorded is _MISSING:
            expected: int | None = DEFAULT_RETENTION_FLOOR
            if current is None or current >= DEFAULT_RETENTION_FLOOR:
                return outcome.unchanged(
                    f"{label} is {current or 'never expire'}, not below the {DEFAULT_RETENTION_FLOOR}-day "
                    f"floor (no baseline is recorded); nothing changed"
                )
        else:
            expected = recorded if isinstance(recorded, int) else None
            if current == expected:
                return outcome.finish(label, [], [], "")
            if current is None or (expected is not None and current > expected):
                return outcome.unchanged(
                    f"{label} ({current or 'never expire'}) differs from its baseline "
                    f"({expected or 'never expire'}) but keeps logs longer; left in place"
                )
        if expected is None:
            outcome.call("logs", region, "DeleteRetentionPolicy", logGroupName=name)
        else:
            outcome.call("logs", region, "PutRetentionPolicy", logGroupName=name, retentionInDays=expected)
        group = read_until(
            ctx,
            lambda: _describe(outcome, name, region),
            lambda g: g is not None and g.get("retentionInDays") == expected,
        )
    except Exception as exc:
        error = outcome.last_error(exc) if not isinstance(exc, Gone) else f"log group {name} does not exist"
        outcome.gone = isinstance(exc, Gone)
        return outcome.fail(f"could not restore {label}: {error}", error)
    want = f"{expected} days" if expected is not None else "never expire (the baseline)"
    why = " (the floor: no baseline was recorded)" if recorded is _MISSING else ""
    return outcome.finish(
        label,
        [f"put {label} back from {current} days to {want}{why}"],
        []
        if group is not None and group.get("retentionInDays") == expected
        else [f"DescribeLogGroups does not report {want}"],
        f"DescribeLogGroups reports {want}",
    )


# -- the trail's CloudWatch Logs delivery role -------------------------------------------------------

DELIVERY_ACTIONS = frozenset({"logs:CreateLogStream", "logs:PutLogEvents"})
"""All a delivery role's inline policy may allow: CloudTrail only creates streams and writes events."""
CLOUDTRAIL = "cloudtrail.amazonaws.com"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(doc: Any) -> list[Any]:
    return _listed(doc.get("Statement")) if isinstance(doc, Mapping) else [doc]


def _brief(doc: Any) -> str:
    """A policy document in a few words: ``Allow logs:PutLogEvents on arn:...``, one per statement."""
    parts = []
    for statement in _statements(document(doc)):
        if not isinstance(statement, Mapping):
            parts.append("(unreadable statement)")
            continue
        what = statement.get("Action") or statement.get("NotAction") or "?"
        where = statement.get("Resource") or statement.get("NotResource") or statement.get("Principal") or "?"
        parts.append(f"{statement.get('Effect')} {','.join(map(str, _listed(what)))} on {json.dumps(where)}")
    text = "; ".join(parts) or "no statement"
    return text if len(text) <= 240 else text[:237] + "..."


def _in_group(resource: Any, groups: set[str]) -> bool:
    """The resource is one of ``groups`` (log group ARNs without ``:*``) or inside it (its streams)."""
    return isinstance(resource, str) and any(resource == g or resource.startswith(g + ":") for g in groups)


def check_delivery_policy(role: str, policy: str, doc: Any, groups: set[str]) -> None:
    """The floor before ``PutRolePolicy`` on a delivery role: every Allow statement grants only
    logs:CreateLogStream / logs:PutLogEvents on the trails' own log groups (Deny statements only
    narrow, so they pass); never NotAction / NotResource. A wider recorded policy is refused."""
    operation = f"PutRolePolicy {policy}"
    statements = _statements(document(doc))
    if not statements or not isinstance(document(doc), Mapping):
        raise FloorRefused(operation, role, "the recorded policy document is not a policy")
    for statement in statements:
        if not isinstance(statement, Mapping):
            raise FloorRefused(operation, role, "a statement of the recorded policy is not an object")
        if statement.get("Effect") == "Deny":
            continue
        if "NotAction" in statement or "NotResource" in statement:
            raise FloorRefused(operation, role, "an Allow statement uses NotAction or NotResource")
        actions = {str(a) for a in _listed(statement.get("Action"))}
        if not actions or not actions <= DELIVERY_ACTIONS:
            raise FloorRefused(
                operation,
                role,
                f"it would allow {', '.join(sorted(actions - DELIVERY_ACTIONS)) or 'nothing named'}: a "
                "delivery role may only allow logs:CreateLogStream and logs:PutLogEvents",
            )
        resources = _listed(statement.get("Resource"))
        if not resources or not all(_in_group(r, groups) for r in resources):
            raise FloorRefused(
                operation,
                role,
                f"it would allow writing to {json.dumps(resources)}, not only to the trail's log group "
                f"({', '.join(sorted(groups)) or 'none recorded'})",
            )


def check_delivery_trust(role: str, doc: Any) -> None:
    """The floor before ``UpdateAssumeRolePolicy`` on a delivery role: every Allow statement lets only
    CloudTrail assume it (``sts:AssumeRole``); never NotPrincipal."""
    operation = "UpdateAssumeRolePolicy"
    statements = _statements(document(doc))
    if not statements or not isinstance(document(doc), Mapping):
        raise FloorRefused(operation, role, "the recorded trust policy is not a policy")
    for statement in statements:
        if not isinstance(statement, Mapping):
            raise FloorRefused(operation, role, "a statement of the recorded trust policy is not an object")
        if statement.get("Effect") == "Deny":
            continue
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, Mapping) else None
        if (
            "NotPrincipal" in statement
            or not isinstance(principal, Mapping)
            or set(principal) != {"Service"}
            or _listed(services) != [CLOUDTRAIL]
            or {str(a) for a in _listed(statement.get("Action"))} != {"sts:AssumeRole"}
        ):
            raise FloorRefused(
                operation, role, f"it would let {json.dumps(principal)} assume the role, not only CloudTrail"
            )


def _delivery_trails(ctx: Context, arn: str) -> tuple[Mapping[str, Any], ...]:
    """The protected trails (as recorded) that name ``arn``'s role as their CloudWatch Logs role."""
    mine = role_kind.identity(arn)
    return tuple(
        t
        for t in ctx.live.inventory.trails or ()
        if mine is not None
        and isinstance(t.get("CloudWatchLogsRoleArn"), str)
        and role_kind.identity(str(t["CloudWatchLogsRoleArn"])) == mine
    )


def _read_role(outcome: Outcome, name: str) -> dict[str, Any]:
    """The role as its baseline records it, every read a recorded call (NoSuchEntity raises Gone)."""
    region = role_kind.IAM_REGION
    role = outcome.call("iam", region, "GetRole", gone=role_kind.KIND, RoleName=name)["Role"]
    names: list[str] = []
    attached: list[str] = []
    for operation, items, into in (
        ("ListRolePolicies", "PolicyNames", names),
        ("ListAttachedRolePolicies", "AttachedPolicies", attached),
    ):
        params: dict[str, Any] = {"RoleName": name}
        for _ in range(20):  # IAM pages with Marker; bounded
            page = outcome.call("iam", region, operation, gone=role_kind.KIND, **params)
            for item in page.get(items) or []:
                into.append(str(item.get("PolicyArn")) if isinstance(item, Mapping) else str(item))
            if not page.get("IsTruncated") or not page.get("Marker"):
                break
            params["Marker"] = page["Marker"]
    inline = {
        policy: document(
            outcome.call(
                "iam", region, "GetRolePolicy", gone=role_kind.KIND, RoleName=name, PolicyName=policy
            ).get("PolicyDocument")
        )
        for policy in names
    }
    return {
        "AssumeRolePolicyDocument": document(role.get("AssumeRolePolicyDocument")),
        "InlinePolicies": inline,
        "AttachedPolicies": sorted(attached),
        "PermissionsBoundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
    }


def _role_off(live: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[str]:
    """How the live role differs from its baseline (empty: equal)."""
    off = []
    if canonical(live["AssumeRolePolicyDocument"]) != canonical(baseline.get("AssumeRolePolicyDocument")):
        off.append(f"the trust policy is {_brief(live['AssumeRolePolicyDocument'])}")
    recorded = dict(baseline.get("InlinePolicies") or {})
    for policy in sorted(set(live["InlinePolicies"]) | set(recorded)):
        if policy not in recorded:
            off.append(f"inline policy {policy} is not in the baseline")
        elif policy not in live["InlinePolicies"]:
            off.append(f"inline policy {policy} is missing")
        elif canonical(live["InlinePolicies"][policy]) != canonical(recorded[policy]):
            off.append(f"inline policy {policy} is {_brief(live['InlinePolicies'][policy])}")
    wanted = sorted(str(p) for p in baseline.get("AttachedPolicies") or [])
    if live["AttachedPolicies"] != wanted:
        off.append(f"attached policies are {live['AttachedPolicies'] or 'none'}, not {wanted or 'none'}")
    if live["PermissionsBoundary"] != baseline.get("PermissionsBoundary"):
        off.append(
            f"the permissions boundary is {live['PermissionsBoundary'] or 'none'}, not "
            f"{baseline.get('PermissionsBoundary') or 'none'}"
        )
    return off


@action(
    "logs.restore_delivery_role",
    permissions=(
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRolePermissionsBoundary",
        "cloudtrail:GetTrailStatus",
    ),
    restores=role_kind.KIND,
    manual_steps="Compare the trail's CloudWatch Logs delivery role {resource} with its baseline "
    "(trailguard baseline show): its trust policy must let cloudtrail.amazonaws.com assume it and its "
    "policy allow logs:CreateLogStream and logs:PutLogEvents on the trail's log group; re-create or "
    "re-attach what is missing (aws iam create-role / put-role-policy / attach-role-policy), then check "
    "aws cloudtrail get-trail-status.",
)
def restore_delivery_role(ctx: Context, request: RepairRequest) -> Outcome:
    """``logs.delivery-role``: the role put back to its signed baseline. UpdateAssumeRolePolicy and
    PutRolePolicy write only the recorded documents, and only when they pass the floors (trust: only
    CloudTrail; policy: only CreateLogStream / PutLogEvents on the trails' log groups); an inline policy,
    an attached policy or a boundary the baseline lacks is removed (that takes nothing CloudTrail needs
    away). Verified by reading the whole role back. Escalated: a role without a baseline or no protected
    trail's, a deleted role (re-creating it would need iam:CreateRole), and a detached managed policy or
    a changed boundary the baseline had (attaching would need iam:AttachRolePolicy / PutRolePermissions-
    Boundary, which could grant the role anything)."""
    ref = target(request, "roleName", "RoleName")
    outcome = Outcome("logs.restore_delivery_role", ref)
    if not ref:
        return outcome.fail("could not tell which IAM role was changed, so nothing was restored")
    trails = _delivery_trails(ctx, ref) if ref.startswith("arn:") else ()
    if not trails:
        return outcome.fail(
            f"role {ref} is not the recorded CloudWatch Logs role of a protected trail, so trailguard "
            "leaves it alone",
            "not a trail delivery role",
        )
    arn = str(trails[0]["CloudWatchLogsRoleArn"])
    name = role_kind.name_of(arn)
    outcome.resource = arn
    baseline = request.baseline if request.baseline is not None else read_baseline(ctx, outcome, "role", arn)
    if baseline is None or role_kind.identity(str(baseline.get("Arn") or "")) != role_kind.identity(arn):
        return outcome.fail(
            f"no baseline of role {name} is recorded, so trailguard cannot tell what to restore: escalated",
            NO_BASELINE,
        )
    if floors.provenance(baseline) not in floors.TRUSTED_SOURCES:
        return outcome.fail(
            f"the baseline of role {name} was not recorded by a deploy, `trailguard baseline record` or "
            "the sweep, so it is not restored: escalated"
        )
    groups = {loggroup.arn_of(str(t.get("CloudWatchLogsLogGroupArn"))) for t in trails}
    groups.discard("None")
    region = role_kind.IAM_REGION
    done: list[str] = []
    off: list[str] = []
    try:
        live = _read_role(outcome, name)
        trust = baseline.get("AssumeRolePolicyDocument")
        if canonical(live["AssumeRolePolicyDocument"]) != canonical(trust):
            check_delivery_trust(arn, trust)
            outcome.call(
                "iam",
                region,
                "UpdateAssumeRolePolicy",
                RoleName=name,
                PolicyDocument=json.dumps(document(trust)),
            )
            done.append(
                f"put the trust policy back: {_brief(live['AssumeRolePolicyDocument'])} -> {_brief(trust)}"
            )
        recorded = dict(baseline.get("InlinePolicies") or {})
        for policy in sorted(set(live["InlinePolicies"]) - set(recorded)):
            outcome.call("iam", region, "DeleteRolePolicy", RoleName=name, PolicyName=policy)
            done.append(
                f"removed inline policy {policy} ({_brief(live['InlinePolicies'][policy])}), which the "
                "baseline does not have"
            )
        for policy, doc in sorted(recorded.items()):
            now = live["InlinePolicies"].get(policy)
            if now is not None and canonical(now) == canonical(doc):
                continue
            check_delivery_policy(arn, policy, doc, groups)
            outcome.call(
                "iam",
                region,
                "PutRolePolicy",
                RoleName=name,
                PolicyName=policy,
                PolicyDocument=json.dumps(document(doc)),
            )
            before = "missing" if now is None else _brief(now)
            done.append(f"put inline policy {policy} back: {before} -> {_brief(doc)}")
        wanted = {str(p) for p in baseline.get("AttachedPolicies") or []}
        for policy in sorted(set(live["AttachedPolicies"]) - wanted):
            outcome.call("iam", region, "DetachRolePolicy", RoleName=name, PolicyArn=policy)
            done.append(f"detached managed policy {policy}, which the baseline does not have")
        boundary = baseline.get("PermissionsBoundary")
        if live["PermissionsBoundary"] and not boundary:
            outcome.call("iam", region, "DeleteRolePermissionsBoundary", RoleName=name)
            done.append(
                f"removed permissions boundary {live['PermissionsBoundary']}, which the baseline lacks"
            )
        after = read_until(ctx, lambda: _read_role(outcome, name), lambda r: not _role_off(r, baseline))
    except FloorRefused as refused:
        outcome.errors.append(str(refused))
        return outcome.finish(f"role {name}", done, [refused.describe()], "")
    except Gone:
        outcome.gone = True
        return outcome.fail(
            f"role {name} was deleted; trailguard does not re-create roles (that would need iam:CreateRole "
            "and iam:PassRole on any role): re-create it from its baseline by hand",
            f"role {name} does not exist",
        )
    except Exception as exc:
        error = outcome.last_error(exc)
        return outcome.fail(
            f"{'; '.join(done) + '; but ' if done else ''}could not restore role {name}: {error}", error
        )
    off = _role_off(after, baseline)
    if done and not off:
        errors = delivery_errors(ctx, outcome, trails, "LatestCloudWatchLogsDeliveryError")
        if errors:
            done.append(
                f"CloudWatch Logs delivery resumes with CloudTrail's next batch; the last delivery "
                f"error was {'; '.join(errors)}"
            )
    return outcome.finish(
        f"role {name}",
        done,
        off,
        "GetRole, ListRolePolicies, GetRolePolicy and ListAttachedRolePolicies read back the baseline "
        "trust policy, inline policies, attached policies and boundary",
    )
