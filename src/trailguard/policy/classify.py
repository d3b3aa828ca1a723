"""The classifier: one record and an inventory in, exactly one verdict out. Total: never raises."""

from __future__ import annotations

from trailguard.events import Record
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Technique
from trailguard.policy.techniques import FINDING_TECHNIQUES, technique_for_call
from trailguard.policy.verdict import Verdict


def classify(record: Record, inventory: Inventory | None = None) -> Verdict:
    """The verdict of detection-policy.md for ``record``.

    Order matters: trailguard's own calls are benign before anything else (remediation must never
    trigger itself); then the technique decides whether the call touches something protected; only
    then do failure (attempt) and the allow-list (allowed) shape the verdict.
    """
    inventory = inventory if inventory is not None else Inventory()
    try:
        return _classify(record, inventory)
    except Exception as exc:  # messy input must never crash a handler or the CLI
        return Verdict(
            "benign",
            None,
            None,
            _safe_principal(record),
            f"the record could not be judged ({type(exc).__name__}: {exc})",
            record,
        )


def _safe_principal(record: Record) -> str | None:
    try:
        return record.principal_arn
    except Exception:
        return None


def _classify(record: Record, inventory: Inventory) -> Verdict:
    principal = record.principal_arn
    if record.kind != "cloudtrail":
        return _classify_finding(record, inventory)
    technique = technique_for_call(record.event_source, record.event_name)
    if technique is None:
        what = f"The {record.event_name or 'unnamed'} call ({record.event_source or 'no event source'})"
        return Verdict(
            "benign",
            None,
            None,
            principal,
            f"{what} is not one of the tampering calls trailguard watches.",
            record,
        )
    if inventory.is_guard_principal(record.issuer_arn, record.principal_arn):
        return Verdict(
            "benign",
            None,
            None,
            principal,
            f"{record.event_name} was called by trailguard's own role, whose calls never count as tampering.",
            record,
        )
    match = technique.judge(record, inventory)
    return _verdict(technique, match, record, inventory)


def _subject(record: Record) -> str:
    if record.kind == "guardduty":
        return "GuardDuty finding"
    if record.kind == "securityhub":
        return "Security Hub finding"
    return f"{record.event_name or 'unnamed'} call"


def _verdict(technique: Technique, match: Match, record: Record, inventory: Inventory) -> Verdict:
    principal = record.principal_arn
    if match.outcome == "harmless":
        return Verdict("benign", None, match.resource, principal, _sentence(match.reason), record)
    subject = _subject(record)
    predicate = match.reason
    if match.outcome == "unknown":
        predicate = f"{predicate} (so it is treated as tampering)"
    if inventory.is_allowed_principal(record.issuer_arn, record.principal_arn):
        outcome = f"failed with {record.error_code}" if record.failed else "is an authorised change"
        reason = f"The {subject} by allow-listed {principal} {predicate}; it {outcome}"
        return Verdict("allowed", technique, match.resource, principal, _sentence(reason), record)
    if record.failed:
        article = "An" if subject[:1] in "AEIOU" else "A"
        reason = f"{article} {subject} that {predicate} failed with {record.error_code}"
        return Verdict("attempt", technique, match.resource, principal, _sentence(reason), record)
    return Verdict(
        "tamper", technique, match.resource, principal, _sentence(f"The {subject} {predicate}"), record
    )


def _classify_finding(record: Record, inventory: Inventory) -> Verdict:
    for technique in FINDING_TECHNIQUES:
        if record.kind in technique.kinds and set(record.finding_types) & technique.finding_types:
            return _verdict(technique, technique.judge(record, inventory), record, inventory)
    kinds = ", ".join(record.finding_types) or "no type"
    return Verdict(
        "benign",
        None,
        None,
        record.principal_arn,
        f"The {_subject(record)} ({kinds}) is not about CloudTrail being disabled.",
        record,
    )


def _sentence(text: str) -> str:
    """One human sentence: capitalised, ending with a full stop."""
    text = text.strip()
    if not text:
        return "No reason given."
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."
