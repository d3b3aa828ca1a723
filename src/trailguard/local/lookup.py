"""CloudTrail ``LookupEvents`` for the local cloud, answered from its recorder: a moto gap.

moto has no ``LookupEvents`` (CloudTrail's 90-day event history). trailguard calls it to confirm an
allow-listed change before trusting it (``trailguard.history``), so while a
:class:`~trailguard.local.server.LocalCloud` runs, :class:`LookupEvents` sits in front of moto's WSGI app
and answers that one operation from the :class:`~trailguard.local.recorder.Recorder`'s records (the
management write events the local cloud's CloudTrail logged), in AWS's shape: newest first, at most
``MaxResults`` (default and maximum 50) per page with a ``NextToken``, one ``LookupAttributes`` entry
(``EventId``, ``EventName``, ``Username``, ``ResourceName``, ``ResourceType``, ``EventSource``,
``AccessKeyId``, ``ReadOnly``), ``StartTime`` / ``EndTime``. Like AWS, it reports only what CloudTrail
itself recorded: an event forged into a function's invocation is not in it. Every other request goes
to moto unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

TARGET = "CloudTrail_20131101.LookupEvents"
ATTRIBUTES = (
    "EventId",
    "EventName",
    "Username",
    "ResourceName",
    "ResourceType",
    "EventSource",
    "AccessKeyId",
    "ReadOnly",
)
MAX_RESULTS = 50

# requestParameters fields that name the resource a call acts on, and its CloudFormation-style type.
_RESOURCE_FIELDS = (
    ("name", "AWS::CloudTrail::Trail"),
    ("trailName", "AWS::CloudTrail::Trail"),
    ("eventDataStore", "AWS::CloudTrail::EventDataStore"),
    ("bucketName", "AWS::S3::Bucket"),
    ("keyId", "AWS::KMS::Key"),
    ("functionName", "AWS::Lambda::Function"),
    ("topicArn", "AWS::SNS::Topic"),
    ("tableName", "AWS::DynamoDB::Table"),
    ("detectorId", "AWS::GuardDuty::Detector"),
    ("rule", "AWS::Events::Rule"),
    ("roleName", "AWS::IAM::Role"),
)


class _Records(Protocol):
    @property
    def records(self) -> list[dict[str, Any]]: ...


def resources_of(record: Mapping[str, Any]) -> list[dict[str, str]]:
    """The ``Resources`` LookupEvents lists for a record (from the names its request parameters give)."""
    params = record.get("requestParameters")
    if not isinstance(params, Mapping):
        return []
    out: list[dict[str, str]] = []
    for name, kind in _RESOURCE_FIELDS:
        value = params.get(name)
        if isinstance(value, str) and value:
            out.append({"ResourceType": kind, "ResourceName": value})
    return out


def _epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def event_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """One ``Events`` entry of a LookupEvents answer."""
    identity = record.get("userIdentity") if isinstance(record.get("userIdentity"), Mapping) else {}
    assert isinstance(identity, Mapping)
    arn = str(identity.get("arn") or "")
    username = str(identity.get("userName") or "") or (arn.rsplit("/", 1)[-1] if arn else "")
    event: dict[str, Any] = {
        "EventId": record.get("eventID"),
        "EventName": record.get("eventName"),
        "ReadOnly": "true" if record.get("readOnly") else "false",
        "EventTime": _epoch(str(record.get("eventTime"))),
        "EventSource": record.get("eventSource"),
        "Resources": resources_of(record),
        "CloudTrailEvent": json.dumps(dict(record), separators=(",", ":")),
    }
    if identity.get("accessKeyId"):
        event["AccessKeyId"] = identity["accessKeyId"]
    if username:
        event["Username"] = username
    return event


def _matches(event: Mapping[str, Any], key: str, value: str) -> bool:
    if key == "ResourceName":
        return any(r.get("ResourceName") == value for r in event.get("Resources", []))
    if key == "ResourceType":
        return any(r.get("ResourceType") == value for r in event.get("Resources", []))
    return str(event.get(key, "")) == value


class _InvalidError(Exception):
    pass


def answer(records: Iterable[Mapping[str, Any]], request: Mapping[str, Any]) -> dict[str, Any]:
    """The LookupEvents answer for ``request`` over ``records`` (oldest first, as the recorder keeps them)."""
    attributes = request.get("LookupAttributes") or []
    if not isinstance(attributes, list) or len(attributes) > 1:
        raise _InvalidError("LookupAttributes takes at most one attribute")
    wanted: tuple[str, str] | None = None
    if attributes:
        key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
        if key not in ATTRIBUTES or not isinstance(value, str):
            raise _InvalidError(f"AttributeKey must be one of {', '.join(ATTRIBUTES)}")
        wanted = (key, value)
    limit = int(request.get("MaxResults") or MAX_RESULTS)
    if not 1 <= limit <= MAX_RESULTS:
        raise _InvalidError(f"MaxResults must be between 1 and {MAX_RESULTS}")
    start, end = request.get("StartTime"), request.get("EndTime")
    events = [event_of(r) for r in reversed(list(records))]
    events = [
        e
        for e in events
        if (wanted is None or _matches(e, *wanted))
        and (start is None or e["EventTime"] >= float(start))
        and (end is None or e["EventTime"] <= float(end))
    ]
    offset = int(request.get("NextToken") or 0)
    page = events[offset : offset + limit]
    out: dict[str, Any] = {"Events": page}
    if offset + limit < len(events):
        out["NextToken"] = str(offset + limit)
    return out


class LookupEvents:
    """WSGI middleware: answers ``LookupEvents`` from the recorder, passes everything else to ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], recorder: _Records) -> None:
        self.app = app
        self.recorder = recorder

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
        if not target.endswith(TARGET):
            return self.app(environ, start_response)
        stream = environ.get("wsgi.input")
        length = str(environ.get("CONTENT_LENGTH") or "0")
        body = stream.read(int(length)) if stream is not None and length.isdigit() else b""
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise _InvalidError("the request body must be a JSON object")
            status, doc = "200 OK", answer(self.recorder.records, request)
        except (_InvalidError, ValueError, TypeError) as exc:
            status = "400 Bad Request"
            doc = {"__type": "InvalidLookupAttributesException", "message": str(exc)}
        data = json.dumps(doc).encode()
        start_response(
            status,
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(data))),
                ("x-amzn-RequestId", "local-lookup"),
            ],
        )
        return [data]
