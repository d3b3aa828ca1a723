"""The rule patterns follow the registry: every judged call, nothing else, sorted, and a new technique's
calls appear without editing the template."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from trailguard.gen import patterns
from trailguard.gen.patterns import (
    VERSIONED_SOURCES,
    api_call_pattern,
    event_source_of,
    findings_pattern,
    forward_pattern,
    guard_calls_pattern,
)
from trailguard.gen.techniques import all_techniques, call_triggers, finding_types, is_guard
from trailguard.gen.yamltext import Flow, Note
from trailguard.policy import TECHNIQUES


def _plain(node: Any) -> Any:
    """The pattern as EventBridge receives it: no layout wrappers."""
    if isinstance(node, Note):
        return _plain(node.value)
    if isinstance(node, Flow):
        return list(node.items)
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _pairs(pattern: dict[str, Any]) -> set[tuple[str, str]]:
    pairs = set()
    for branch in pattern["detail"]["$or"]:
        (source,) = branch["eventSource"]
        for name in branch["eventName"]:
            if isinstance(name, dict):
                assert source in VERSIONED_SOURCES and name["prefix"].endswith("2")
                assert name["prefix"][:-1] in branch["eventName"], "each prefix follows its exact name"
            else:
                pairs.add((source, name))
    return pairs


def test_api_call_pattern_is_every_judged_call() -> None:
    pattern = _plain(api_call_pattern())
    triggers = {t for technique in all_techniques() for t in call_triggers(technique)}
    assert _pairs(pattern) == triggers
    assert pattern["source"] == sorted({event_source_of(s) for s, _ in triggers})
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]


def test_guard_calls_pattern_is_the_guard_techniques_calls() -> None:
    pattern = _plain(guard_calls_pattern())
    expected = {t for technique in all_techniques() if is_guard(technique) for t in call_triggers(technique)}
    assert _pairs(pattern) == expected
    api = _plain(api_call_pattern())["detail"]["$or"]
    assert all(branch in api for branch in pattern["detail"]["$or"])


def test_forward_pattern_is_the_trail_techniques_calls() -> None:
    """What a member forwards to the organization's bus: every call on trails a technique judges (one
    service, so its one branch is the detail), and trailguard's own alarms going into ALARM."""
    pattern, alarms = _plain(forward_pattern())["$or"]
    assert alarms["source"] == ["aws.cloudwatch"] and alarms["detail"]["state"] == {"value": ["ALARM"]}
    assert "errorCode" not in pattern["detail"], "failed calls (a member's attempt) are forwarded too"
    pattern["detail"] = {"$or": [pattern["detail"]]}
    expected = {
        t
        for technique in all_techniques()
        if technique.kind.name == "trail"
        for t in call_triggers(technique)
    }
    assert ("cloudtrail.amazonaws.com", "StopLogging") in expected
    assert _pairs(pattern) == expected
    assert pattern["source"] == ["aws.cloudtrail"]
    assert "errorCode" not in pattern["detail"], "failed calls (a member's attempt) are forwarded too"


def test_findings_pattern_is_every_finding_type_from_its_service() -> None:
    branches = _plain(findings_pattern())["$or"]
    by_source = {b["source"][0]: b for b in branches}
    types = {kind: t for technique in all_techniques() for kind, t in finding_types(technique).items()}
    assert by_source["aws.guardduty"]["detail"] == {"type": sorted(types["guardduty"])}
    assert by_source["aws.securityhub"]["detail"] == {"findings": {"Types": sorted(types["securityhub"])}}
    assert by_source["aws.guardduty"]["detail-type"] == ["GuardDuty Finding"]
    assert by_source["aws.securityhub"]["detail-type"] == ["Security Hub Findings - Imported"]


def test_patterns_are_sorted_and_deterministic() -> None:
    first = _plain(api_call_pattern())
    assert first == _plain(api_call_pattern())
    sources = [b["eventSource"][0] for b in first["detail"]["$or"]]
    assert sources == sorted(sources)
    for branch in first["detail"]["$or"]:
        exact = [n for n in branch["eventName"] if isinstance(n, str)]
        assert exact == sorted(exact)


def test_a_new_technique_reaches_the_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = dataclasses.replace(
        TECHNIQUES["key.disable"], id="key.policy-change", event_names=frozenset({"PutKeyPolicy"})
    )
    topic = TECHNIQUES["guard.topic"]
    grown = dataclasses.replace(topic, event_names=topic.event_names | {"DeleteTopicX"})
    others = tuple(t for t in all_techniques() if t is not topic)
    monkeypatch.setattr(patterns, "all_techniques", lambda: (*others, grown, extra))
    assert ("kms.amazonaws.com", "PutKeyPolicy") in _pairs(_plain(api_call_pattern()))
    assert ("kms.amazonaws.com", "PutKeyPolicy") not in _pairs(_plain(guard_calls_pattern()))
    assert ("sns.amazonaws.com", "DeleteTopicX") in _pairs(_plain(guard_calls_pattern()))


def test_no_calls_means_no_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patterns, "all_techniques", lambda: ())
    with pytest.raises(ValueError, match="match nothing"):
        api_call_pattern()
    with pytest.raises(ValueError, match="match nothing"):
        findings_pattern()
