"""Techniques on the trail itself: stop it, delete it, repoint or weaken it, blind its selectors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard.events import Record
from trailguard.policy.inventory import Entry, Inventory
from trailguard.policy.technique import Match, Technique, param
from trailguard.policy.techniques._common import CLOUDTRAIL, TAMPER_MITRE, trail_target
from trailguard.remediate import NOTIFY_ONLY
from trailguard.remediate import trail as repair
from trailguard.resources.base import as_bool
from trailguard.resources.key import parse_ref as key_ref
from trailguard.resources.trail import KIND, management_coverage


def _stop_logging(record: Record, inventory: Inventory) -> Match:
    target = trail_target(record, inventory, "name")
    if isinstance(target, Match):
        return target
    return Match.tamper(target.resource, f"stops logging on protected trail {target.ref}")


def _delete_trail(record: Record, inventory: Inventory) -> Match:
    target = trail_target(record, inventory, "name")
    if isinstance(target, Match):
        return target
    return Match.tamper(target.resource, f"deletes protected trail {target.ref}")


# -- UpdateTrail ---------------------------------------------------------------------------------------

# request parameter -> DescribeTrails field, for the properties whose value is a string reference
_STRING_PROPS = {
    "s3BucketName": "S3BucketName",
    "s3KeyPrefix": "S3KeyPrefix",
    "snsTopicName": "SnsTopicName",
    "kmsKeyId": "KmsKeyId",
    "cloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "cloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
}
# request parameter -> DescribeTrails field, for the properties where False is the weaker value
_BOOL_PROPS = {
    "isMultiRegionTrail": "IsMultiRegionTrail",
    "includeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "enableLogFileValidation": "LogFileValidationEnabled",
    "isOrganizationTrail": "IsOrganizationTrail",
}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _same(prop: str, new: str, old: str) -> bool:
    if prop == "kmsKeyId" and new and old:
        return key_ref(new) == key_ref(old) or key_ref(new)[1] == key_ref(old)[1]
    if prop == "s3KeyPrefix":
        return new.strip("/") == old.strip("/")
    if prop == "snsTopicName":  # a name or an ARN (DescribeTrails gives the name, calls may give either)
        return new.rsplit(":", 1)[-1] == old.rsplit(":", 1)[-1]
    return new == old


# what removing these always weakens, with or without a baseline to compare against
_ALWAYS_WEAKER_REMOVED = ("kmsKeyId", "cloudWatchLogsLogGroupArn", "cloudWatchLogsRoleArn")


def _degradations(params: Mapping[str, Any], baseline: Entry | None) -> list[str]:
    """What the update weakens: against the baseline when there is one, else any weakening value."""
    found: list[str] = []
    for prop, field in _STRING_PROPS.items():
        if prop not in params or (params[prop] is not None and not isinstance(params[prop], str)):
            continue
        new = _text(params[prop])
        if baseline is None:
            if not new and prop in _ALWAYS_WEAKER_REMOVED:
                found.append(f"{prop} removed")
            continue  # a changed reference cannot be told a redirect without the value it replaced
        old = _text(baseline.get(field))
        if _same(prop, new, old):
            continue
        if not new:
            found.append(f"{prop} removed")
        else:
            found.append(f"{prop} changed from {old or 'none'} to {new}")
    for prop, field in _BOOL_PROPS.items():
        if as_bool(params.get(prop)) is not False:
            continue
        if baseline is not None and field in baseline and as_bool(baseline.get(field)) is not True:
            continue  # already off in the baseline: no change (a baseline without the field can't tell)
        found.append(f"{prop} set to false")
    return found


def _destinations(params: Mapping[str, Any]) -> list[str]:
    """The where-logs-go properties the call sets (a string, or null for removed)."""
    return [p for p in _STRING_PROPS if p in params and (params[p] is None or isinstance(params[p], str))]


def _update_trail(record: Record, inventory: Inventory) -> Match:
    target = trail_target(record, inventory, "name")
    if isinstance(target, Match):
        return target
    params = record.request_parameters
    if not any(p in params for p in (*_STRING_PROPS, *_BOOL_PROPS)):
        if record.failed:
            return Match.unknown(target.resource, f"does not show what it changes on trail {target.ref}")
        return Match.harmless(
            target.resource, f"the update of trail {target.ref} changes no protected property"
        )
    found = _degradations(params, target.baseline)
    doubt = inventory.baseline_doubt(target.baseline, target.ref)
    if doubt is not None:
        # the entry is the live trail (after the call) or nothing: a destination the call sets cannot be
        # compared with what it replaced, so it counts as a redirect (repaired from a baseline that
        # verifies, else escalated), never as benign
        named = {f.split(" ", 1)[0] for f in found}
        found += [
            f"{p} set to {_text(params[p])}" if _text(params[p]) else f"{p} removed"
            for p in _destinations(params)
            if p not in named
        ]
        if found:
            return Match.tamper(
                target.resource,
                f"changes where trail {target.ref} delivers or how it logs ({', '.join(found)}) while "
                f"{doubt}, so it cannot be told from a redirect",
            )
    if found:
        return Match.tamper(target.resource, f"weakens trail {target.ref}: {', '.join(found)}")
    if target.baseline is None:
        return Match.harmless(
            target.resource,
            f"the update of trail {target.ref} weakens nothing that can be told without a baseline",
        )
    return Match.harmless(target.resource, f"the update of trail {target.ref} keeps its baseline")


# -- PutEventSelectors ---------------------------------------------------------------------------------


def _describe_loss(ref: str, reads: bool, writes: bool) -> str:
    if not reads and not writes:
        return f"leaves trail {ref} logging no management events"
    lost = "write" if not writes else "read"
    return f"leaves trail {ref} without {lost} management events from every source"


def _put_event_selectors(record: Record, inventory: Inventory) -> Match:
    target = trail_target(record, inventory, "trailName", "name")
    if isinstance(target, Match):
        return target
    coverage = management_coverage(record.request_parameters)
    if coverage is None:
        if record.failed:
            return Match.unknown(
                target.resource, f"does not show the selectors it puts on trail {target.ref}"
            )
        return Match.harmless(target.resource, f"the call carries no event selectors for trail {target.ref}")
    reads, writes = coverage
    if reads and writes:
        return Match.harmless(target.resource, f"trail {target.ref} still logs all management events")
    if target.baseline is not None:
        before = management_coverage(target.baseline)
        if (
            before is not None
            and not (before[0] and before[1])
            and reads >= before[0]
            and writes >= before[1]
        ):
            return Match.harmless(
                target.resource,
                f"trail {target.ref} did not log all management events in its baseline either",
            )
    return Match.tamper(target.resource, _describe_loss(target.ref, reads, writes))


STOP_LOGGING = Technique(
    id="trail.stop-logging",
    stops_delivery=True,
    tamper_when="the trail (`requestParameters.name`, a name or an ARN) is protected",
    repair_summary="`StartLogging` in the trail's home region",
    title="CloudTrail logging stopped",
    mitre=TAMPER_MITRE,
    kind=KIND,
    event_source=CLOUDTRAIL,
    event_names=frozenset({"StopLogging"}),
    condition=_stop_logging,
    action=repair.start_logging,
    verification="GetTrailStatus in the trail's home region reports IsLogging true.",
    needs_baseline=False,
    budget=4,
)

DELETE = Technique(
    id="trail.delete",
    stops_delivery=True,
    tamper_when="trail protected",
    repair_summary=(
        "recreate from the baseline snapshot: same name, bucket, prefix, KMS key, CloudWatch Logs, "
        "multi-region, organization, log file validation, tags, event and insight selectors; then "
        "`StartLogging`"
    ),
    title="CloudTrail trail deleted",
    mitre=TAMPER_MITRE,
    kind=KIND,
    event_source=CLOUDTRAIL,
    event_names=frozenset({"DeleteTrail"}),
    condition=_delete_trail,
    action=repair.recreate,
    verification="DescribeTrails equals the baseline snapshot and GetTrailStatus reports IsLogging.",
)

UPDATE_DEGRADE = Technique(
    id="trail.update-degrade",
    tamper_when=(
        "it changes a baseline property away from the baseline: where logs go (`s3BucketName`, "
        "`s3KeyPrefix` added, changed or removed, `snsTopicName`, `kmsKeyId`, "
        "`cloudWatchLogsLogGroupArn` / `cloudWatchLogsRoleArn`: each a redirect), "
        "`isMultiRegionTrail` false, `includeGlobalServiceEvents` false, `enableLogFileValidation` "
        "false, `isOrganizationTrail` false. Without a baseline (no inventory), a switch turned off or "
        "the KMS key or CloudWatch Logs removed counts; when the recorded baselines could not be read "
        "or the trail's failed verification, any change to where logs go counts"
    ),
    repair_summary=(
        "`UpdateTrail` back to the baseline values, every drifted property in one call (the message "
        "lists each before -> after); never weaker than the live trail and never to another account's "
        "key, log group or role (safety floors, `remediate/floors.py`)"
    ),
    title="CloudTrail trail weakened or redirected",
    mitre=TAMPER_MITRE,
    kind=KIND,
    event_source=CLOUDTRAIL,
    event_names=frozenset({"UpdateTrail"}),
    condition=_update_trail,
    action=repair.restore_configuration,
    verification="DescribeTrails shows the trail's properties equal to its baseline.",
)

SELECTORS_DEGRADE = Technique(
    id="trail.selectors-degrade",
    stops_delivery=True,
    tamper_when=(
        "management events lose coverage: `includeManagementEvents` false, `readWriteType` other than"
        " `All`, non-empty `excludeManagementEventSources`, or advanced selectors that no longer "
        "select all management events (read and write)"
    ),
    repair_summary="`PutEventSelectors` with the baseline selectors",
    title="CloudTrail event selectors drop management events",
    mitre=TAMPER_MITRE,
    kind=KIND,
    event_source=CLOUDTRAIL,
    event_names=frozenset({"PutEventSelectors"}),
    condition=_put_event_selectors,
    action=repair.restore_event_selectors,
    verification="GetEventSelectors returns the baseline selectors.",
)

# -- CreateTrail: a new trail gets its baseline from its create event ----------------------------------


def _create_trail(record: Record, inventory: Inventory) -> Match:
    """Never tampering: a new trail is not a weakening. Its create event is how it gets a baseline
    (``baseline.discover.created``: confirmed in CloudTrail's event history, then recorded "first
    seen"); until then a change to where it delivers is escalated, never judged against its live
    state (``Inventory.unrecorded_trails``)."""
    ref = param(record, "name")
    if ref is None:
        return Match.harmless(None, "The CreateTrail call does not name the trail it creates.")
    if record.failed:
        return Match.harmless(ref, f"The creation of trail {ref} failed with {record.error_code}.")
    return Match.harmless(
        ref,
        f"A new trail {ref} is not a weakening; if trailguard protects it, it is baselined (first seen) "
        "once CloudTrail's event history confirms this call.",
    )


CREATE = Technique(
    id="trail.create",
    tamper_when=(
        "never: a new protected trail is baselined from its create event once CloudTrail's event "
        "history confirms it (LookupEvents by EventId), marked first seen; until then a change to where "
        "it delivers is escalated"
    ),
    repair_summary="none: records the new trail's baseline (and its bucket, key and log group when new)",
    title="CloudTrail trail created (baselined when confirmed)",
    mitre=TAMPER_MITRE,
    kind=KIND,
    event_source=CLOUDTRAIL,
    event_names=frozenset({"CreateTrail"}),
    condition=_create_trail,
    action=NOTIFY_ONLY,
    verification="trailguard baseline show lists the trail as first seen at the create event's time.",
)

TECHNIQUES = (STOP_LOGGING, DELETE, UPDATE_DEGRADE, SELECTORS_DEGRADE, CREATE)
