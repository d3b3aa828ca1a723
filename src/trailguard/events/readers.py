"""Every input shape trailguard accepts, read into :class:`~trailguard.events.record.Record` views.

Pure: no boto3, no I/O beyond :func:`iter_path`. Shapes understood (``detection-policy.md``, "Inputs"):

- a bare CloudTrail record (an object with ``eventName``);
- a CloudTrail log file ``{"Records": [...]}``, plain or gzip, and JSON Lines of either;
- EventBridge envelopes: ``AWS API Call via CloudTrail``, ``GuardDuty Finding``,
  ``Security Hub Findings - Imported`` (and Security Hub custom actions, which carry findings too);
- a bare GuardDuty finding (API PascalCase or event camelCase) or a bare ASFF finding.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from trailguard.events.cloudtrail import DETAIL_TYPE as CLOUDTRAIL_DETAIL_TYPE
from trailguard.events.cloudtrail import CloudTrailRecord
from trailguard.events.guardduty import DETAIL_TYPE as GUARDDUTY_DETAIL_TYPE
from trailguard.events.guardduty import GuardDutyFinding
from trailguard.events.record import Record
from trailguard.events.securityhub import DETAIL_TYPES as SECURITYHUB_DETAIL_TYPES
from trailguard.events.securityhub import SecurityHubFinding


class MalformedEvent(ValueError):  # noqa: N818 (public name other modules use)
    """An input that is not any shape trailguard understands; the message says why."""


def records_from_object(obj: Any) -> list[Record]:
    """Every record one decoded JSON value holds. Raises :class:`MalformedEvent` saying why if none."""
    if not isinstance(obj, Mapping):
        raise MalformedEvent(f"expected a JSON object, got {type(obj).__name__}")
    detail_type = obj.get("detail-type")
    if detail_type is not None:
        return _from_envelope(obj, str(detail_type))
    if "Records" in obj:
        records = obj.get("Records")
        if not isinstance(records, list):
            raise MalformedEvent("'Records' is not a list")
        out: list[Record] = []
        for item in records:
            out.extend(records_from_object(item))
        return out
    if "findings" in obj and isinstance(obj.get("findings"), list):  # BatchImportFindings-like body
        return [SecurityHubFinding(f) for f in obj["findings"] if isinstance(f, Mapping)]
    if CloudTrailRecord.is_shape(obj):
        return [CloudTrailRecord(obj)]
    if SecurityHubFinding.is_shape(obj):
        return [SecurityHubFinding(obj)]
    if GuardDutyFinding.is_shape(obj):
        return [GuardDutyFinding(obj)]
    keys = ", ".join(sorted(str(k) for k in list(obj)[:6]))
    raise MalformedEvent(f"not a CloudTrail record, log file, EventBridge envelope or finding (keys: {keys})")


def _from_envelope(envelope: Mapping[str, Any], detail_type: str) -> list[Record]:
    detail = envelope.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent(f"EventBridge envelope '{detail_type}' has no detail object")
    if detail_type == CLOUDTRAIL_DETAIL_TYPE or "eventName" in detail:
        if "eventName" not in detail:
            raise MalformedEvent("CloudTrail envelope detail has no eventName")
        return [CloudTrailRecord(detail, envelope=envelope)]
    if detail_type == GUARDDUTY_DETAIL_TYPE:
        return [GuardDutyFinding(detail, envelope=envelope)]
    if detail_type in SECURITYHUB_DETAIL_TYPES or "findings" in detail:
        findings = detail.get("findings")
        if not isinstance(findings, list):
            raise MalformedEvent(f"'{detail_type}' envelope has no findings list")
        return [SecurityHubFinding(f, envelope=envelope) for f in findings if isinstance(f, Mapping)]
    if detail_type == "Scheduled Event":
        raise MalformedEvent("a scheduled event carries no record")
    raise MalformedEvent(f"unsupported EventBridge detail-type '{detail_type}'")


def iter_path(path: str | Path) -> Iterator[Record | MalformedEvent]:
    """Records of one file, in order: JSON, a CloudTrail log file, JSON Lines; plain or gzip.

    A record that cannot be understood is yielded as a :class:`MalformedEvent` in its place; a file
    that cannot be read at all raises ``OSError`` (or ``MalformedEvent`` if it is not JSON at all).
    """
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig")
    try:
        values: list[Any] = [json.loads(text)]
    except json.JSONDecodeError:
        values = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                values.append(json.loads(line))
            except json.JSONDecodeError as exc:
                values.append(MalformedEvent(f"line {number} is not JSON: {exc.msg}"))
        if values and all(isinstance(v, MalformedEvent) for v in values):
            raise MalformedEvent("neither JSON nor JSON Lines") from None
    for value in values:
        if isinstance(value, MalformedEvent):
            yield value
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            try:
                yield from records_from_object(item)
            except MalformedEvent as exc:
                yield exc
