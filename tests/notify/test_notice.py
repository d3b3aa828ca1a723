"""``notify.notice``: the two shapes of a notice, the one status vocabulary, and the kind and noun of
what each technique protects."""

from __future__ import annotations

import typing

import pytest

from trailguard.events import Record
from trailguard.notify import ACTION_REQUIRED, PREFIX, STATUS_WORDS, Drift, Incident, SweepFindings, noun
from trailguard.notify.notice import status_head
from trailguard.policy import TECHNIQUES, Verdict
from trailguard.remediate import Outcome, Status

RECORD = Record({"eventName": "StopLogging", "recipientAccountId": "123456789012"}, "cloudtrail")


def _incident(technique: str, verdict: str = "tamper", status: str | None = "remediated") -> Incident:
    outcome = Outcome("a", "r", status) if status else None  # type: ignore[arg-type]
    return Incident(
        Verdict(verdict, technique, "r", None, "x."), RECORD, "api_call", "us-east-1", outcome=outcome
    )  # type: ignore[arg-type]


def test_every_outcome_status_and_verdict_status_has_one_word() -> None:
    statuses = set(typing.get_args(Status)) | {"attempted", "authorised", "action-required"}
    assert statuses == set(STATUS_WORDS)
    assert status_head("remediated") == (PREFIX, "REPAIRED")
    assert status_head("failed") == (ACTION_REQUIRED, "REPAIR FAILED")
    assert status_head("action-required") == (ACTION_REQUIRED, "NEEDS A PERSON")
    assert status_head("something-new") == (PREFIX, "SOMETHING-NEW")


@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
def test_every_technique_protects_a_kind_with_a_noun(technique: str) -> None:
    incident = _incident(technique)
    assert incident.kind and noun(incident.kind) == incident.resource_noun


@pytest.mark.parametrize(
    ("technique", "kind", "noun_"),
    [
        ("trail.stop-logging", "trail", "trail"),
        ("finding.trail-disabled", "trail", "trail"),
        ("lake.delete", "store", "event data store"),
        ("key.schedule-deletion", "key", "KMS key"),
        ("guard.rule", "rule", "rule"),
        ("org.leave", "account", "account"),
    ],
)
def test_the_kind_and_noun_of_a_technique(technique: str, kind: str, noun_: str) -> None:
    incident = _incident(technique)
    assert (incident.kind, incident.resource_noun) == (kind, noun_)


def test_a_verdict_names_only_a_technique_of_the_registry() -> None:
    with pytest.raises(ValueError, match="no technique 'unknown'"):
        _incident("unknown")


def test_an_incident_needs_a_person_only_for_a_tamper_not_repaired() -> None:
    assert not _incident("trail.stop-logging").action_required
    assert _incident("trail.stop-logging", status="failed").action_required
    assert _incident("trail.stop-logging", status=None).action_required
    assert _incident("trail.stop-logging", status=None).status == "failed"
    assert _incident("trail.stop-logging", "attempt", None).status == "attempted"
    assert not _incident("trail.stop-logging", "allowed", None).action_required


def _outcome(status: str, verified: bool | None = True) -> Outcome:
    return Outcome("x", "y", status, "s", verified)  # type: ignore[arg-type]


def test_a_drift_is_labelled_by_noun_and_short_name() -> None:
    ok = [_outcome("already-restored"), _outcome("remediated")]
    assert Drift("key", "arn:aws:kms:us-east-1:1:key/abc", ok).label == "KMS key abc"
    assert Drift("topic", "arn:aws:sns:us-east-1:1:tg-alerts", ok).label == "topic tg-alerts"
    drift = Drift("bucket", "logs", ok)
    assert (drift.ok, drift.verified, drift.status) == (True, True, "remediated")
    unproved = Drift("bucket", "logs", [_outcome("remediated", None)])
    assert unproved.verified and not Drift("bucket", "logs", [_outcome("remediated", False)]).verified
    gone = Drift("function", "f", [_outcome("already-restored"), _outcome("failed", False)])
    assert (gone.ok, gone.verified, gone.status) == (False, False, "failed")


def test_sweep_findings_are_what_the_ledger_fingerprints() -> None:
    drift = [Drift("trail", "t", [_outcome("remediated")]), Drift("bucket", "b", [_outcome("failed", False)])]
    notice = SweepFindings("1", "us-east-1", drift=drift, errors=["rule r: boom"])
    assert notice.findings() == [
        ["bucket", "b", "failed"],
        ["error", "rule r: boom", ""],
        ["trail", "t", "remediated"],
    ]
    assert notice.action_required and notice.status == "action-required" and notice.newsworthy
    clean = SweepFindings("1", "us-east-1")
    assert clean.findings() == [] and not clean.newsworthy and clean.status == "remediated"
