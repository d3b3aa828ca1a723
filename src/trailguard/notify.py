"""One incident -> one message: a subject and a plain-text body a person reads in ten seconds, plus a
JSON document for machines, published once to the alert topic with per-protocol bodies.

The text answers, in this order: what happened to which trail (account, region), whether trailguard
repaired it and proved it, what the responder must still do, then who, from where and when.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trailguard import aws

if TYPE_CHECKING:
    from trailguard.events import Record
    from trailguard.policy import Verdict
    from trailguard.remediate import Outcome

SUBJECT_MAX = 100
SCHEMA = "trailguard.incident/1"
ACTION_REQUIRED = "[ACTION REQUIRED]"
PREFIX = "[trailguard]"

# What a person does by hand when an action is not built yet or failed (keyed by Technique.remediation).
MANUAL_STEPS = {
    "trail.start_logging": "Start the trail again: "
    "aws cloudtrail start-logging --name {resource} --region {region}, "
    "then check that aws cloudtrail get-trail-status shows IsLogging true.",
    "trail.reconcile": "Check the trail: "
    "aws cloudtrail get-trail-status --name {resource} --region {region}; "
    "start it if IsLogging is false, and compare its settings with what they should be.",
    "trail.recreate": "Re-create the trail with its previous settings (bucket, prefix, KMS key, "
    "CloudWatch Logs, multi-region, log file validation, tags, selectors) and start logging; "
    "redeploying its stack or Terraform restores it.",
    "trail.restore_configuration": "Put the trail's settings back (aws cloudtrail update-trail) to what they "
    "were before, and check them with aws cloudtrail describe-trails.",
    "trail.restore_event_selectors": "Put the trail's event selectors back so that all management events "
    "(read and write) are logged (aws cloudtrail put-event-selectors), then check get-event-selectors.",
}


class NotificationError(RuntimeError):
    """The alert could not be published; raised by the handler only after every repair was done."""


@dataclass
class Incident:
    """One non-benign verdict, what trailguard did about it, and where it was seen."""

    verdict: Verdict
    record: Record
    handler: str
    handler_region: str
    account: str | None = None
    outcome: Outcome | None = None
    technique_title: str | None = None
    mitre: str | None = None
    remediation: str | None = None
    detected_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def action_required(self) -> bool:
        """A person must repair something: the repair failed, is not built, or cannot be automated."""
        if self.verdict.verdict != "tamper":
            return False
        return self.outcome is None or not self.outcome.ok

    @property
    def status(self) -> str:
        """``remediated``, ``already-restored``, ``failed``, ``not-implemented``, ``notify-only``,
        ``attempted`` or ``authorised``: one word for the summary."""
        if self.verdict.verdict == "attempt":
            return "attempted"
        if self.verdict.verdict == "allowed":
            return "authorised"
        return self.outcome.status if self.outcome is not None else "failed"

    @property
    def region(self) -> str:
        return self.record.region or self.handler_region

    @property
    def account_id(self) -> str | None:
        return self.record.account_id or self.account

    @property
    def resource_label(self) -> str:
        """The short name of what was hit (``my-trail`` of its ARN), for subjects."""
        resource = self.verdict.resource or (self.outcome.resource if self.outcome else None)
        if not resource:
            return "unnamed resource"
        return resource.rsplit("/", 1)[-1] if resource.startswith("arn:") else resource

    def summary(self) -> dict[str, Any]:
        """The line of the handler's return value for this incident."""
        return {
            "event_id": self.record.event_id,
            "event_name": self.record.event_name,
            "verdict": self.verdict.verdict,
            "technique": self.verdict.technique,
            "resource": self.verdict.resource,
            "principal": self.verdict.principal,
            "status": self.status,
            "action_required": self.action_required,
            "verified": self.outcome.verified if self.outcome is not None else None,
        }


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    document: dict[str, Any]

    def sns_payload(self) -> str:
        """The ``MessageStructure=json`` body: text for people, the JSON document for programs."""
        doc = json.dumps(self.document, default=str, sort_keys=False)
        return json.dumps(
            {
                "default": self.text,
                "email": self.text,
                "sqs": doc,
                "lambda": doc,
                "https": doc,
                "http": doc,
            }
        )


def ascii_subject(text: str, limit: int = SUBJECT_MAX) -> str:
    """SNS subjects: ASCII, no control characters or line breaks, at most 100 characters."""
    text = text.encode("ascii", "replace").decode("ascii")
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip() or "trailguard incident"
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _what(incident: Incident) -> str:
    """One sentence: what was done to what."""
    record, verdict = incident.record, incident.verdict
    where = f"account {incident.account_id or 'unknown'}, {incident.region}"
    target = verdict.resource or "an unnamed resource"
    if record.kind != "cloudtrail":
        via = f" (via {record.event_name})" if record.event_name else ""
        source = "GuardDuty" if record.kind == "guardduty" else "Security Hub (GuardDuty)"
        return f"{source} reports that CloudTrail trail {target} was disabled{via} in {where}."
    title = incident.technique_title or verdict.technique or "tampering"
    tail = f" The call failed with {record.error_code}." if record.failed else ""
    return f"{title}: {record.event_name} on {target} in {where}.{tail}"


def _did(incident: Incident) -> list[str]:
    verdict, outcome = incident.verdict, incident.outcome
    if verdict.verdict == "attempt":
        return ["Nothing was changed: the call failed, so there is nothing to repair. This was an attempt."]
    if verdict.verdict == "allowed":
        return ["Nothing was changed: the caller is on the allow-list, so this is an authorised change."]
    if outcome is None:
        return ["No remediation ran."]
    lines = [_sentence(outcome.summary)]
    if outcome.status == "not-implemented":
        lines = [f"NOT REPAIRED: this is not repaired automatically yet ({outcome.action})."]
    if outcome.status == "failed":
        lines.insert(0, "REPAIR FAILED.")
    if outcome.action == "trail.reconcile" and outcome.ok:
        lines.append(
            "Only logging was checked; the trail's other settings are not compared with a baseline yet."
        )
    verified = {True: "yes", False: "NO", None: "not applicable"}[outcome.verified]
    lines.append(f"Verified: {verified}.")
    lines.extend(f"Error: {e}" for e in outcome.errors)
    return lines


def _todo(incident: Incident) -> list[str]:
    verdict, record = incident.verdict, incident.record
    who = _principal(record)
    investigate = (
        f"Confirm whether {who} meant to do this. If not, treat the credentials as compromised: "
        + (f"deactivate access key {record.access_key_id}, " if record.access_key_id else "")
        + "revoke its sessions and review its other activity"
        + (f" from {record.source_ip}" if record.source_ip else "")
        + "."
    )
    if verdict.verdict == "allowed":
        return [f"Check that this change was planned (an allow-listed principal, {who}, made it)."]
    if verdict.verdict == "attempt":
        return [investigate]
    steps: list[str] = []
    outcome = incident.outcome
    if incident.action_required:
        manual = MANUAL_STEPS.get(incident.remediation or "")
        if manual:
            steps.append("Repair it now: " + manual.format(resource=verdict.resource, region=incident.region))
        else:
            steps.append(
                "Repair it now by hand: restore the previous configuration of " + (verdict.resource or "it")
            )
        if outcome is not None and outcome.status == "failed":
            steps.append(
                "Give trailguard's role the permissions it was refused, if an error above says AccessDenied."
            )
    else:
        steps.append("Nothing to repair by hand.")
    if record.kind == "cloudtrail" and record.event_time:
        steps.append(
            f"Activity between {record.event_time} and the repair was not delivered by this trail; "
            "review it in CloudTrail event history."
        )
    steps.append(investigate)
    return steps


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _principal(record: Record) -> str:
    """The best name the record gives the caller: ARN, then user name, then principal id."""
    principal_id = record.user_identity.get("principalId")
    return (
        record.principal_arn
        or record.principal_name
        or (f"principal id {principal_id}" if isinstance(principal_id, str) and principal_id else None)
        or "unknown (not in the event)"
    )


def _mfa(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def render(incident: Incident) -> Message:
    """Subject, person-readable text and machine document for one incident."""
    record, verdict, outcome = incident.record, incident.verdict, incident.outcome
    title = incident.technique_title or verdict.technique or "CloudTrail tampering"
    label = incident.resource_label
    status = incident.status
    heads = {
        "remediated": f"{PREFIX} Repaired: {title} - {label}",
        "already-restored": f"{PREFIX} Already restored: {title} - {label}",
        "failed": f"{ACTION_REQUIRED} Repair failed: {title} - {label}",
        "not-implemented": f"{ACTION_REQUIRED} Not repaired: {title} - {label}",
        "notify-only": f"{ACTION_REQUIRED} {title} - {label}",
        "attempted": f"{PREFIX} Attempted: {title} - {label} ({record.error_code})",
        "authorised": f"{PREFIX} Authorised change: {title} - {label}",
    }
    subject = ascii_subject(heads.get(status, f"{PREFIX} {title} - {label}"))

    principal = _principal(record)
    ptype = record.principal_type or "unknown type"
    lines = [_what(incident), ""]
    lines.append("What trailguard did:")
    lines.extend(f"  {line}" for line in _did(incident))
    lines.append("")
    lines.append("What you must still do:")
    lines.extend(f"  - {step}" for step in _todo(incident))
    lines += [
        "",
        "Who:",
        f"  Principal:  {principal} ({ptype})",
    ]
    if record.issuer_arn and record.issuer_arn != record.principal_arn:
        lines.append(f"  Issued by:  {record.issuer_arn}")
    if record.access_key_id:
        lines.append(f"  Access key: {record.access_key_id}")
    lines.append(f"  MFA:        {_mfa(record.mfa_authenticated)}")
    lines += [
        "From where:",
        f"  Source IP:  {record.source_ip or 'unknown'}",
        f"  User agent: {record.user_agent or 'unknown'}",
    ]
    if record.vpc_endpoint_id:
        lines.append(f"  VPC endpoint: {record.vpc_endpoint_id}")
    lines += [
        "When:",
        f"  Event time: {record.event_time or 'unknown'}",
        f"  Detected:   {incident.detected_at} by trailguard ({incident.handler}, {incident.handler_region})",
        "",
        "Details:",
        f"  Verdict:    {verdict.verdict} - {verdict.reason}",
        f"  Technique:  {verdict.technique}"
        + (f" (MITRE ATT&CK {incident.mitre})" if incident.mitre else ""),
        f"  Event:      {record.event_name or 'unknown'} from {record.event_source or record.kind}, "
        f"id {record.event_id or 'unknown'}",
        f"  Resource:   {verdict.resource or 'not named'}",
    ]
    if record.failed:
        lines.append(f"  Error:      {record.error_code}: {record.error_message or ''}".rstrip(": "))
    if outcome is not None and outcome.calls:
        lines.append("  AWS calls made by trailguard:")
        lines.extend(f"    {call.describe()}" for call in outcome.calls)
    text = "\n".join(lines) + "\n"

    document = {
        "schema": SCHEMA,
        "subject": subject,
        "text": text,
        "incident": {
            "verdict": verdict.verdict,
            "status": status,
            "action_required": incident.action_required,
            "technique": verdict.technique,
            "technique_title": incident.technique_title,
            "mitre": incident.mitre,
            "resource": verdict.resource,
            "reason": verdict.reason,
            "account": incident.account_id,
            "region": incident.region,
            "event": {
                "kind": record.kind,
                "id": record.event_id,
                "name": record.event_name,
                "source": record.event_source,
                "time": record.event_time,
                "error_code": record.error_code,
                "error_message": record.error_message,
                "finding_types": list(record.finding_types),
            },
            "principal": {
                "arn": record.principal_arn,
                "issuer_arn": record.issuer_arn,
                "type": record.principal_type,
                "name": record.principal_name,
                "access_key_id": record.access_key_id,
                "mfa_authenticated": record.mfa_authenticated,
            },
            "origin": {
                "source_ip": record.source_ip,
                "user_agent": record.user_agent,
                "vpc_endpoint_id": record.vpc_endpoint_id,
            },
            "remediation": outcome.to_dict() if outcome is not None else None,
            "responder_steps": _todo(incident),
            "detected_at": incident.detected_at,
            "detected_by": {"handler": incident.handler, "region": incident.handler_region},
        },
    }
    return Message(subject, text, document)


def publish(message: Message, topic_arn: str | None) -> str:
    """Publish to the alert topic (in the topic's own region); returns the SNS message id."""
    if not topic_arn:
        raise NotificationError("TRAILGUARD_TOPIC_ARN is not set: the alert has nowhere to go")
    sns = aws.client("sns", aws.region_of_arn(topic_arn))
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=message.subject,
        Message=message.sns_payload(),
        MessageStructure="json",
    )
    return str(response.get("MessageId", ""))
