"""Trail log group actions: re-create a deleted CloudWatch Logs group with its recorded retention and KMS
key, or put its retention back, and prove it with DescribeLogGroups.

The group is the one a protected trail's ``CloudWatchLogsLogGroupArn`` names (or that has a recorded
baseline): trailguard never creates or changes any other group (the floor is checked before each call).
Without a baseline, a re-created group gets the 365-day retention floor and no KMS key, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from trailguard.resources import loggroup
from trailguard.resources.loggroup import DEFAULT_RETENTION_FLOOR, KIND, LogGroupNotFoundError

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
