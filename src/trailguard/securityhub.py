"""Security Hub: each incident sits beside GuardDuty's findings, where the security team already looks.

- An incident found through CloudTrail is imported as an ASFF finding (``BatchImportFindings``) under
  the account's own default product, ``GeneratorId`` ``trailguard/<technique>``. Its ``Id`` is built
  from the CloudTrail eventID, so a second delivery of the same event updates the same finding.
- An incident raised by a Security Hub finding is answered on that finding (``BatchUpdateFindings``):
  workflow RESOLVED when the repair was verified, NOTIFIED otherwise, with a note saying what was done.
  A bare GuardDuty finding has no Security Hub identity to update; its copy imported into Security Hub
  arrives as its own event and is updated then.

Security Hub is a second channel, never a gate: any failure here is logged at ERROR with the incident
and swallowed, after the repair and the email are done. ``TRAILGUARD_SECURITY_HUB=false`` turns it off
(an account without Security Hub would otherwise log an error per incident).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from trailguard import aws
from trailguard.log import log_event

if TYPE_CHECKING:
    from trailguard.notify import Incident

LOG = logging.getLogger(__name__)
SCHEMA_VERSION = "2018-10-08"
NOTE_MAX = 512
DESCRIPTION_MAX = 1024
TITLE_MAX = 256
PRODUCT_FIELD_MAX = 2048

RESOURCE_TYPES = {
    "trail": "AwsCloudTrailTrail",
    "bucket": "AwsS3Bucket",
    "KMS key": "AwsKmsKey",
    "function": "AwsLambdaFunction",
    "topic": "AwsSnsTopic",
    "rule": "AwsEventsEventbus",
    "detector": "AwsGuardDutyDetector",
}


def severity(incident: Incident) -> str:
    """CRITICAL when a person must repair; HIGH for a repaired tamper (the caller is still at large);
    MEDIUM for an attempt; INFORMATIONAL for an authorised change."""
    if incident.verdict.verdict == "allowed":
        return "INFORMATIONAL"
    if incident.verdict.verdict == "attempt":
        return "MEDIUM"
    return "CRITICAL" if incident.action_required else "HIGH"


def workflow_status(incident: Incident) -> str:
    """RESOLVED only when nothing is left to check; NOTIFIED once the team has been told."""
    if incident.verdict.verdict == "allowed":
        return "RESOLVED"
    outcome = incident.outcome
    if incident.verdict.verdict == "tamper" and outcome is not None and outcome.ok and outcome.verified:
        return "RESOLVED"
    return "NOTIFIED"


def product_arn(region: str, account: str) -> str:
    return f"arn:aws:securityhub:{region}:{account}:product/{account}/default"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _repair_text(incident: Incident) -> str:
    outcome = incident.outcome
    if incident.verdict.verdict == "attempt":
        return "The call failed; nothing to repair. Investigate the principal that tried it."
    if incident.verdict.verdict == "allowed":
        return "Authorised change by an allow-listed principal; not repaired."
    if outcome is None:
        return "No remediation ran: repair by hand."
    verified = {True: "verified", False: "NOT verified", None: "no verification"}[outcome.verified]
    return f"trailguard {outcome.action}: {outcome.status} ({verified}). {outcome.summary}"


def finding_for(incident: Incident, region: str, account: str, now: str) -> dict[str, Any]:
    """The ASFF finding for an incident seen in a CloudTrail record."""
    from trailguard.notify import subject_for

    record, verdict = incident.record, incident.verdict
    technique = verdict.technique or "unknown"
    resource = incident.resource or "unknown"
    fields = {
        "trailguard/verdict": verdict.verdict,
        "trailguard/technique": technique,
        "trailguard/status": incident.status,
        "trailguard/eventId": record.event_id or "",
        "trailguard/eventName": record.event_name or "",
        "trailguard/principal": record.principal_arn or record.principal_name or "",
        "trailguard/sourceIp": record.source_ip or "",
        "trailguard/userAgent": record.user_agent or "",
        "trailguard/verified": str(incident.outcome.verified if incident.outcome else None).lower(),
    }
    finding: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": f"trailguard/{account}/{record.event_id or incident.detected_at}",
        "ProductArn": product_arn(region, account),
        "GeneratorId": f"trailguard/{technique}",
        "AwsAccountId": account,
        "Types": [f"TTPs/Defense Evasion/trailguard-{technique}"],
        "CreatedAt": now,
        "UpdatedAt": now,
        "Severity": {"Label": severity(incident)},
        "Title": _clip(subject_for(incident), TITLE_MAX),
        "Description": _clip(f"{verdict.reason} {_repair_text(incident)}", DESCRIPTION_MAX),
        "Resources": [
            {
                "Type": RESOURCE_TYPES.get(incident.resource_noun, "Other"),
                "Id": resource,
                "Partition": "aws",
                "Region": incident.region
                if aws.region_of_arn(resource) is None
                else str(aws.region_of_arn(resource)),
            }
        ],
        "Remediation": {"Recommendation": {"Text": _clip(_repair_text(incident), 512)}},
        "ProductFields": {k: _clip(v, PRODUCT_FIELD_MAX) for k, v in fields.items() if v},
        "Workflow": {"Status": workflow_status(incident)},
        "RecordState": "ACTIVE",
    }
    if record.event_time:
        finding["FirstObservedAt"] = finding["LastObservedAt"] = record.event_time
    links = _links(incident)
    if "trail" in links:
        finding["SourceUrl"] = links["trail"]
    if record.event_name and record.event_source:
        call: dict[str, Any] = {"Api": record.event_name, "ServiceName": record.event_source}
        if record.source_ip and record.source_ip[:1].isdigit():
            call["RemoteIpDetails"] = {"IpAddressV4": record.source_ip}
        finding["Action"] = {"ActionType": "AWS_API_CALL", "AwsApiCallAction": call}
    return finding


def _links(incident: Incident) -> dict[str, str]:
    from trailguard.notify import links

    return links(incident)


def note_for(incident: Incident) -> str:
    outcome = incident.outcome
    text = f"trailguard: {incident.status}. " + (outcome.summary if outcome is not None else "")
    if incident.action_required:
        text += " A person must repair it."
    return _clip(text.strip(), NOTE_MAX)


def report(incident: Incident, line: dict[str, Any]) -> None:
    """Import or update the incident's finding; records the result in ``line``. Never raises."""
    from datetime import UTC, datetime

    record = incident.record
    try:
        if record.kind == "cloudtrail":
            account = incident.account_id
            if not account:
                raise ValueError("the record names no account, so there is no product ARN to import under")
            region = incident.handler_region
            now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            finding = finding_for(incident, region, account, now)
            response = aws.client("securityhub", region).batch_import_findings(Findings=[finding])
            failed = response.get("FailedFindings") or []
            if response.get("FailedCount") or failed:
                raise RuntimeError(f"BatchImportFindings refused the finding: {failed}")
            line["security_hub"] = {"imported": finding["Id"]}
        elif record.kind == "securityhub":
            ident = {"Id": str(record.raw.get("Id")), "ProductArn": str(record.raw.get("ProductArn"))}
            region = aws.region_of_arn(ident["ProductArn"]) or incident.handler_region
            status = workflow_status(incident)
            response = aws.client("securityhub", region).batch_update_findings(
                FindingIdentifiers=[ident],
                Workflow={"Status": status},
                Note={"Text": note_for(incident), "UpdatedBy": "trailguard"},
            )
            unprocessed = response.get("UnprocessedFindings") or []
            if unprocessed:
                raise RuntimeError(f"BatchUpdateFindings did not update the finding: {unprocessed}")
            line["security_hub"] = {"updated": ident["Id"], "workflow": status}
        else:
            return
        log_event(LOG, logging.INFO, "securityhub.reported", event_id=record.event_id, **line["security_hub"])
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        line["security_hub"] = {"error": error}
        log_event(
            LOG,
            logging.ERROR,
            "securityhub.failed",
            event_id=record.event_id,
            kind=record.kind,
            error=error,
            incident=incident.summary(),
        )
