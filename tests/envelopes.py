"""EventBridge envelopes for tests, built one way for every test area.

EventBridge delivers each CloudTrail record, GuardDuty finding and Security Hub finding wrapped in an
envelope (``version``, ``id``, ``detail-type``, ``source``, ``account``, ``time``, ``region``,
``resources``, ``detail``). :func:`envelope` builds one from exactly what it is given; :func:`api_call`,
:func:`guardduty` and :func:`securityhub` fill ``source``, ``account``, ``region`` and ``time`` from the
record the way EventBridge does, and :func:`wrap` picks among them by the record's shape. Pure: no
boto3, no moto (a uniquely named module: ``tests`` is on ``pythonpath``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trailguard.events import (
    CLOUDTRAIL_DETAIL_TYPE,
    GUARDDUTY_DETAIL_TYPE,
    SECURITYHUB_DETAIL_TYPES,
    CloudTrailRecord,
    GuardDutyFinding,
    SecurityHubFinding,
)

Envelope = dict[str, Any]

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
TIME = "2024-01-01T00:00:00Z"
EVENT_ID = "00000000-0000-4000-8000-000000000000"
SECURITYHUB_IMPORTED, SECURITYHUB_CUSTOM_ACTION = SECURITYHUB_DETAIL_TYPES


def envelope(
    detail_type: str,
    source: str,
    detail: Mapping[str, Any],
    *,
    event_id: str = EVENT_ID,
    account: str = ACCOUNT,
    region: str = REGION,
    time: str = TIME,
    resources: Sequence[str] = (),
) -> Envelope:
    """``detail`` wrapped as EventBridge delivers it, every envelope field as given (none inferred)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time,
        "region": region,
        "resources": list(resources),
        "detail": dict(detail),
    }


def api_call(
    record: Mapping[str, Any],
    *,
    event_id: str = EVENT_ID,
    account: str | None = None,
    region: str | None = None,
    time: str | None = None,
) -> Envelope:
    """A bare CloudTrail record in an ``AWS API Call via CloudTrail`` envelope: ``source`` is
    ``aws.<service>`` of its ``eventSource``; account, region and time are the record's unless given."""
    service = str(record.get("eventSource") or "").split(".", 1)[0]
    return envelope(
        CLOUDTRAIL_DETAIL_TYPE,
        f"aws.{service}",
        record,
        event_id=event_id,
        account=account or str(record.get("recipientAccountId") or ACCOUNT),
        region=region or str(record.get("awsRegion") or REGION),
        time=time or str(record.get("eventTime") or TIME),
    )


def event_spelling(value: Any) -> Any:
    """A GuardDuty finding in its API spelling (PascalCase, ``GetFindings``) as its EventBridge events
    spell it (camelCase). Resource-type keys (``AWS::CloudTrail::Trail``) are names, kept as they are."""
    if isinstance(value, Mapping):
        return {
            (key if "::" in key else key[:1].lower() + key[1:]): event_spelling(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [event_spelling(item) for item in value]
    return value


def guardduty(
    finding: Mapping[str, Any],
    *,
    keep_spelling: bool = False,
    event_id: str = EVENT_ID,
    account: str | None = None,
    region: str | None = None,
    time: str | None = None,
) -> Envelope:
    """A bare GuardDuty finding in a ``GuardDuty Finding`` envelope. The detail is in the events'
    camelCase, as EventBridge delivers it (an API-spelled finding is respelled) unless
    ``keep_spelling``; account, region and time (``updatedAt``) are the finding's unless given."""
    api_spelled = "Type" in finding or "Service" in finding
    detail = dict(finding) if keep_spelling or not api_spelled else event_spelling(finding)

    def field(name: str) -> Any:
        return finding.get(name) or finding.get(name[:1].lower() + name[1:])

    return envelope(
        GUARDDUTY_DETAIL_TYPE,
        "aws.guardduty",
        detail,
        event_id=event_id,
        account=account or str(field("AccountId") or ACCOUNT),
        region=region or str(field("Region") or REGION),
        time=time or str(field("UpdatedAt") or TIME),
    )


def securityhub(
    *findings: Mapping[str, Any],
    custom_action: bool = False,
    event_id: str = EVENT_ID,
    account: str | None = None,
    region: str | None = None,
    time: str | None = None,
) -> Envelope:
    """ASFF findings in a ``Security Hub Findings - Imported`` envelope (``- Custom Action`` if
    ``custom_action``). ``resources`` lists each finding's Security Hub ARN, as EventBridge does; account,
    region and time (``UpdatedAt``) are the first finding's unless given."""
    first: Mapping[str, Any] = findings[0] if findings else {}
    resources = []
    for finding in findings:
        fields = finding.get("ProductFields")
        arn = fields.get("aws/securityhub/FindingId") if isinstance(fields, Mapping) else None
        if arn:
            resources.append(str(arn))
    return envelope(
        SECURITYHUB_CUSTOM_ACTION if custom_action else SECURITYHUB_IMPORTED,
        "aws.securityhub",
        {"findings": [dict(f) for f in findings]},
        event_id=event_id,
        account=account or str(first.get("AwsAccountId") or ACCOUNT),
        region=region or str(first.get("Region") or REGION),
        time=time or str(first.get("UpdatedAt") or TIME),
        resources=resources,
    )


def wrap(obj: Mapping[str, Any], *, event_id: str = EVENT_ID) -> Envelope:
    """Any record of ``tests/data/events`` as EventBridge would deliver it: an envelope as it is, a
    CloudTrail record, ASFF finding or GuardDuty finding (either spelling) in its own envelope."""
    if "detail-type" in obj:
        return dict(obj)
    if CloudTrailRecord.is_shape(obj):
        return api_call(obj, event_id=event_id)
    if SecurityHubFinding.is_shape(obj):
        return securityhub(obj, event_id=event_id)
    if GuardDutyFinding.is_shape(obj):
        return guardduty(obj, event_id=event_id)
    raise ValueError(f"not a CloudTrail record or finding (keys: {', '.join(sorted(obj)[:6])})")
