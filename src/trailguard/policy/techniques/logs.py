"""The trail's CloudWatch Logs delivery: deleting its log group, or cutting the group's retention so the
copy CloudWatch Logs keeps (and the metric filters and alarms built on it) forgets within days."""

from __future__ import annotations

from trailguard.events import Record
from trailguard.policy.inventory import Entry, Inventory
from trailguard.policy.technique import Match, Sweep, Technique, as_int, param, unnamed
from trailguard.policy.techniques._common import TAMPER_MITRE, no_inventory, trail_names
from trailguard.remediate import logs as repair
from trailguard.resources import loggroup
from trailguard.resources.loggroup import KIND

LOGS = "logs.amazonaws.com"


def _trail_group(record: Record, inventory: Inventory) -> tuple[str, str, tuple[Entry, ...]] | Match:
    """(the group's name, its id as the trail names it, the protected trails delivering to it), or the
    Match when it is no trail's group."""
    name = param(record, "logGroupName", "logGroupIdentifier")
    if name is None:
        return unnamed("log group")
    name = loggroup.name_of(name)
    if not inventory.knows_trails:
        return no_inventory("log group", name)
    trails = inventory.trails_for_log_group(name, record.region)
    if not trails:
        return Match.harmless(name, f"log group {name} receives the logs of none of the protected trails")
    return name, loggroup.arn_of(str(trails[0]["CloudWatchLogsLogGroupArn"])), trails


def _delete_group(record: Record, inventory: Inventory) -> Match:
    found = _trail_group(record, inventory)
    if isinstance(found, Match):
        return found
    name, ident, trails = found
    return Match.tamper(
        ident,
        f"deletes log group {name}, which receives the CloudWatch Logs delivery of trail "
        f"{trail_names(trails)}",
    )


def _retention(record: Record, inventory: Inventory) -> Match:
    """PutRetentionPolicy: tamper below the group's recorded retention (an inventory's ``log_groups``),
    else below the retention floor (``retention_days``, default 365)."""
    found = _trail_group(record, inventory)
    if isinstance(found, Match):
        return found
    name, ident, trails = found
    days = as_int(record.request_parameters.get("retentionInDays"))
    if days is None:
        return Match.unknown(
            ident, f"sets the retention of log group {name}, but the record does not say to what"
        )
    recorded = inventory.log_group(ident)
    baseline = as_int(recorded.get("RetentionInDays")) if recorded is not None else None
    if recorded is not None and baseline is None:
        floor, against = None, "its baseline (kept forever)"
    elif baseline is not None:
        floor, against = baseline, f"its baseline of {baseline} days"
    else:
        floor, against = inventory.retention_days, f"the {inventory.retention_days}-day floor"
    if floor is None or days < floor:
        return Match.tamper(
            ident,
            f"cuts the retention of log group {name}, which receives trail {trail_names(trails)}, "
            f"to {days} days, below {against}",
        )
    return Match.harmless(ident, f"log group {name} keeps its logs {days} days, not below {against}")


GROUP_DELETE = Technique(
    id="logs.group-delete",
    tamper_when=(
        "the log group is a protected trail's `CloudWatchLogsLogGroupArn` (its name, in the call's region)"
    ),
    repair_summary=(
        "`CreateLogGroup` with the baseline KMS key and `PutRetentionPolicy` with the baseline retention "
        "(365 days without one); verified by DescribeLogGroups, then the trail's GetTrailStatus"
    ),
    title="Trail CloudWatch Logs group deleted",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(if_gone=True),  # the retention check finds the group gone: recreate it instead
    event_source=LOGS,
    event_names=frozenset({"DeleteLogGroup"}),
    condition=_delete_group,
    action=repair.recreate_group,
    verification="DescribeLogGroups lists the group with the baseline retention and KMS key; "
    "GetTrailStatus shows no LatestCloudWatchLogsDeliveryError after the next delivery.",
)

RETENTION_CUT = Technique(
    id="logs.retention-cut",
    tamper_when=(
        "trail log group, and `retentionInDays` below the group's recorded retention (an inventory's "
        "`log_groups`), else below the retention floor (default 365 days)"
    ),
    repair_summary=(
        "`PutRetentionPolicy` with the baseline retention (`DeleteRetentionPolicy` if it had none)"
    ),
    title="Trail CloudWatch Logs retention cut",
    mitre=TAMPER_MITRE,
    kind=KIND,
    sweep=Sweep(),
    event_source=LOGS,
    event_names=frozenset({"PutRetentionPolicy"}),
    condition=_retention,
    action=repair.restore_retention,
    verification="DescribeLogGroups reports the baseline retentionInDays.",
)

TECHNIQUES = (GROUP_DELETE, RETENTION_CUT)
