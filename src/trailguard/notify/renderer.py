"""One notice -> one message: a subject and a plain-text body a person reads in ten seconds on a
phone, a JSON document for programs, and a compact card for chat, published once to the alert topic.
:func:`render` takes either notice (an event's incident, with its storm follow-up, or a sweep's findings).

An incident's text answers, in this order: what happened to which resource in which account and region (the
subject and first line); whether trailguard repaired it and proved it; who did it, from where, with
what client, when; what the responder must still do; then links and details.

Why one publish with ``MessageStructure=json`` and these per-protocol bodies:

- ``default`` / ``email``: the text. Email is read by people; ``default`` covers any protocol not
  listed (``application``, ``firehose``) with the same readable text.
- ``email-json``: the machine document; whoever picked JSON email wants structure.
- ``sqs`` / ``lambda``: the machine document (``schema`` ``trailguard.incident/1``, or
  ``trailguard.sweep/1`` for the sweep): a queue or a
  function consumes fields, not prose; it also carries the text so a consumer can forward it as is.
- ``https`` / ``http``: AWS Chatbot subscribes to SNS over HTTPS, so these get Chatbot's custom
  notification schema (``version`` 1.0, ``source`` custom, ``content`` title / description / nextSteps)
  and Slack or Teams render a compact card. A generic webhook gets the same JSON and finds the whole
  incident under ``metadata.additionalContext.incident`` (a sweep's drift under ``...drift``; JSON
  strings: Chatbot's additionalContext holds string values only).
- ``sms``: the subject alone; 140 bytes leave no room for more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, overload

from trailguard import aws
from trailguard.integrity import TAMPERED
from trailguard.notify.ledger import Decision, SweepDecision
from trailguard.notify.notice import (
    ACTION_REQUIRED,
    PREFIX,
    Drift,
    Incident,
    Notice,
    SweepFindings,
    short_name,
    status_head,
    status_word,
)
from trailguard.notify.text import clean, quote

if TYPE_CHECKING:
    from trailguard.events import Record

SUBJECT_MAX = 100
SCHEMA = "trailguard.incident/1"
CHAT_DESCRIPTION_MAX = 3500
"""Chatbot renders long descriptions badly on a phone; the card stays short and links to the rest."""
REQUEST_VALUE_MAX = 120
CHANGE_VALUE_MAX = 120
CHANGES_MAX = 20
UNKNOWN_PRINCIPAL = "not named in the event"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    document: dict[str, Any]
    chat: dict[str, Any] | None = None

    def sns_payload(self) -> str:
        """The ``MessageStructure=json`` body (the module docstring says which protocol gets what)."""
        doc = json.dumps(self.document, default=str)
        chat = json.dumps(self.chat, default=str) if self.chat is not None else doc
        return json.dumps(
            {
                "default": self.text,
                "email": self.text,
                "email-json": doc,
                "sqs": doc,
                "lambda": doc,
                "https": chat,
                "http": chat,
                "sms": self.subject,
            }
        )


def ascii_subject(text: str, limit: int = SUBJECT_MAX) -> str:
    """SNS subjects: ASCII, no control characters or line breaks, at most 100 characters."""
    text = text.encode("ascii", "replace").decode("ascii")
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip() or "trailguard incident"
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


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
        or UNKNOWN_PRINCIPAL
    )


def _client(user_agent: str | None) -> str:
    """The client's first token (``aws-cli/2.15.0``): a full botocore user agent does not fit a phone."""
    if not user_agent:
        return "an unknown client"
    first = user_agent.split()[0]
    return user_agent if len(user_agent) <= 60 or len(first) < 4 else f"{first} (...)"


def _mfa(value: bool | None) -> str:
    return {True: "MFA", False: "no MFA", None: "MFA unknown"}[value]


def _where(incident: Incident) -> str:
    return f"{incident.account_id or 'unknown account'} ({incident.region})"


def _repair_line(incident: Incident) -> str:
    """One line: what trailguard did and whether it proved it."""
    verdict, outcome, record = incident.verdict, incident.outcome, incident.record
    if verdict.verdict == "attempt":
        return f"Nothing to repair: the call failed ({record.error_code}). This was an attempt."
    if verdict.verdict == "allowed":
        line = "Not repaired: the caller is on the allow-list, so this is an authorised change."
        return f"{line} {_sentence(outcome.summary)}" if outcome is not None else line  # re-baselined
    if outcome is None:
        return "REPAIR FAILED: no remediation ran."
    if outcome.status == "not-implemented":
        return f"NOT REPAIRED: this is not repaired automatically yet ({outcome.action})."
    if outcome.status == "notify-only":
        return "NOT REPAIRED: trailguard cannot undo this; a person must act."
    verified = {True: "yes", False: "NO", None: "no" if outcome.status == "failed" else "not applicable"}[
        outcome.verified
    ]
    return f"{_sentence(outcome.summary)} Verified: {verified}."


def _todo(incident: Incident) -> list[str]:
    verdict, record = incident.verdict, incident.record
    who = _principal(record)
    investigate = (
        "Find out who did this: the event does not name the caller; look it up in CloudTrail event "
        "history" + (f" (source IP {record.source_ip})" if record.source_ip else "") + "."
        if who == UNKNOWN_PRINCIPAL
        else f"Confirm whether {who} meant to do this. If not, treat the credentials as compromised: "
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
        manual = incident.technique.manual_steps if incident.technique is not None else ""
        target = verdict.resource or "it"
        if manual:
            steps.append("Repair it now: " + manual.format(resource=target, region=incident.region))
        else:
            steps.append(f"Repair it now by hand: restore the previous configuration of {target}.")
        if outcome is not None and outcome.status == "failed":
            steps.append(
                "Give trailguard's role the permissions it was refused, if an error below says AccessDenied."
            )
    if incident.interrupts_delivery and record.kind == "cloudtrail" and record.event_time:
        steps.append(
            f"Activity between {record.event_time} and the repair was not delivered by this trail; "
            "review it in CloudTrail event history."
        )
    steps.append(investigate)
    return steps


def _trail_arn(incident: Incident) -> str | None:
    """The trail's ARN for the console link: as named, or built from its name and home region."""
    resource = incident.resource
    if incident.resource_noun != "trail" or not resource:
        return None
    if resource.startswith("arn:"):
        return resource
    if not incident.account_id:
        return None
    home = incident.region
    if incident.outcome is not None:
        regions = [c.region for c in incident.outcome.calls if c.service == "cloudtrail"]
        home = regions[-1] if regions else home
    return f"arn:aws:cloudtrail:{home}:{incident.account_id}:trail/{resource}"


def _console(region: str, fragment: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/{fragment}"


def links(incident: Incident) -> dict[str, str]:
    """Console links to the trail and the CloudTrail event (event history by event id)."""
    out: dict[str, str] = {}
    trail = _trail_arn(incident)
    if trail:
        home = aws.region_of_arn(trail) or incident.region
        out["trail"] = _console(home, f"trails/{quote(trail, safe=':/')}")
    record = incident.record
    if record.kind == "cloudtrail" and record.event_id:
        out["event"] = _console(incident.region, f"events/{quote(record.event_id, safe='')}")
    elif record.kind == "securityhub" and record.event_id:
        region = incident.region
        out["finding"] = (
            f"https://{region}.console.aws.amazon.com/securityhub/home?region={region}"
            f"#/findings?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253A{quote(record.event_id, safe='')}"
        )
    return out


def _request_lines(record: Record) -> list[str]:
    """The request's parameters, one short ``key=value`` each (long or nested values abbreviated)."""
    out = []
    for key, value in record.request_parameters.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        if len(text) > REQUEST_VALUE_MAX:
            text = text[: REQUEST_VALUE_MAX - 3] + "..."
        out.append(f"{key}={text}")
    return out


def subject_for(incident: Incident) -> str:
    """``[trailguard] REPAIRED: StopLogging on trail org-trail in 123456789012 (us-east-1)``."""
    prefix, word = status_head(incident.status)
    return _fit([f"{prefix} {word}: {what}" for what in _subject_phrases(incident)], incident.resource_label)


def _subject_phrases(incident: Incident, what: str | None = None, since: str = "") -> list[str]:
    """The subject's phrase, fullest first: then without the noun, the region, the account. The
    resource's name is the last thing shortened (and the event name never carries an API version)."""
    label = "" if incident.account_wide else incident.resource_label
    target = incident.target
    bare = label or target
    account = incident.account_id or "unknown account"
    if what is not None:  # the storm follow-up: "5 more StopLogging calls on trail x since 03:00Z"
        heads = [f"{what} on {target}{since}", f"{what} on {bare}{since}"]
    elif incident.record.kind == "cloudtrail":
        heads = [f"{incident.event_name} on {target}", f"{incident.event_name} on {bare}"]
    else:
        source = incident.finding_source
        heads = [f"{target} disabled ({source} finding)", f"{bare} disabled ({source} finding)"]
        heads.append(f"{bare} disabled")
    out = [f"{head} in {account} ({incident.region})" for head in heads]
    out += [f"{head} in {account}" for head in heads[1:]]
    out += heads[1:]
    return out


def _fit(candidates: list[str], label: str) -> str:
    """A valid SNS subject: the first candidate that fits; when none does, the last with the resource
    name shortened in the middle."""
    fitted = [ascii_subject(c, limit=10_000) for c in candidates]
    for subject in fitted:
        if len(subject) <= SUBJECT_MAX:
            return subject
    subject = fitted[-1]
    label = ascii_subject(label, limit=10_000) if label else ""
    excess = len(subject) - SUBJECT_MAX
    if label and label in subject and len(label) - excess - 3 >= 8:
        keep = len(label) - excess - 3
        short = label[: (keep + 1) // 2] + "..." + label[len(label) - keep // 2 :]
        subject = subject.replace(label, short, 1)
    return ascii_subject(subject)


# Request parameters whose baseline field has another name (UpdateTrail's vs DescribeTrails', S3's).
_BASELINE_ALIASES = {
    "enablelogfilevalidation": "logfilevalidationenabled",
    "snstopicname": "snstopicname",
    "lifecycleconfiguration": "lifecycle",
    "bucketpolicy": "policy",
}
_MISSING = object()


def _lookup(doc: Mapping[str, Any], key: str) -> Any:
    """``doc[key]`` matched without regard to case (CloudTrail's camelCase vs the API's PascalCase)."""
    want = key.lower()
    want = _BASELINE_ALIASES.get(want, want)
    for name, value in doc.items():
        if str(name).lower() == want:
            return value
    return _MISSING


_NOT_CHANGES = frozenset({"host", "xmlns", "x-amz-expected-bucket-owner"})
"""Request parameters that address the call, not the resource's configuration."""


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "(not in the baseline)"
    if value is None or value == "":
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= CHANGE_VALUE_MAX else text[: CHANGE_VALUE_MAX - 3] + "..."


def _diff(path: str, before: Any, after: Any, out: list[str]) -> None:
    if isinstance(after, Mapping) and isinstance(before, Mapping):
        seen = set()
        for key, value in after.items():
            seen.add(str(key).lower())
            _diff(f"{path}.{key}", _lookup(before, str(key)), value, out)
        for key, value in before.items():  # a structure in a request replaces the recorded one
            if str(key).lower() not in seen:
                _diff(f"{path}.{key}", value, None, out)
        return
    if before is _MISSING and after in (None, "", [], {}):
        return
    if before is not _MISSING and (before == after or (before in (None, "", [], {}) and after in (None, ""))):
        return
    out.append(f"{path}: {_shown(before)} -> {_shown(after)}")


def changes(incident: Incident) -> list[str]:
    """What the call changed, each ``field: before -> after`` against the recorded baseline (``before``
    is ``(not recorded)`` without one); the parameters that only name the resource are left out."""
    record = incident.record
    if record.kind != "cloudtrail" or record.failed or incident.verdict.verdict == "attempt":
        return []
    baseline = incident.baseline
    names = {n for n in (incident.resource, incident.resource_label) if n}
    names |= {short_name(n) for n in names}
    out: list[str] = []
    for key, after in record.request_parameters.items():
        if isinstance(after, str) and (after in names or short_name(after) in names):
            continue
        if str(key).lower() in _NOT_CHANGES:
            continue
        if baseline is None:
            out.append(f"{key}: (not recorded) -> {_shown(after)}")
        else:
            _diff(str(key), _lookup(baseline, str(key)), after, out)
    if len(out) > CHANGES_MAX:
        out = [*out[:CHANGES_MAX], f"... and {len(out) - CHANGES_MAX} more"]
    return out


def render_incident(incident: Incident) -> Message:
    """Subject, person-readable text, machine document and chat card for one incident."""
    record, verdict, outcome = incident.record, incident.verdict, incident.outcome
    subject = subject_for(incident)
    _prefix, word = status_head(incident.status)
    principal = _principal(record)
    ptype = record.principal_type or "unknown type"
    todo = _todo(incident)
    urls = links(incident)

    lines = [
        f"{word}: {incident.headline} in account {_where(incident)}.",
        _repair_line(incident),
        f"Who:  {principal}"
        + ("" if principal == UNKNOWN_PRINCIPAL else f" ({ptype}, {_mfa(record.mfa_authenticated)})"),
        f"From: {record.source_ip or 'unknown IP'} using {_client(record.user_agent)}",
        f"When: {record.event_time or 'unknown'}",
    ]
    changed = changes(incident)
    if changed:
        lines += ["", "What the call changed (baseline -> requested):", *(f"  {c}" for c in changed)]
    lines += ["", "What you must still do:"]
    lines.extend(f"  {n}. {step}" for n, step in enumerate(todo, 1))
    if urls:
        lines += ["", "Links:"]
        lines.extend(f"  {name.capitalize()}: {url}" for name, url in urls.items())
    lines += ["", "Details:", f"  Verdict:    {verdict.verdict} - {verdict.reason}"]
    title = incident.technique_title or ""
    mitre = f" (MITRE ATT&CK {incident.mitre})" if incident.mitre else ""
    lines.append(f"  Technique:  {incident.technique_id}{' - ' + title if title else ''}{mitre}")
    lines.append(
        f"  Event:      {record.event_name or 'unknown'} from {record.event_source or record.kind}, "
        f"id {record.event_id or 'unknown'}"
    )
    lines.append(f"  Resource:   {verdict.resource or 'not named'}")
    request = _request_lines(record)
    if request:
        lines.append(f"  Request:    {request[0]}")
        lines.extend(f"              {item}" for item in request[1:])
    if record.user_agent and _client(record.user_agent) != record.user_agent:
        lines.append(f"  User agent: {record.user_agent}")
    if record.failed:
        lines.append(f"  Error:      {record.error_code}: {record.error_message or ''}".rstrip(": "))
    if record.issuer_arn and record.issuer_arn != record.principal_arn:
        lines.append(f"  Issued by:  {record.issuer_arn}")
    if record.access_key_id:
        lines.append(f"  Access key: {record.access_key_id}")
    if record.vpc_endpoint_id:
        lines.append(f"  VPC endpoint: {record.vpc_endpoint_id}")
    lines.append(
        f"  Detected:   {incident.detected_at} by trailguard ({incident.handler}, {incident.handler_region})"
    )
    if outcome is not None:
        lines.append(f"  Repair:     {outcome.action}: {outcome.status}")
        lines.extend(f"  Error:      {e}" for e in outcome.errors)
        if outcome.calls:
            lines.append("  AWS calls made by trailguard:")
            lines.extend(f"    {call.describe()}" for call in outcome.calls)
    text = "\n".join(lines) + "\n"

    incident_doc = {
        "verdict": verdict.verdict,
        "status": incident.status,
        "action_required": incident.action_required,
        "technique": incident.technique_id,
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
            "request_parameters": dict(record.request_parameters),
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
        "responder_steps": todo,
        "changes": changed,
        "links": urls,
        "detected_at": incident.detected_at,
        "detected_by": {"handler": incident.handler, "region": incident.handler_region},
    }
    document = {
        "schema": SCHEMA,
        "kind": "incident",
        "subject": subject,
        "text": text,
        "incident": incident_doc,
    }
    chat = _chat_card(
        subject,
        [
            f"*{_repair_line(incident)}*",
            f"*Who:* `{principal}` ({ptype}, {_mfa(record.mfa_authenticated)})",
            f"*From:* {record.source_ip or 'unknown IP'} using `{record.user_agent or 'unknown client'}`",
            f"*When:* {record.event_time or 'unknown'}",
            *(f"<{url}|{name.capitalize()} in the console>" for name, url in urls.items()),
        ],
        todo,
        incident,
        incident_doc,
    )
    return Message(subject, text, document, chat)


def _chat_card(
    title: str,
    description: list[str],
    next_steps: list[str],
    incident: Incident,
    incident_doc: dict[str, Any],
) -> dict[str, Any]:
    """The card of one incident (its context names the verdict and technique)."""
    return _card(
        title,
        description,
        next_steps,
        card_id=incident.record.event_id or incident.detected_at,
        keywords=[k for k in (incident.verdict.verdict, incident.technique_id) if k],
        thread=f"trailguard-{incident.account_id or 'account'}-{incident.resource_label}",
        status=incident.status,
        related=[r for r in (incident.resource, incident.record.principal_arn) if r],
        context={
            "verdict": incident.verdict.verdict,
            "status": incident.status,
            "technique": str(incident.technique_id),
            "account": str(incident.account_id),
            "region": incident.region,
            "incident": json.dumps(incident_doc, default=str),
        },
    )


def _card(
    title: str,
    description: list[str],
    next_steps: list[str],
    *,
    card_id: str,
    keywords: list[str],
    thread: str,
    status: str,
    related: list[str],
    context: dict[str, str],
) -> dict[str, Any]:
    """AWS Chatbot's custom notification schema: a title, a short markdown description, next steps."""
    body = "\n".join(description)
    if len(body) > CHAT_DESCRIPTION_MAX:
        body = body[: CHAT_DESCRIPTION_MAX - 3] + "..."
    return {
        "version": "1.0",
        "source": "custom",
        "id": card_id,
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": body,
            "nextSteps": next_steps,
            "keywords": keywords,
        },
        "metadata": {
            # One Slack/Teams thread per resource: a storm's follow-up lands under its first alert.
            "threadId": thread,
            "summary": title,
            "eventType": f"trailguard.{status}",
            "relatedResources": related,
            "additionalContext": context,  # Chatbot takes string values only
        },
    }


def render_followup(incident: Incident, more: int, since: str, unverified: int = 0) -> Message:
    """The short storm follow-up: ``N more StopLogging calls on trail X since HH:MM``.

    ``incident`` is the latest of the burst; ``more`` counts the calls after the first email, and
    ``unverified`` how many of those repairs could not be proved (which makes it ACTION REQUIRED).
    """
    record = incident.record
    since_hm = since[11:16] if len(since) >= 16 else since
    calls = "call" if more == 1 else "calls"
    what = (
        f"{more} more {incident.event_name} {calls} on {incident.target}"
        if record.kind == "cloudtrail"
        else f"{more} more findings that {incident.target} was disabled"
    )
    prefix = ACTION_REQUIRED if unverified else PREFIX
    if record.kind == "cloudtrail":
        phrases = _subject_phrases(
            incident, f"{more} more {incident.event_name} {calls}", f" since {since_hm}Z"
        )
    else:
        phrases = [f"{what} since {since_hm}Z in {_where(incident)}", f"{what} since {since_hm}Z"]
    subject = _fit([f"{prefix} {p}" for p in phrases], incident.resource_label)
    if incident.verdict.verdict == "tamper":
        repaired = (
            f"{unverified} of these repairs could NOT be verified: check the {incident.resource_noun} now."
            if unverified
            else "trailguard repaired every one it has seen so far."
        )
    else:
        repaired = f"Every one is {incident.status} ({incident.verdict.verdict}): nothing was changed."
    lines = [
        f"{what} since {since} (account {_where(incident)}).",
        repaired,
        f"Latest: {record.event_time or 'unknown'} by {_principal(record)} "
        f"from {record.source_ip or 'unknown IP'} using {record.user_agent or 'an unknown client'}.",
        "Someone is repeating the call, perhaps in a loop: stop the principal (deactivate its keys, "
        "revoke its sessions) rather than waiting for trailguard to win the race.",
        "Further calls are counted, not emailed one by one; `trailguard incidents` lists them.",
    ]
    urls = links(incident)
    if urls:
        lines += ["", "Links:"]
        lines.extend(f"  {name.capitalize()}: {url}" for name, url in urls.items())
    text = "\n".join(lines) + "\n"
    summary: dict[str, Any] = {
        **incident.summary(),
        "account": incident.account_id,
        "region": incident.region,
    }
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "follow-up",
        "subject": subject,
        "text": text,
        "follow_up": {"more": more, "since": since, "unverified": unverified},
        "incident": summary,
    }
    chat = _chat_card(subject, lines[:3], lines[3:4], incident, summary)
    return Message(subject, text, document, chat)


# ------------------------------------------------------------------------------ the backstop sweep

SWEEP_SCHEMA = "trailguard.sweep/1"


def _hhmm(iso: str) -> str:
    return f"{iso[11:16]} UTC" + ("" if iso[:10] == datetime.now(UTC).date().isoformat() else f" {iso[:10]}")


def cause_line(drift: Drift) -> str:
    """Who changed a drifted resource, as event history names it, and whether trailguard had the event."""
    assert drift.cause is not None
    text = drift.cause.describe()
    if drift.seen is False:
        return text + "; this event never reached trailguard's event path"
    if drift.seen is True:
        return text + "; trailguard handled this event, yet the resource had drifted again"
    return text


def why_drift(sweep: SweepFindings) -> str:
    """One sentence on why the sweep, not the event path, found the drift: it blames a missed event only
    when event history names an event trailguard never had."""
    if not sweep.drift:
        return "Some resources could not be checked."
    if any(d.cause is not None and d.seen is False for d in sweep.drift):
        return (
            "Events that never reached trailguard are named below (CloudTrail's delivery to EventBridge is"
            " best effort, or a rule or function was off)."
        )
    if all(d.cause is not None for d in sweep.drift):
        return "Who made each change is named below, from CloudTrail event history."
    return (
        "The sweep sees the resource, not the call that changed it: look the change up in CloudTrail"
        " event history to find who made it."
    )


def render_sweep(sweep: SweepFindings, decision: SweepDecision | None = None) -> Message | None:
    """The sweep's one message, or None when there is nothing to tell (no drift, no baseline recorded).

    ``decision``: the ledger's answer for these findings; a ``reminder`` (the same findings mailed over
    the window ago) makes the message say so, and the document carries it as ``notification``.
    """
    where = f"account {sweep.account or 'unknown'}, {sweep.region}"
    reminder = decision if decision is not None and decision.action == "reminder" else None
    head = ACTION_REQUIRED if sweep.action_required else PREFIX
    lines: list[str]
    steps: list[str] = []
    if sweep.recorded is not None:
        subject = f"{head} Backstop recorded the baseline ({where})"
        lines = [
            "trailguard's backstop sweep found no baseline, so it recorded one now: from the next sweep on,",
            "every protected resource is compared with this state and drift is repaired.",
            "",
            sweep.recorded.describe(),
            "",
            "Check that the resources were in a good state when it was recorded; if not, repair them and run",
            "trailguard baseline record --stack-name STACK.",
        ]
        steps = [lines[-2] + " " + lines[-1]]
    elif sweep.drift or sweep.errors:
        subject = (
            f"{head} {status_word(sweep.status)}: backstop found drift on {len(sweep.drift)} resource(s) "
            f"({where})"
        )
        tampered = [e for e in sweep.errors if e.startswith(TAMPERED)]
        if tampered:  # trailguard.integrity: a state record failed verification and was not applied
            subject = f"{head} {TAMPERED}: {len(tampered)} item(s) not applied ({where})"
        lines = [
            f"trailguard's backstop sweep compared every protected resource with its baseline ({where}).",
            "What differed was put back with the same repairs the event path uses.",
            why_drift(sweep),
            "",
        ]
        for drift in sweep.drift:
            lines.append(f"- {drift.label}:")
            if drift.cause is not None:
                lines.append(f"    Changed by: {cause_line(drift)}")
            lines.extend(f"    {status_word(o.status)}: {o.summary}" for o in drift.outcomes)
        if sweep.errors:
            lines += ["", "Could not be checked:", *(f"- {e}" for e in sweep.errors)]
        if sweep.action_required:
            steps = ["Repair what is marked REPAIR FAILED by hand (or redeploy)."]
            lines += ["", "ACTION REQUIRED: repair what is marked REPAIR FAILED by hand (or redeploy)."]
        if reminder is not None:
            since = _hhmm(reminder.since)
            state = (
                f"STILL BROKEN since {since}" if sweep.action_required else f"DRIFTING AGAIN since {since}"
            )
            subject = (
                f"{head} {state}: backstop found the same drift on {len(sweep.drift)} resource(s) ({where})"
            )
            lines = [
                f"REMINDER: every backstop sweep since {since} has found exactly this "
                f"({reminder.repeats} sweep(s) since the last message, which were not mailed).",
                "",
                *lines,
            ]
    else:
        return None
    checked = ", ".join(f"{n} {k}" for k, n in sweep.checked.items())
    lines += ["", f"Checked: {checked or 'nothing'}. Swept at {sweep.swept_at}."]
    subject, text = ascii_subject(subject), "\n".join(lines)
    # Queues and functions get the document; it carries the text so a consumer can forward it as is.
    document: dict[str, Any] = {
        "schema": SWEEP_SCHEMA,
        "account": sweep.account,
        "swept_at": sweep.swept_at,
        "region": sweep.region,
        "checked": dict(sweep.checked),
        "drift": [d.to_dict() for d in sweep.drift],
        "recorded_baseline": sweep.recorded.to_dict() if sweep.recorded is not None else None,
        "errors": list(sweep.errors),
        "message_id": None,
        "publish_error": None,
        "notification": decision.to_dict() if decision is not None else None,
        "subject": subject,
        "text": text,
    }
    chat = _card(
        subject,
        [f"*{line}*" if line.startswith(("REMINDER", "ACTION REQUIRED")) else line for line in lines if line],
        steps,
        card_id=f"trailguard-backstop-{sweep.account or 'account'}-{sweep.region}-{sweep.swept_at}",
        keywords=["backstop", sweep.status],
        thread=f"trailguard-{sweep.account or 'account'}-backstop-{sweep.region}",
        status=sweep.status,
        related=[d.ident for d in sweep.drift]
        + [d.cause.principal for d in sweep.drift if d.cause is not None and d.cause.principal],
        context={
            "status": sweep.status,
            "account": str(sweep.account),
            "region": sweep.region,
            "drift": json.dumps(document["drift"], default=str),
        },
    )
    return Message(subject, text, document, chat)


# ---------------------------------------------------------------------------------- one entry point


@overload
def render(notice: Incident, decision: Decision | None = None) -> Message: ...
@overload
def render(notice: SweepFindings, decision: SweepDecision | None = None) -> Message | None: ...
@overload
def render(notice: Notice, decision: Decision | SweepDecision | None = None) -> Message | None: ...
def render(notice: Notice, decision: Decision | SweepDecision | None = None) -> Message | None:
    """The message for a notice: the full incident, its storm follow-up (a ``follow-up`` decision), or
    the sweep's message (None when the sweep has nothing to tell).

    It cannot fail: every string is cleaned of what no channel accepts (lone surrogates), and should the
    rendering itself raise, a plain message that says so (status, technique, resource, event id and the
    error) goes out instead, so the alert is never lost to a rendering bug."""
    try:
        if isinstance(notice, SweepFindings):
            message = render_sweep(notice, decision if isinstance(decision, SweepDecision) else None)
        elif isinstance(decision, Decision) and decision.action == "follow-up":
            message = render_followup(notice, decision.more, decision.since, decision.unverified)
        else:
            message = render_incident(notice)
        return _cleaned(message) if message is not None else None
    except Exception as exc:
        return fallback(notice, exc)


def _cleaned(message: Message) -> Message:
    chat = clean(message.chat) if message.chat is not None else None
    return Message(ascii_subject(clean(message.subject)), clean(message.text), clean(message.document), chat)


def _attempt(read: Any, default: str) -> str:
    try:
        value = read()
        return clean(str(value)) if value is not None else default
    except Exception:
        return default


def fallback(notice: Notice, error: BaseException) -> Message:
    """The plain message sent when rendering failed: what is known, read field by field, and the error."""
    if isinstance(notice, SweepFindings):
        facts = {
            "status": _attempt(lambda: notice.status, "unknown"),
            "account": _attempt(lambda: notice.account, "unknown"),
            "region": _attempt(lambda: notice.region, "unknown"),
            "drift": _attempt(lambda: ", ".join(d.label for d in notice.drift), "unknown"),
            "errors": _attempt(lambda: "; ".join(notice.errors), ""),
        }
        head = ACTION_REQUIRED
        what = "the backstop sweep's message"
        schema = SWEEP_SCHEMA
    else:
        facts = {
            "status": _attempt(lambda: notice.status, "unknown"),
            "technique": _attempt(lambda: notice.technique_id, "unknown"),
            "resource": _attempt(lambda: notice.resource, "unknown"),
            "account": _attempt(lambda: notice.account_id, "unknown"),
            "region": _attempt(lambda: notice.region, "unknown"),
            "event_id": _attempt(lambda: notice.record.event_id, "unknown"),
            "event_name": _attempt(lambda: notice.record.event_name, "unknown"),
            "principal": _attempt(lambda: notice.record.principal_arn, "unknown"),
            "repair": _attempt(lambda: notice.outcome.summary if notice.outcome else None, "none"),
        }
        head = _attempt(lambda: status_head(notice.status)[0], ACTION_REQUIRED)
        what = "an incident's message"
        schema = SCHEMA
    reason = clean(f"{type(error).__name__}: {error}")
    subject = ascii_subject(
        f"{head} {status_word(facts['status'])}: {facts.get('technique', 'backstop')} on "
        f"{facts.get('resource', facts.get('drift', ''))} in {facts['account']} ({facts['region']})"
    )
    lines = [
        f"trailguard could not render {what} ({reason}); what it knows:",
        *(f"  {name}: {value}" for name, value in facts.items()),
        "",
        "The state table and the function's log have the rest; please report the rendering error.",
    ]
    text = "\n".join(lines) + "\n"
    document = {"schema": schema, "kind": "fallback", "subject": subject, "text": text, "facts": facts,
                "render_error": reason}  # fmt: skip
    return Message(subject, text, document)
