"""CloudTrail's own event history (``LookupEvents``): what really happened, as opposed to what an
invocation says happened.

Anyone who can invoke trailguard's functions can hand them a record carrying any identity (a copy of a
real event with the break-glass role's ARN). CloudTrail's history is written by CloudTrail alone, so:

- :func:`confirm` checks an allow-listed event before its change becomes a baseline: the event with that
  ``EventId`` must be in the history of the event's region with the same event name, event source,
  principal and request parameters (the resource). ``pending`` when it is not there yet (CloudTrail's
  history lags delivery to EventBridge by minutes on AWS), ``mismatch`` when it is there but differs
  (a forged invocation), ``unavailable`` when LookupEvents cannot be called.
- :func:`lookup_event` and :func:`who_changed` are the small helpers behind it, also for naming who
  made a change the sweep found (``who_changed(resource_name, region)``: the most recent write calls on
  it, newest first).

``cloudtrail:LookupEvents`` has no resource-level permissions (``Resource: "*"``). The local cloud answers
it from its recorder (``trailguard.local.lookup``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from trailguard import aws
from trailguard.log import log_event

LOG = logging.getLogger(__name__)

PERMISSIONS = ("cloudtrail:LookupEvents",)


@dataclass(frozen=True)
class HistoryEvent:
    """One event of CloudTrail's history, with its full record (``CloudTrailEvent``) parsed."""

    event_id: str
    event_name: str
    event_source: str
    event_time: str | None
    username: str | None
    resources: tuple[str, ...]
    record: Mapping[str, Any] = field(default_factory=dict)

    @property
    def principal_arn(self) -> str | None:
        identity = self.record.get("userIdentity")
        arn = identity.get("arn") if isinstance(identity, Mapping) else None
        return str(arn) if arn else None

    @property
    def request_parameters(self) -> Mapping[str, Any]:
        params = self.record.get("requestParameters")
        return params if isinstance(params, Mapping) else {}

    def describe(self) -> str:
        who = self.principal_arn or self.username or "an unknown principal"
        return f"{self.event_name} by {who} at {self.event_time or 'an unknown time'} (event {self.event_id})"

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> HistoryEvent:
        try:
            record = json.loads(str(event.get("CloudTrailEvent") or "{}"))
        except ValueError:
            record = {}
        when = event.get("EventTime")
        if isinstance(when, datetime):
            when_text: str | None = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            when_text = str(when) if when is not None else None
        return cls(
            event_id=str(event.get("EventId") or ""),
            event_name=str(event.get("EventName") or ""),
            event_source=str(event.get("EventSource") or ""),
            event_time=when_text,
            username=str(event["Username"]) if event.get("Username") else None,
            resources=tuple(
                str(r.get("ResourceName"))
                for r in event.get("Resources") or []
                if isinstance(r, Mapping) and r.get("ResourceName")
            ),
            record=record if isinstance(record, dict) else {},
        )


def _client(region: str | None) -> Any:
    return aws.client("cloudtrail", region)


def lookup_event(event_id: str, region: str | None) -> HistoryEvent | None:
    """The event with this id in the history of ``region``; None when it is not (yet) there."""
    answer = _client(region).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": event_id}], MaxResults=1
    )
    events = [HistoryEvent.of(e) for e in answer.get("Events") or []]
    return next((e for e in events if e.event_id == event_id), None)


def who_changed(
    resource_name: str,
    region: str | None,
    *,
    event_names: Iterable[str] = (),
    limit: int = 5,
) -> list[HistoryEvent]:
    """The most recent write calls on ``resource_name`` (newest first, at most ``limit``; only
    ``event_names`` when given). Never raises: an unreadable history is an empty answer, logged."""
    names = set(event_names)
    try:
        answer = _client(region).lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": resource_name}],
            MaxResults=50,
        )
    except Exception as exc:
        log_event(LOG, logging.WARNING, "history.unavailable", resource=resource_name, error=str(exc))
        return []
    events = [HistoryEvent.of(e) for e in answer.get("Events") or []]
    events = [
        e for e in events if e.record.get("readOnly") is not True and (not names or e.event_name in names)
    ]
    return events[:limit]


ConfirmStatus = Literal["confirmed", "pending", "mismatch", "unavailable"]


@dataclass(frozen=True)
class Confirmation:
    status: ConfirmStatus
    reason: str
    event: HistoryEvent | None = None

    @property
    def confirmed(self) -> bool:
        return self.status == "confirmed"


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a or None, sort_keys=True, default=str) == json.dumps(
        b or None, sort_keys=True, default=str
    )


def confirm(
    event_id: str | None,
    region: str | None,
    *,
    event_name: str | None,
    event_source: str | None,
    principal_arn: str | None,
    request_parameters: Mapping[str, Any] | None,
) -> Confirmation:
    """Does CloudTrail's history hold this event as the invocation described it? Never raises."""
    if not event_id:
        return Confirmation("mismatch", "the record has no event id, so CloudTrail cannot confirm it")
    try:
        found = lookup_event(event_id, region)
    except Exception as exc:
        reason = f"LookupEvents failed in {region}: {aws.error_code(exc) or type(exc).__name__}: {exc}"
        return Confirmation("unavailable", reason)
    if found is None:
        return Confirmation(
            "pending", f"event {event_id} is not in CloudTrail's event history in {region} yet"
        )
    differences = [
        what
        for what, ours, theirs in (
            ("event name", event_name, found.event_name),
            ("event source", event_source, found.event_source or event_source),
            ("principal", principal_arn, found.principal_arn),
        )
        if ours != theirs
    ]
    if not _same(request_parameters, found.request_parameters):
        differences.append("resource (request parameters)")
    if differences:
        return Confirmation(
            "mismatch",
            f"CloudTrail's history has event {event_id} as {found.describe()}: the invocation's "
            f"{', '.join(differences)} differ",
            found,
        )
    return Confirmation("confirmed", f"CloudTrail's history confirms {found.describe()}", found)


def issuer_of(record: Mapping[str, Any]) -> str | None:
    """The role ARN behind an assumed-role session in a CloudTrail record (its ``sessionIssuer``)."""
    identity = record.get("userIdentity")
    if not isinstance(identity, Mapping):
        return None
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, Mapping) else None
    arn = issuer.get("arn") if isinstance(issuer, Mapping) else None
    return str(arn) if arn else None


def last_change(
    names: Iterable[str], region: str | None, *, exclude: Iterable[str] = ()
) -> HistoryEvent | None:
    """The most recent write call on the resource known by any of ``names`` (tried in order) that was
    not made by one of the ``exclude`` principals or role ARNs (trailguard's own repairs); None when the
    history has none or cannot be read."""
    skip = set(exclude)
    for name in dict.fromkeys(n for n in names if n):
        for event in who_changed(name, region, limit=50):
            if event.principal_arn in skip or issuer_of(event.record) in skip:
                continue
            return event
    return None
