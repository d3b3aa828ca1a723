"""GuardDuty and Security Hub, as far as trailguard sees them: a finding some time after a trail stops.

moto analyses nothing. Real GuardDuty raises ``Stealth:IAMUser/CloudTrailLoggingDisabled`` minutes
after a successful ``StopLogging`` or ``DeleteTrail``, and Security Hub re-publishes it as an ASFF
finding. This emitter does the same a configurable delay after such a record by anyone other than the
guard itself, and sends both events (shaped like the real ones in ``tests/data/events/findings``) through
the same router, so the finding path is exercised against the deployed rule and function. The ASFF
finding is also stored in the emulator's Security Hub first (``import_finding``), as Security Hub holds
it on AWS, so ``GetFindings`` shows it and ``BatchUpdateFindings`` can resolve it.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from trailguard.local import guardduty_patch
from trailguard.local.router import Activity

log = logging.getLogger(__name__)

FINDING_TYPE = "Stealth:IAMUser/CloudTrailLoggingDisabled"
ASFF_TYPE = "TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled"
TRIGGERS = frozenset({"StopLogging", "DeleteTrail"})
HANDLED_TIMEOUT = 60.0
"""Seconds a due finding waits for trailguard's handling of the call that caused it."""
DESCRIPTION = (
    "AWS CloudTrail trail {trail} was disabled by {user} calling {api} under unusual circumstances. "
    "This can be attackers attempt to cover their tracks by eliminating any trace of activity performed "
    "while they accessed your account."
)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime, millis: bool = False) -> str:
    if millis:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def detector_id(account: str, region: str) -> str:
    """A stable detector id per account and region, as one GuardDuty detector would have."""
    return hashlib.md5(f"{account}/{region}".encode(), usedforsecurity=False).hexdigest()


def trail_arn(name: str, account: str, region: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


def _caller(identity: Mapping[str, Any]) -> tuple[str, str]:
    """(userType, userName) as GuardDuty reports the caller."""
    kind = str(identity.get("type", "Unknown"))
    if kind == "IAMUser":
        return kind, str(identity.get("userName", ""))
    if kind == "AssumedRole":
        issuer = identity.get("sessionContext", {}).get("sessionIssuer", {})
        return kind, str(issuer.get("userName") or identity.get("arn", "").rsplit("/", 2)[-2])
    return kind, kind


def findings_for(record: Mapping[str, Any], when: datetime | None = None) -> list[dict[str, Any]]:
    """The ``GuardDuty Finding`` and ``Security Hub Findings - Imported`` events for one record."""
    when = when or _now()
    account = str(record["recipientAccountId"])
    region = str(record["awsRegion"])
    api = str(record["eventName"])
    params = record.get("requestParameters") or {}
    trail = trail_arn(str(params.get("name", "")), account, region)
    identity = record.get("userIdentity", {})
    user_type, user_name = _caller(identity)
    detector = detector_id(account, region)
    finding_id = uuid.uuid4().hex
    gd_arn = f"arn:aws:guardduty:{region}:{account}:detector/{detector}/finding/{finding_id}"
    first_seen = str(record.get("eventTime"))
    title = f"AWS CloudTrail trail {trail} was disabled."
    description = DESCRIPTION.format(trail=trail, user=user_name, api=api)
    ip = str(record.get("sourceIPAddress", ""))
    access_key = str(identity.get("accessKeyId", ""))
    guardduty = {
        "schemaVersion": "2.0",
        "accountId": account,
        "region": region,
        "partition": "aws",
        "id": finding_id,
        "arn": gd_arn,
        "type": FINDING_TYPE,
        "resource": {
            "resourceType": "AccessKey",
            "accessKeyDetails": {
                "accessKeyId": access_key,
                "principalId": str(identity.get("principalId", "")),
                "userType": user_type,
                "userName": user_name,
            },
        },
        "service": {
            "serviceName": "guardduty",
            "detectorId": detector,
            "action": {
                "actionType": "AWS_API_CALL",
                "awsApiCallAction": {
                    "api": api,
                    "serviceName": "cloudtrail.amazonaws.com",
                    "callerType": "Remote IP",
                    "remoteIpDetails": {
                        "ipAddressV4": ip,
                        "organization": {"asn": "-1", "asnOrg": "local", "isp": "local", "org": "local"},
                        "country": {"countryName": "Local"},
                        "city": {"cityName": "Local"},
                        "geoLocation": {"lat": 0, "lon": 0},
                    },
                    "affectedResources": {"AWS::CloudTrail::Trail": trail},
                },
            },
            "resourceRole": "TARGET",
            "additionalInfo": {"value": "{}", "type": "default"},
            "eventFirstSeen": first_seen,
            "eventLastSeen": first_seen,
            "archived": False,
            "count": 1,
        },
        "severity": 2,
        "createdAt": _iso(when, millis=True),
        "updatedAt": _iso(when, millis=True),
        "title": title,
        "description": description,
    }
    hub_id = f"arn:aws:securityhub:{region}::product/aws/guardduty/{gd_arn}"
    prefix = "action/awsApiCallAction/"
    securityhub_finding = {
        "SchemaVersion": "2018-10-08",
        "Id": gd_arn,
        "ProductArn": f"arn:aws:securityhub:{region}::product/aws/guardduty",
        "GeneratorId": f"arn:aws:guardduty:{region}:{account}:detector/{detector}",
        "AwsAccountId": account,
        "Types": [ASFF_TYPE],
        "FirstObservedAt": first_seen,
        "LastObservedAt": first_seen,
        "CreatedAt": _iso(when, millis=True),
        "UpdatedAt": _iso(when, millis=True),
        "Severity": {"Product": 2, "Normalized": 40, "Label": "MEDIUM"},
        "Title": title,
        "Description": description,
        "ProductFields": {
            "detectorId": detector,
            "action/actionType": "AWS_API_CALL",
            prefix + "api": api,
            prefix + "serviceName": "cloudtrail.amazonaws.com",
            prefix + "callerType": "Remote IP",
            prefix + "remoteIpDetails/ipAddressV4": ip,
            prefix + "affectedResources/AWS::CloudTrail::Trail": trail,
            "resourceRole": "TARGET",
            "archived": "false",
            "count": "1",
            "aws/securityhub/FindingId": hub_id,
            "aws/securityhub/SeverityLabel": "MEDIUM",
            "aws/securityhub/ProductName": "GuardDuty",
            "aws/securityhub/CompanyName": "Amazon",
        },
        "Resources": [
            {
                "Type": "AwsIamAccessKey",
                "Id": f"AWS::IAM::AccessKey:{access_key}",
                "Partition": "aws",
                "Region": region,
                "Details": {"AwsIamAccessKey": {"UserName": user_name, "PrincipalType": user_type}},
            }
        ],
        "RecordState": "ACTIVE",
        "WorkflowState": "NEW",
        "Workflow": {"Status": "NEW"},
    }

    def envelope(
        detail_type: str, source: str, detail: dict[str, Any], resources: list[str]
    ) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": _iso(when),
            "region": region,
            "resources": resources,
            "detail": detail,
        }

    return [
        envelope("GuardDuty Finding", "aws.guardduty", guardduty, []),
        envelope(
            "Security Hub Findings - Imported",
            "aws.securityhub",
            {"findings": [securityhub_finding]},
            [hub_id],
        ),
    ]


def is_guard(identity: Mapping[str, Any], guard_roles: set[str]) -> bool:
    issuer = identity.get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
    return bool(issuer and issuer in guard_roles) or identity.get("arn") in guard_roles


class FindingEmitter:
    """Envelope listener: sends the two finding events ``delay`` seconds after a trail is disabled.

    GuardDuty takes minutes, so on AWS trailguard has long handled the call itself when the finding
    arrives. With ``handled`` (the router's :meth:`~trailguard.local.router.Router.delivered`) a due
    finding also waits until every delivery of the call's own event has finished (at most
    :data:`HANDLED_TIMEOUT` seconds), so a short ``delay`` on a loaded machine keeps AWS's order
    instead of racing the call's handler.

    One scheduler thread holds the pending findings; :meth:`close` drops those not yet due. Before the
    ``Security Hub Findings - Imported`` event is sent, each of its findings is given to ``import_finding``
    (the local cloud stores it in moto's Security Hub, as ``BatchImportFindings`` would).
    """

    def __init__(
        self,
        send: Callable[[dict[str, Any]], None],
        guard_roles: Callable[[], set[str]],
        delay: float = 1.0,
        activity: Activity | None = None,
        import_finding: Callable[[Mapping[str, Any]], Mapping[str, Any] | None] | None = None,
        *,
        handled: Callable[[str, float], bool] | None = None,
    ) -> None:
        self.send = send
        self.handled = handled
        self.import_finding = import_finding
        self.guard_roles = guard_roles
        self.delay = delay
        self.activity = activity or Activity()
        self.emitted: list[dict[str, Any]] = []
        self._due: list[tuple[float, int, str, dict[str, Any]]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="trailguard-findings", daemon=True)
        self._thread.start()

    def __call__(self, envelope: Mapping[str, Any]) -> None:
        record = envelope.get("detail", {})
        if (
            record.get("eventSource") != "cloudtrail.amazonaws.com"
            or record.get("eventName") not in TRIGGERS
            or record.get("errorCode")
            or is_guard(record.get("userIdentity", {}), self.guard_roles())
        ):
            return
        with self._cond:
            if self._closed:
                return
            self.activity.begin()
            self._seq += 1
            due = (time.monotonic() + self.delay, self._seq, str(envelope.get("id", "")), dict(record))
            heapq.heappush(self._due, due)
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._due or self._due[0][0] > time.monotonic()):
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, trigger, record = heapq.heappop(self._due)
            try:
                if self.handled is not None and not self.handled(trigger, HANDLED_TIMEOUT):
                    log.warning("the deliveries of %s still run; sending its finding anyway", trigger)
                events = findings_for(record)
                archived = guardduty_patch.archived_by(events[0]["detail"]) if events else None
                if archived is not None:
                    # GuardDuty sends a finding its suppression rule archives nowhere (EventBridge,
                    # Security Hub): the attack the guardduty.suppression technique undoes
                    log.info(
                        "GuardDuty filter %s archived the finding for %s", archived, record.get("eventID")
                    )
                    events = []
                for event in events:
                    if self.import_finding is not None and event["source"] == "aws.securityhub":
                        # what Security Hub stored: none when GuardDuty's integration is disabled, and
                        # rewritten by its automation rules, so the event carries what AWS would send
                        imported = [self.import_finding(f) for f in event["detail"]["findings"]]
                        event["detail"]["findings"] = [dict(f) for f in imported if f is not None]
                        if not event["detail"]["findings"]:
                            continue
                    self.emitted.append(event)
                    self.send(event)
            except Exception:
                log.exception("could not emit the finding for %s", record.get("eventID"))
            finally:
                self.activity.end()

    def close(self) -> None:
        """Stop the scheduler; findings not yet due are dropped."""
        with self._cond:
            self._closed = True
            dropped, self._due = len(self._due), []
            self._cond.notify_all()
        self._thread.join(timeout=5)
        for _ in range(dropped):
            self.activity.end()
