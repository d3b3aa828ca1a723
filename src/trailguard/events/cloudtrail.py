"""A CloudTrail record (a bare record, one of a log file's ``Records``, or an API-call envelope's
``detail``) as a read-only view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.events.record import Record, RecordKind, flag, get_path, mapping, text

DETAIL_TYPE = "AWS API Call via CloudTrail"
_new = object.__new__
_set = object.__setattr__  # how a frozen dataclass's __init__ sets its fields


@dataclass(frozen=True)
class CloudTrailRecord(Record):
    """One CloudTrail record; envelope fields fill in what the record lacks (id, region, account)."""

    kind: RecordKind = "cloudtrail"

    @classmethod
    def of_log_entry(cls, raw: Mapping[str, Any]) -> CloudTrailRecord:
        """``CloudTrailRecord(raw)`` for one of a log file's ``Records`` (no envelope), built directly: the
        same frozen view, without the generic constructor's checks, which a log file's millions of
        records would pay for each."""
        view = _new(cls)
        _set(view, "raw", raw)
        _set(view, "kind", "cloudtrail")
        _set(view, "envelope", None)
        return view

    @staticmethod
    def is_shape(obj: Mapping[str, Any]) -> bool:
        """A bare CloudTrail record names its call."""
        return "eventName" in obj

    @property
    def event_id(self) -> str | None:
        return text(self.raw.get("eventID")) or self._envelope("id")

    @property
    def event_name(self) -> str | None:
        return text(self.raw.get("eventName"))

    @property
    def event_source(self) -> str | None:
        return text(self.raw.get("eventSource"))

    @property
    def region(self) -> str | None:
        return text(self.raw.get("awsRegion")) or self._envelope("region")

    @property
    def account_id(self) -> str | None:
        return (
            text(self.raw.get("recipientAccountId"))
            or text(self.user_identity.get("accountId"))
            or self._envelope("account")
        )

    @property
    def event_time(self) -> str | None:
        return text(self.raw.get("eventTime")) or self._envelope("time")

    @property
    def error_code(self) -> str | None:
        return text(self.raw.get("errorCode"))

    @property
    def error_message(self) -> str | None:
        return text(self.raw.get("errorMessage"))

    @property
    def request_parameters(self) -> Mapping[str, Any]:
        """``requestParameters``; ``{}`` when CloudTrail wrote null (typical of denied calls)."""
        return mapping(self.raw.get("requestParameters"))

    @property
    def user_identity(self) -> Mapping[str, Any]:
        return mapping(self.raw.get("userIdentity"))

    @property
    def principal_type(self) -> str | None:
        return text(self.user_identity.get("type"))

    @property
    def principal_arn(self) -> str | None:
        """The caller as CloudTrail names it: user ARN, assumed-role session ARN, root ARN."""
        return text(self.user_identity.get("arn")) or self.issuer_arn

    @property
    def issuer_arn(self) -> str | None:
        """The long-term identity behind the call: the role that issued a session, else the caller's ARN.

        This is what allow-lists and the guard's own-role check compare against.
        """
        issuer = text(get_path(self.user_identity, "sessionContext", "sessionIssuer", "arn"))
        return issuer or text(self.user_identity.get("arn"))

    @property
    def principal_name(self) -> str | None:
        ident = self.user_identity
        issuer = get_path(ident, "sessionContext", "sessionIssuer", "userName")
        return text(ident.get("userName")) or text(issuer)

    @property
    def access_key_id(self) -> str | None:
        return text(self.user_identity.get("accessKeyId"))

    @property
    def mfa_authenticated(self) -> bool | None:
        return flag(get_path(self.user_identity, "sessionContext", "attributes", "mfaAuthenticated"))

    @property
    def source_ip(self) -> str | None:
        return text(self.raw.get("sourceIPAddress"))

    @property
    def user_agent(self) -> str | None:
        return text(self.raw.get("userAgent"))

    @property
    def vpc_endpoint_id(self) -> str | None:
        return text(self.raw.get("vpcEndpointId"))
