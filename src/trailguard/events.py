"""Every input shape trailguard accepts, read into one record type.

Pure: no boto3, no I/O beyond :func:`iter_path`. A :class:`Record` is a thin read-only view over the raw
dict (the habit of aws-powertools' event data classes): it copies nothing and never raises on missing or
oddly typed fields, because real CloudTrail is messy (``requestParameters: null``, trails named by ARN,
odd account ids, several time formats).

Shapes understood (``detection-policy.md``, "Inputs"):

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RecordKind = Literal["cloudtrail", "guardduty", "securityhub"]

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
GUARDDUTY_DETAIL_TYPE = "GuardDuty Finding"
SECURITYHUB_DETAIL_TYPES = ("Security Hub Findings - Imported", "Security Hub Findings - Custom Action")

TRAIL_DISABLED_FINDING = "Stealth:IAMUser/CloudTrailLoggingDisabled"
TRAIL_DISABLED_ASFF_TYPE = "TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled"


class MalformedEvent(ValueError):  # noqa: N818 (public name other modules use)
    """An input that is not any shape trailguard understands; the message says why."""


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text or None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Record:
    """One CloudTrail record, one GuardDuty finding or one ASFF finding, as a read-only view.

    ``envelope`` is the EventBridge envelope the record came in, if any.
    """

    raw: Mapping[str, Any]
    kind: RecordKind
    envelope: Mapping[str, Any] | None = field(default=None, compare=False)

    # -- common -------------------------------------------------------------------------------------
    @property
    def event_id(self) -> str | None:
        if self.kind == "cloudtrail":
            return _str(self.raw.get("eventID")) or _str(_get(self.envelope, "id"))
        return _str(self.raw.get("Id") or self.raw.get("id"))

    @property
    def event_name(self) -> str | None:
        """The API call (``StopLogging``); for a finding, the API GuardDuty saw, if it says."""
        if self.kind == "cloudtrail":
            return _str(self.raw.get("eventName"))
        if self.kind == "guardduty":
            return _str(_get(self._gd_action(), "Api") or _get(self._gd_action(), "api"))
        return _str(self._product_field("action/awsApiCallAction/api"))

    @property
    def event_source(self) -> str | None:
        if self.kind == "cloudtrail":
            return _str(self.raw.get("eventSource"))
        if self.kind == "guardduty":
            return _str(_get(self._gd_action(), "ServiceName") or _get(self._gd_action(), "serviceName"))
        return _str(self._product_field("action/awsApiCallAction/serviceName"))

    @property
    def service(self) -> str | None:
        """``cloudtrail`` for ``cloudtrail.amazonaws.com``."""
        source = self.event_source
        return source.split(".", 1)[0] if source else None

    @property
    def region(self) -> str | None:
        if self.kind == "cloudtrail":
            return _str(self.raw.get("awsRegion")) or _str(_get(self.envelope, "region"))
        if self.kind == "guardduty":
            return _str(self.raw.get("Region") or self.raw.get("region")) or _str(
                _get(self.envelope, "region")
            )
        return _str(self.raw.get("Region")) or _str(_get(self.envelope, "region"))

    @property
    def account_id(self) -> str | None:
        if self.kind == "cloudtrail":
            return (
                _str(self.raw.get("recipientAccountId"))
                or _str(self.user_identity.get("accountId"))
                or _str(_get(self.envelope, "account"))
            )
        if self.kind == "guardduty":
            return _str(self.raw.get("AccountId") or self.raw.get("accountId")) or _str(
                _get(self.envelope, "account")
            )
        return _str(self.raw.get("AwsAccountId")) or _str(_get(self.envelope, "account"))

    @property
    def event_time(self) -> str | None:
        if self.kind == "cloudtrail":
            return _str(self.raw.get("eventTime")) or _str(_get(self.envelope, "time"))
        if self.kind == "guardduty":
            service = _dict(self.raw.get("Service") or self.raw.get("service"))
            return _str(service.get("EventLastSeen") or service.get("eventLastSeen")) or _str(
                self.raw.get("UpdatedAt") or self.raw.get("updatedAt")
            )
        return _str(self.raw.get("LastObservedAt") or self.raw.get("UpdatedAt"))

    # -- CloudTrail ---------------------------------------------------------------------------------
    @property
    def error_code(self) -> str | None:
        return _str(self.raw.get("errorCode")) if self.kind == "cloudtrail" else None

    @property
    def error_message(self) -> str | None:
        return _str(self.raw.get("errorMessage")) if self.kind == "cloudtrail" else None

    @property
    def failed(self) -> bool:
        return self.error_code is not None

    @property
    def request_parameters(self) -> Mapping[str, Any]:
        """``requestParameters``; ``{}`` when CloudTrail wrote null (typical of denied calls)."""
        return _dict(self.raw.get("requestParameters")) if self.kind == "cloudtrail" else {}

    @property
    def response_elements(self) -> Mapping[str, Any]:
        return _dict(self.raw.get("responseElements")) if self.kind == "cloudtrail" else {}

    @property
    def read_only(self) -> bool | None:
        value = self.raw.get("readOnly")
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() == "true"
        return None

    @property
    def user_identity(self) -> Mapping[str, Any]:
        return _dict(self.raw.get("userIdentity"))

    @property
    def principal_type(self) -> str | None:
        if self.kind == "guardduty":
            details = _dict(_get(self.raw, "Resource", "AccessKeyDetails")) or _dict(
                _get(self.raw, "resource", "accessKeyDetails")
            )
            return _str(details.get("UserType") or details.get("userType"))
        return _str(self.user_identity.get("type"))

    @property
    def principal_arn(self) -> str | None:
        """The caller as CloudTrail names it: user ARN, assumed-role session ARN, root ARN."""
        arn = _str(self.user_identity.get("arn"))
        if arn:
            return arn
        issuer = self.issuer_arn
        if issuer:
            return issuer
        return None

    @property
    def issuer_arn(self) -> str | None:
        """The long-term identity behind the call: the role that issued a session, else the caller's ARN.

        This is what allow-lists and the guard's own-role check compare against.
        """
        issuer = _str(_get(self.user_identity, "sessionContext", "sessionIssuer", "arn"))
        return issuer or _str(self.user_identity.get("arn"))

    @property
    def principal_name(self) -> str | None:
        ident = self.user_identity
        if self.kind == "guardduty":
            details = _dict(_get(self.raw, "Resource", "AccessKeyDetails")) or _dict(
                _get(self.raw, "resource", "accessKeyDetails")
            )
            return _str(details.get("UserName") or details.get("userName"))
        return _str(ident.get("userName")) or _str(_get(ident, "sessionContext", "sessionIssuer", "userName"))

    @property
    def access_key_id(self) -> str | None:
        return _str(self.user_identity.get("accessKeyId"))

    @property
    def mfa_authenticated(self) -> bool | None:
        value = _get(self.user_identity, "sessionContext", "attributes", "mfaAuthenticated")
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() == "true"
        return None

    @property
    def source_ip(self) -> str | None:
        if self.kind == "guardduty":
            return _str(_get(self._gd_action(), "RemoteIpDetails", "IpAddressV4")) or _str(
                _get(self._gd_action(), "remoteIpDetails", "ipAddressV4")
            )
        if self.kind == "securityhub":
            return _str(self._product_field("action/awsApiCallAction/remoteIpDetails/ipAddressV4"))
        return _str(self.raw.get("sourceIPAddress"))

    @property
    def user_agent(self) -> str | None:
        if self.kind == "guardduty":
            return _str(_get(self._gd_action(), "UserAgent", "FullUserAgent")) or _str(
                _get(self._gd_action(), "userAgent", "fullUserAgent")
            )
        return _str(self.raw.get("userAgent"))

    @property
    def vpc_endpoint_id(self) -> str | None:
        return _str(self.raw.get("vpcEndpointId"))

    # -- findings -----------------------------------------------------------------------------------
    @property
    def finding_types(self) -> tuple[str, ...]:
        """GuardDuty ``Type`` (one) or ASFF ``Types`` (several)."""
        if self.kind == "guardduty":
            value = _str(self.raw.get("Type") or self.raw.get("type"))
            return (value,) if value else ()
        if self.kind == "securityhub":
            types = self.raw.get("Types")
            return tuple(str(t) for t in types) if isinstance(types, list) else ()
        return ()

    @property
    def is_trail_disabled_finding(self) -> bool:
        return TRAIL_DISABLED_FINDING in self.finding_types or TRAIL_DISABLED_ASFF_TYPE in self.finding_types

    @property
    def finding_title(self) -> str | None:
        return _str(self.raw.get("Title") or self.raw.get("title"))

    @property
    def finding_active(self) -> bool:
        """Not archived, record state ACTIVE, workflow neither RESOLVED nor SUPPRESSED."""
        if self.kind == "guardduty":
            service = _dict(self.raw.get("Service") or self.raw.get("service"))
            archived = service.get("Archived", service.get("archived"))
            return str(archived).lower() != "true"
        if self.kind == "securityhub":
            if (_str(self.raw.get("RecordState")) or "ACTIVE").upper() != "ACTIVE":
                return False
            workflow = _str(_get(self.raw, "Workflow", "Status")) or _str(self.raw.get("WorkflowState"))
            if workflow and workflow.upper() in ("RESOLVED", "SUPPRESSED"):
                return False
            return str(self._product_field("archived")).lower() != "true"
        return False

    @property
    def finding_trail(self) -> str | None:
        """The trail a finding names (ARN or name): affected-resources field first, then the title."""
        key = "AWS::CloudTrail::Trail"
        if self.kind == "guardduty":
            affected = _dict(_get(self._gd_action(), "AffectedResources")) or _dict(
                _get(self._gd_action(), "affectedResources")
            )
            found = _str(affected.get(key))
            if found:
                return found
        elif self.kind == "securityhub":
            fields = _dict(self.raw.get("ProductFields"))
            for name, value in fields.items():
                if name.endswith("affectedResources/" + key) and _str(value):
                    return _str(value)
        return _trail_from_text(self.finding_title) or _trail_from_text(
            _str(self.raw.get("Description") or self.raw.get("description"))
        )

    def _gd_action(self) -> Mapping[str, Any]:
        service = _dict(self.raw.get("Service") or self.raw.get("service"))
        action = _dict(service.get("Action") or service.get("action"))
        return _dict(action.get("AwsApiCallAction") or action.get("awsApiCallAction"))

    def _product_field(self, suffix: str) -> Any:
        """An ASFF ``ProductFields`` value, whatever prefix (``aws/guardduty/service/``) its key has."""
        fields = _dict(self.raw.get("ProductFields"))
        if suffix in fields:
            return fields[suffix]
        for name, value in fields.items():
            if name.endswith("/" + suffix):
                return value
        return None


def _trail_from_text(text: str | None) -> str | None:
    """``AWS CloudTrail trail arn:aws:cloudtrail:...:trail/x was disabled.`` -> the ARN (or name)."""
    if not text:
        return None
    for word in text.replace(",", " ").split():
        token = word.rstrip(".")
        if token.startswith("arn:") and ":trail/" in token:
            return token
    # "AWS CloudTrail trail NAME was disabled ..." names the trail only when a word follows "trail"
    # that is not the verb ("A CloudTrail trail was disabled." names none).
    marker = "CloudTrail trail "
    if marker in text:
        candidate = text.split(marker, 1)[1].split(" ", 1)[0].rstrip(".")
        if candidate and candidate.lower() not in ("was", "has", "is", "in", "of"):
            return candidate
    return None


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
        return [Record(f, "securityhub") for f in obj["findings"] if isinstance(f, Mapping)]
    if "eventName" in obj:
        return [Record(obj, "cloudtrail")]
    if "SchemaVersion" in obj and ("Types" in obj or "ProductArn" in obj):
        return [Record(obj, "securityhub")]
    if ("Type" in obj or "type" in obj) and ("Service" in obj or "service" in obj):
        return [Record(obj, "guardduty")]
    keys = ", ".join(sorted(str(k) for k in list(obj)[:6]))
    raise MalformedEvent(f"not a CloudTrail record, log file, EventBridge envelope or finding (keys: {keys})")


def _from_envelope(envelope: Mapping[str, Any], detail_type: str) -> list[Record]:
    detail = envelope.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent(f"EventBridge envelope '{detail_type}' has no detail object")
    if detail_type == CLOUDTRAIL_DETAIL_TYPE or "eventName" in detail:
        if "eventName" not in detail:
            raise MalformedEvent("CloudTrail envelope detail has no eventName")
        return [Record(detail, "cloudtrail", envelope)]
    if detail_type == GUARDDUTY_DETAIL_TYPE:
        return [Record(detail, "guardduty", envelope)]
    if detail_type in SECURITYHUB_DETAIL_TYPES or "findings" in detail:
        findings = detail.get("findings")
        if not isinstance(findings, list):
            raise MalformedEvent(f"'{detail_type}' envelope has no findings list")
        return [Record(f, "securityhub", envelope) for f in findings if isinstance(f, Mapping)]
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
