"""The classifier: one record and an inventory in, exactly one verdict out. Total: never raises."""

from __future__ import annotations

from typing import Any

from trailguard.events import Record
from trailguard.policy import techniques
from trailguard.policy.inventory import Inventory
from trailguard.policy.technique import Match, Technique, base_event_name
from trailguard.policy.techniques import required_permissions, techniques_for_call
from trailguard.policy.verdict import Verdict
from trailguard.resources import role as role_kind


def classify(record: Record, inventory: Inventory | None = None) -> Verdict:
    """The verdict of detection-policy.md for ``record``.

    Order matters: trailguard's own calls are benign before anything else (remediation must never
    trigger itself), but a call counts as trailguard's only when :func:`own_call` says so: made with its
    role, from a session Lambda named after one of its functions, an action trailguard itself declares,
    and weakening nothing. Then the technique decides whether the call touches something protected;
    only then do failure (attempt) and the allow-list (allowed) shape the verdict.
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
    candidates = techniques_for_call(record.event_source, record.event_name)
    if not candidates:
        return Verdict(
            "benign",
            None,
            None,
            principal,
            _not_watched(record.event_name, record.event_source),
            record,
        )
    technique, match = _judge(candidates, record, inventory)
    if inventory.is_guard_principal(record.issuer_arn, record.principal_arn):
        mine, why = own_call(record, inventory, technique, match)
        if mine:
            return Verdict(
                "benign",
                None,
                None,
                principal,
                f"{record.event_name} was called by trailguard's own function {why}, and it weakens nothing.",
                record,
            )
        if match.outcome != "harmless":
            match = Match(
                match.outcome, match.resource, f"{match.reason} (made with trailguard's role, but {why})"
            )
    return _verdict(technique, match, record, inventory)


def _not_watched(event_name: str | None, event_source: str | None) -> str:
    what = f"The {event_name or 'unnamed'} call ({event_source or 'no event source'})"
    return f"{what} is not one of the tampering calls trailguard watches."


def unwatched_reason(event_source: str, event_name: str) -> str | None:
    """The reason of the benign line :func:`output_line` gives a CloudTrail call named ``event_name``
    by a non-empty ``event_source`` when no technique watches it (whatever the rest of the record and
    the inventory say); None when a technique does, so the record must be judged in full."""
    if not event_source or not event_name or techniques_for_call(event_source, event_name):
        return None
    return _not_watched(event_name, event_source)


def output_line(record: Record, inventory: Inventory, source: str, index: int) -> dict[str, Any]:
    """``classify(record, inventory).to_output(source, index)``, with less work for what most of a log
    is: a CloudTrail call no technique watches (the same lookup :func:`classify` makes first, on the
    same decoded record, so the line is the same; anything else, or anything odd, goes through
    :func:`classify`)."""
    if record.kind == "cloudtrail":
        try:
            name, service = record.event_name, record.event_source
            if not techniques_for_call(service, name):
                return {
                    "source": source,
                    "index": index,
                    "event_id": record.event_id,
                    "event_name": name,
                    "verdict": "benign",
                    "technique": None,
                    "resource": None,
                    "principal": record.principal_arn,
                    "reason": _not_watched(name, service),
                }
        except Exception:  # classify below judges it, and says why it could not
            pass
    return classify(record, inventory).to_output(source, index)


def _judge(
    candidates: tuple[Technique, ...], record: Record, inventory: Inventory
) -> tuple[Technique, Match]:
    """The first technique whose condition is not harmless, else the first one's harmless match."""
    first: tuple[Technique, Match] | None = None
    for technique in candidates:
        match = technique.judge(record, inventory)
        if match.outcome != "harmless":
            return technique, match
        first = first or (technique, match)
    assert first is not None
    return first


# S3 records name the bucket operation; IAM names the permission it needs.
_S3_ACTIONS = {
    "PutBucketLifecycle": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketPublicAccessBlock": "PutBucketPublicAccessBlock",
}


def iam_action(event_source: str | None, event_name: str | None) -> str | None:
    """The IAM action a CloudTrail call needs (``s3:PutLifecycleConfiguration`` for PutBucketLifecycle)."""
    if not event_source or not event_name:
        return None
    service = event_source.split(".", 1)[0]
    name = base_event_name(event_name)
    if service == "s3":
        name = _S3_ACTIONS.get(name, name)
    return f"{service}:{name}"


def own_call(record: Record, inventory: Inventory, technique: Technique, match: Match) -> tuple[bool, str]:
    """Whether a call made with trailguard's role is trailguard's own, and why (or why not).

    Lambda names the role session after the function, so the session must be one of the stack's
    function names (a function an attacker created with the role has another name); the action must be
    one trailguard declares (it never calls StopLogging, DeleteTrail, DisableRule...); and, outside its
    own resources (whose restore calls the guard techniques see as touching them), the call must not
    weaken what it touches: a weakening call can never be trailguard's, whatever the session says.
    """
    session = role_kind.session_name(record.principal_arn or "")
    names = {n.rsplit(":", 1)[-1] for n in inventory.guard.function_names}
    if not session or session not in names:
        shown = f"session {session}" if session else "no session name"
        return False, f"from {shown}, which is not one of trailguard's functions"
    action = iam_action(record.event_source, record.event_name)
    if action not in required_permissions():
        return False, f"trailguard never calls {action}"
    if not technique.guard and match.outcome != "harmless":
        return False, "trailguard's repairs never weaken a protected resource"
    return True, session


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
    for technique in techniques.FINDING_TECHNIQUES:  # the whole registry, built on first use
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
