"""A GuardDuty finding as a read-only view, whichever way it is spelled.

GuardDuty spells the same finding two ways: its API (``GetFindings``) in PascalCase (``Service`` /
``Action`` / ``AwsApiCallAction``), its EventBridge events in camelCase (``service`` / ``action`` /
``awsApiCallAction``). The properties name the API spelling only; :func:`_pick` is the one place that
reads either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.events.record import GUARDDUTY_DETAIL_TYPE, FindingRecord, RecordKind, text

DETAIL_TYPE = GUARDDUTY_DETAIL_TYPE  # defined in .record, where the readers tell the shapes apart
TRAIL_DISABLED_FINDING = "Stealth:IAMUser/CloudTrailLoggingDisabled"


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def _pick(obj: Any, key: str) -> Any:
    """``obj[key]`` in the API spelling, else in the event spelling; ``None`` if ``obj`` is no mapping."""
    if not isinstance(obj, Mapping):
        return None
    return obj.get(key) or obj.get(_camel(key))


def _has(obj: Mapping[str, Any], key: str) -> bool:
    return key in obj or _camel(key) in obj


@dataclass(frozen=True)
class GuardDutyFinding(FindingRecord):
    """One GuardDuty finding (bare, or a ``GuardDuty Finding`` envelope's ``detail``)."""

    kind: RecordKind = "guardduty"

    @staticmethod
    def is_shape(obj: Mapping[str, Any]) -> bool:
        """A bare finding has a type and a service section."""
        return _has(obj, "Type") and _has(obj, "Service")

    def _field(self, *path: str) -> Any:
        """The value at ``path`` (API spelling), read from either spelling at every step."""
        obj: Any = self.raw
        for key in path:
            obj = _pick(obj, key)
        return obj

    def _api_call(self, *path: str) -> str | None:
        """A field of the API call the finding is about (``Service.Action.AwsApiCallAction``)."""
        return text(self._field("Service", "Action", "AwsApiCallAction", *path))

    @property
    def event_id(self) -> str | None:
        return text(self._field("Id"))

    @property
    def event_name(self) -> str | None:
        return self._api_call("Api")

    @property
    def event_source(self) -> str | None:
        return self._api_call("ServiceName")

    @property
    def region(self) -> str | None:
        return text(self._field("Region")) or self._envelope("region")

    @property
    def account_id(self) -> str | None:
        return text(self._field("AccountId")) or self._envelope("account")

    @property
    def event_time(self) -> str | None:
        return text(self._field("Service", "EventLastSeen")) or text(self._field("UpdatedAt"))

    @property
    def principal_type(self) -> str | None:
        return text(self._field("Resource", "AccessKeyDetails", "UserType"))

    @property
    def principal_name(self) -> str | None:
        return text(self._field("Resource", "AccessKeyDetails", "UserName"))

    @property
    def source_ip(self) -> str | None:
        return self._api_call("RemoteIpDetails", "IpAddressV4")

    @property
    def user_agent(self) -> str | None:
        return self._api_call("UserAgent", "FullUserAgent")

    @property
    def finding_types(self) -> tuple[str, ...]:
        """GuardDuty's one ``Type``."""
        value = text(self._field("Type"))
        return (value,) if value else ()

    @property
    def is_trail_disabled_finding(self) -> bool:
        return TRAIL_DISABLED_FINDING in self.finding_types

    @property
    def finding_active(self) -> bool:
        """Not archived."""
        return str(self._field("Service", "Archived")).lower() != "true"

    def _title(self) -> str | None:
        return text(self._field("Title"))

    def _description(self) -> str | None:
        return text(self._field("Description"))

    def _affected_trail(self) -> str | None:
        affected = self._field("Service", "Action", "AwsApiCallAction", "AffectedResources")
        return text(affected.get("AWS::CloudTrail::Trail")) if isinstance(affected, Mapping) else None
