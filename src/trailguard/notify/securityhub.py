"""Security Hub: each notice sits beside GuardDuty's findings, where the security team already looks.

- An incident found through CloudTrail is imported as an ASFF finding (``BatchImportFindings``) under
  the account's own default product, ``GeneratorId`` ``trailguard/<technique>``. Its ``Id`` is built
  from the CloudTrail eventID, so a second delivery of the same event updates the same finding.
- An incident raised by a Security Hub finding is answered on that finding (``BatchUpdateFindings``):
  workflow RESOLVED when the repair was verified, NOTIFIED otherwise, with a note saying what was done.
  A bare GuardDuty finding has no Security Hub identity to update; its copy imported into Security Hub
  arrives as its own event and is updated then.

- The event path imports a burst's first incident at once only when the ledger did not record it (no
  state table, the table unusable, or its alert not published: Security Hub is then where the incident
  is kept). A burst the ledger recorded is imported by the next backstop sweep (:func:`import_bursts`),
  off the event's hot path, and updated there whenever its count of calls has grown since
  (``ProductFields`` ``trailguard/calls``), so a storm is one finding with the final count. A repeat
  whose repair needs a person while the first's did not (a message of its own) is imported at once.
- A backstop sweep imports one finding per drifted resource (not one per sweep): a finding describes
  one resource, and Security Hub tracks workflow, suppression and history per finding, so a repaired
  bucket and a deleted function that a person must re-create are separate items to close. Its ``Id``
  (``trailguard/<account>/backstop/<region>/<kind>/<id>``) is stable, so each sweep that still finds
  the drift updates the same finding instead of adding one every five minutes. What could not be
  checked has no resource to name and stays in the email.

Security Hub is a second channel, never a gate: any failure here is logged at ERROR with the incident
and swallowed, after the repair and the email are done. ``TRAILGUARD_SECURITY_HUB=false`` turns it off
(an account without Security Hub would otherwise log an error per incident).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from trailguard import aws
from trailguard.events.record import ANSWERED_FIELD
from trailguard.integrity import KEY_ATTRIBUTE, MAC_ATTRIBUTE
from trailguard.log import log_event
from trailguard.notify.ledger import BURSTS_PK, Ledger, first_incident
from trailguard.notify.notice import Drift, Incident, Notice, SweepFindings, status_head, status_word
from trailguard.notify.renderer import cause_line, links, subject_for
from trailguard.notify.text import clean
from trailguard.resources import securityhub_type
from trailguard.state import DOC_ATTRIBUTE, StoredItem

LOG = logging.getLogger("trailguard.securityhub")  # the name operators' log queries already use
MAX_IMPORT = 100
"""BatchImportFindings takes at most 100 findings per call."""
SCHEMA_VERSION = "2018-10-08"
NOTE_MAX = 512
DESCRIPTION_MAX = 1024
TITLE_MAX = 256
PRODUCT_FIELD_MAX = 2048


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


def finding_id(incident: Incident, account: str) -> str:
    """The Id of the finding an incident is imported as (or, for a Security Hub record, its own)."""
    if incident.record.kind == "securityhub":
        return str(clean(str(incident.record.raw.get("Id"))))
    return str(clean(f"trailguard/{account}/{incident.record.event_id or incident.detected_at}"))


def _resource(incident: Incident, resource: str) -> dict[str, Any]:
    if incident.account_wide:  # Security Hub itself: the account is the resource
        return {"Type": "AwsAccount", "Id": f"AWS::::Account:{resource}", "Partition": "aws",
                "Region": incident.region}  # fmt: skip
    region = aws.region_of_arn(resource)
    return {
        "Type": securityhub_type(incident.kind),
        "Id": resource,
        "Partition": "aws",
        "Region": incident.region if region is None else str(region),
    }


def finding_for(incident: Incident, region: str, account: str, now: str) -> dict[str, Any]:
    """The ASFF finding for an incident seen in a CloudTrail record."""
    record, verdict = incident.record, incident.verdict
    technique = incident.technique_id or "unknown"
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
        "Id": finding_id(incident, account),
        "ProductArn": product_arn(region, account),
        "GeneratorId": f"trailguard/{technique}",
        "AwsAccountId": account,
        "Types": [f"TTPs/Defense Evasion/trailguard-{technique}"],
        "CreatedAt": now,
        "UpdatedAt": now,
        "Severity": {"Label": severity(incident)},
        "Title": _clip(subject_for(incident), TITLE_MAX),
        "Description": _clip(f"{verdict.reason} {_repair_text(incident)}", DESCRIPTION_MAX),
        "Resources": [_resource(incident, resource)],
        "Remediation": {"Recommendation": {"Text": _clip(_repair_text(incident), 512)}},
        "ProductFields": {k: _clip(v, PRODUCT_FIELD_MAX) for k, v in fields.items() if v},
        "Workflow": {"Status": workflow_status(incident)},
        "RecordState": "ACTIVE",
    }
    if record.event_time:
        finding["FirstObservedAt"] = finding["LastObservedAt"] = record.event_time
    urls = links(incident)
    if "trail" in urls:
        finding["SourceUrl"] = urls["trail"]
    if record.event_name and record.event_source:
        call: dict[str, Any] = {"Api": record.event_name, "ServiceName": record.event_source}
        if record.source_ip and record.source_ip[:1].isdigit():
            call["RemoteIpDetails"] = {"IpAddressV4": record.source_ip}
        finding["Action"] = {"ActionType": "AWS_API_CALL", "AwsApiCallAction": call}
    return dict(clean(finding))


def answered_version(incident: Incident, status: str) -> str:
    """The finding's version once trailguard's update lands: the provider's ``UpdatedAt`` (which
    ``BatchUpdateFindings`` leaves alone) and the workflow status trailguard sets."""
    updated = incident.record.raw.get("UpdatedAt")
    return f"{updated if isinstance(updated, str) else ''} {status}"


def note_for(incident: Incident) -> str:
    outcome = incident.outcome
    text = f"trailguard: {incident.status}. " + (outcome.summary if outcome is not None else "")
    if incident.action_required:
        text += " A person must repair it."
    return _clip(text.strip(), NOTE_MAX)


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _import(region: str, findings: list[dict[str, Any]]) -> None:
    """BatchImportFindings in chunks it accepts; any finding refused is a failure."""
    hub = aws.client("securityhub", region)
    for start in range(0, len(findings), MAX_IMPORT):
        response = hub.batch_import_findings(Findings=findings[start : start + MAX_IMPORT])
        failed = response.get("FailedFindings") or []
        if response.get("FailedCount") or failed:
            raise RuntimeError(f"BatchImportFindings refused the finding: {failed}")


def report(notice: Notice, line: dict[str, Any]) -> None:
    """Report one notice to Security Hub; records the result in ``line["security_hub"]`` (nothing for
    a notice Security Hub has no place for). Never raises."""
    if isinstance(notice, SweepFindings):
        result = report_sweep(notice)
        if result is not None:
            line["security_hub"] = result
        return
    incident = notice
    record = incident.record
    try:
        if record.kind == "cloudtrail":
            account = incident.account_id
            if not account:
                raise ValueError("the record names no account, so there is no product ARN to import under")
            region = incident.handler_region
            finding = finding_for(incident, region, account, _timestamp())
            _import(region, [finding])
            line["security_hub"] = {"imported": finding["Id"]}
        elif record.kind == "securityhub":
            ident = {"Id": str(record.raw.get("Id")), "ProductArn": str(record.raw.get("ProductArn"))}
            region = aws.region_of_arn(ident["ProductArn"]) or incident.handler_region
            status = workflow_status(incident)
            # Security Hub emits the finding again after this update; the answered version marks it as
            # trailguard's own, so it is not processed again (no loop while a repair keeps failing).
            response = aws.client("securityhub", region).batch_update_findings(
                FindingIdentifiers=[ident],
                Workflow={"Status": status},
                Note={"Text": note_for(incident), "UpdatedBy": "trailguard"},
                UserDefinedFields={ANSWERED_FIELD: answered_version(incident, status)},
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


# ------------------------------------------------------------------------------ bursts, by the sweep

IMPORTED_ATTRIBUTE = "hub"
"""On a burst item: the count of calls its Security Hub finding carried when last imported."""


def import_bursts(ledger: Ledger, region: str) -> dict[str, Any]:
    """Import (or update) the finding of every CloudTrail burst whose count of calls differs from what
    Security Hub was last given (``hub`` on its item), then record that count (a conditional write per
    burst, so two sweeps never move it back). Only a burst whose signed first incident verifies is
    imported: a forged burst puts nothing in Security Hub. Never raises: what failed is logged and in
    the answer (``{"imported": [ids], "failed": [...]}``), and is tried again by the next sweep."""
    imported: list[str] = []
    failed: list[str] = []
    due: list[tuple[str, int, dict[str, Any]]] = []
    try:
        items = ledger.store.query_raw(BURSTS_PK)
    except Exception as exc:
        return _bursts_failed(imported, [f"the bursts could not be read: {aws.error_text(exc)}"])
    for item in items:
        sk = str(item.get("sk", {}).get("S", "?"))
        try:
            count = int(float(item.get("count", {}).get("N", "0")))  # calls; 0 for a finding's burst
            told = item.get(IMPORTED_ATTRIBUTE, {}).get("N")
            if count < 1 or (told is not None and int(float(told)) == count):
                continue
            doc = ledger.signed.checked(_stored(item))
            if doc is None or doc.get("kind") != "cloudtrail":
                continue  # tampered (the ledger reports it) or a finding's burst (answered at once)
            incident = first_incident(doc, region)
            account = incident.account_id
            if not account:
                continue
            finding = finding_for(incident, region, account, _timestamp())
            finding["ProductFields"]["trailguard/calls"] = str(count)
            due.append((sk, count, finding))
        except Exception as exc:
            failed.append(f"burst {sk}: {type(exc).__name__}: {exc}")
    for start in range(0, len(due), MAX_IMPORT):
        chunk = due[start : start + MAX_IMPORT]
        try:
            _import(region, [finding for _, _, finding in chunk])
        except Exception as exc:
            failed.append(f"BatchImportFindings: {aws.error_text(exc)}")
            continue
        for sk, count, finding in chunk:
            imported.append(str(finding["Id"]))
            try:
                ledger.store.update_if(
                    BURSTS_PK, sk, "SET #h = :n", condition="attribute_not_exists(#h) OR #h < :n",
                    names={"#h": IMPORTED_ATTRIBUTE}, values={":n": {"N": str(count)}},
                )  # fmt: skip
            except Exception as exc:  # imported all the same: the next sweep updates it again
                failed.append(f"burst {sk}: {aws.error_text(exc)}")
    if failed:
        return _bursts_failed(imported, failed)
    if imported:
        log_event(LOG, logging.INFO, "securityhub.bursts-imported", imported=imported)
    return {"imported": imported, "failed": failed}


def _bursts_failed(imported: list[str], failed: list[str]) -> dict[str, Any]:
    log_event(LOG, logging.ERROR, "securityhub.bursts-failed", imported=imported, failed=failed)
    return {"imported": imported, "failed": failed}


def _stored(item: dict[str, Any]) -> StoredItem:
    attributes = {k: str(item[k]["S"]) for k in (MAC_ATTRIBUTE, KEY_ATTRIBUTE) if "S" in item.get(k, {})}
    return StoredItem(str(item["pk"]["S"]), str(item["sk"]["S"]), str(item[DOC_ATTRIBUTE]["S"]), attributes)


# ------------------------------------------------------------------------------ the backstop sweep

BACKSTOP_GENERATOR = "trailguard/backstop"
BACKSTOP_TYPE = "TTPs/Defense Evasion/trailguard-backstop-drift"


def drift_severity(drift: Drift) -> str:
    """As for incidents: CRITICAL when a person must repair, HIGH for drift that was put back (whoever
    or whatever changed it, unseen, is still at large)."""
    return "HIGH" if drift.ok else "CRITICAL"


def _drift_text(drift: Drift) -> str:
    return " ".join(f"{status_word(o.status)}: {o.summary}" for o in drift.outcomes)


def drift_finding(sweep: SweepFindings, drift: Drift, account: str, now: str) -> dict[str, Any]:
    """The ASFF finding for one drifted resource found by a backstop sweep."""
    prefix, word = status_head(drift.status)
    where = f"{account} ({sweep.region})"
    resource_region = aws.region_of_arn(drift.ident) or sweep.region
    repair = _drift_text(drift) + ("" if drift.ok else " A person must repair it (or redeploy).")
    fields = {
        "trailguard/source": "backstop",
        "trailguard/kind": drift.kind,
        "trailguard/status": drift.status,
        "trailguard/outcomes": ",".join(o.status for o in drift.outcomes),
        "trailguard/verified": str(drift.verified).lower(),
        "trailguard/sweptAt": sweep.swept_at,
    }
    finding = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": f"trailguard/{account}/backstop/{sweep.region}/{drift.kind}/{drift.ident}",
        "ProductArn": product_arn(sweep.region, account),
        "GeneratorId": BACKSTOP_GENERATOR,
        "AwsAccountId": account,
        "Types": [BACKSTOP_TYPE],
        "CreatedAt": now,
        "UpdatedAt": now,
        "LastObservedAt": now,
        "Severity": {"Label": drift_severity(drift)},
        "Title": _clip(f"{prefix} {word}: backstop found {drift.label} drifted in {where}", TITLE_MAX),
        "Description": _clip(
            f"The backstop sweep found {drift.label} different from its recorded baseline. "
            + (
                f"Changed by: {cause_line(drift)}. "
                if drift.cause is not None
                else "Who changed it is not known to trailguard: look it up in CloudTrail event history. "
            )
            + repair,
            DESCRIPTION_MAX,
        ),
        "Resources": [
            {
                "Type": securityhub_type(drift.kind),
                "Id": drift.ident,
                "Partition": "aws",
                "Region": resource_region,
            }
        ],
        "Remediation": {"Recommendation": {"Text": _clip(repair, 512)}},
        "ProductFields": {k: _clip(v, PRODUCT_FIELD_MAX) for k, v in fields.items() if v},
        "Workflow": {"Status": "RESOLVED" if drift.verified else "NOTIFIED"},
        "RecordState": "ACTIVE",
    }
    return dict(clean(finding))


def report_sweep(sweep: SweepFindings) -> dict[str, Any] | None:
    """Import one finding per drifted resource; the result (``imported`` ids, or ``error``), or None
    when the sweep found no drift. Never raises; failures are logged at ERROR."""
    if not sweep.drift:
        return None
    try:
        account = sweep.account
        if not account:
            raise ValueError("the sweep knows no account, so there is no product ARN to import under")
        now = _timestamp()
        findings = [drift_finding(sweep, drift, account, now) for drift in sweep.drift]
        _import(sweep.region, findings)
        result: dict[str, Any] = {"imported": [f["Id"] for f in findings]}
        log_event(LOG, logging.INFO, "securityhub.reported", source="backstop", **result)
        return result
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log_event(
            LOG,
            logging.ERROR,
            "securityhub.failed",
            source="backstop",
            region=sweep.region,
            error=error,
            drift=[d.label for d in sweep.drift],
        )
        return {"error": error}
