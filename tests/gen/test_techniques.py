"""The accessors the generators read techniques through."""

from __future__ import annotations

import pytest

from trailguard.gen.techniques import (
    GUARDDUTY,
    SECURITY_HUB,
    all_techniques,
    call_triggers,
    finding_types,
    is_guard,
    permissions,
    repair_summary,
    tamper_when,
    technique_id,
)
from trailguard.policy import TECHNIQUES


def test_all_techniques_in_registry_order() -> None:
    assert [technique_id(t) for t in all_techniques()] == list(TECHNIQUES)


def test_guard_techniques_are_those_on_trailguards_own_pipeline() -> None:
    guard = {technique_id(t) for t in all_techniques() if is_guard(t)}
    assert guard == {
        "guard.rule",
        "guard.function",
        "guard.topic",
        "guard.table",
        "guard.queue",
        "guard.stack",
        "guard.role-use",
        "guard.role",
    }
    sources = {source for t in all_techniques() if is_guard(t) for source, _ in call_triggers(t)}
    assert sources == {
        "events.amazonaws.com",
        "lambda.amazonaws.com",
        "sns.amazonaws.com",
        "dynamodb.amazonaws.com",
        "sqs.amazonaws.com",
        "cloudformation.amazonaws.com",
        "iam.amazonaws.com",
    }


def test_finding_techniques_have_finding_types_by_kind_and_no_calls() -> None:
    finding = TECHNIQUES["finding.trail-disabled"]
    assert call_triggers(finding) == frozenset()
    assert finding_types(finding) == {
        GUARDDUTY: frozenset({"Stealth:IAMUser/CloudTrailLoggingDisabled"}),
        SECURITY_HUB: frozenset({"TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled"}),
    }
    assert call_triggers(TECHNIQUES["trail.stop-logging"]) == {("cloudtrail.amazonaws.com", "StopLogging")}
    assert finding_types(TECHNIQUES["trail.stop-logging"]) == {}


@pytest.mark.parametrize("technique", all_techniques(), ids=list(TECHNIQUES))
def test_every_technique_has_its_contract_text_and_sorted_permissions(technique: object) -> None:
    from trailguard.policy import Technique

    assert isinstance(technique, Technique)
    assert tamper_when(technique) and repair_summary(technique)
    assert "|" not in tamper_when(technique) + repair_summary(technique)  # one markdown table cell each
    assert list(permissions(technique)) == sorted(set(technique.permissions))
