"""Fixtures for the template, packaging and deploy tests: the parsed template, the real records wrapped
the way EventBridge delivers them, fake credentials for moto, and an EventBridge pattern matcher."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from aws_support import fake_credentials
from trailguard import aws

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template" / "trailguard.yaml"

Envelope = dict[str, Any]


@pytest.fixture(scope="session")
def template_path() -> Path:
    return TEMPLATE


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The template as CloudFormation reads it (intrinsic tags become Fn:: mappings)."""
    from cfnlint.decode import decode_str

    decoded, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches, [str(m) for m in matches]
    assert decoded is not None
    return dict(decoded)


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region, and no cached clients on either side of the test."""
    fake_credentials(monkeypatch, "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    aws.clear_cache()
    yield
    aws.clear_cache()


# ------------------------------------------------------------------------------------------ records


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def cloudtrail_envelope(record: Mapping[str, Any]) -> Envelope:
    """A bare CloudTrail record as EventBridge delivers it (``source`` is ``aws.<service>``)."""
    event_source = str(record.get("eventSource") or "")
    return {
        "version": "0",
        "id": "00000000-0000-4000-8000-000000000000",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + event_source.split(".", 1)[0],
        "account": str(record.get("recipientAccountId") or "123456789012"),
        "time": str(record.get("eventTime") or "2024-01-01T00:00:00Z"),
        "region": str(record.get("awsRegion") or "us-east-1"),
        "resources": [],
        "detail": dict(record),
    }


def _camel(value: Any) -> Any:
    """GuardDuty's API shape (PascalCase) as its events spell it (camelCase)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def guardduty_envelope(finding: Mapping[str, Any]) -> Envelope:
    """A bare GuardDuty finding (API or event shape) in a ``GuardDuty Finding`` envelope."""
    detail = dict(finding) if "type" in finding else _camel(dict(finding))
    return {
        "version": "0",
        "id": "00000000-0000-4000-8000-000000000001",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": str(detail.get("accountId") or "123456789012"),
        "time": str(detail.get("updatedAt") or "2024-01-01T00:00:00Z"),
        "region": str(detail.get("region") or "us-east-1"),
        "resources": [],
        "detail": detail,
    }


def envelopes_in(directory: Path) -> list[tuple[str, Envelope]]:
    """Every file of a tests/data/events directory, as the envelope EventBridge would deliver."""
    found: list[tuple[str, Envelope]] = []
    for path in sorted(directory.glob("*.json")):
        obj = load_json(path)
        if "detail-type" in obj:
            found.append((path.name, obj))
        elif "eventName" in obj:
            found.append((path.name, cloudtrail_envelope(obj)))
        elif "type" in obj or "Type" in obj:
            found.append((path.name, guardduty_envelope(obj)))
        else:
            raise AssertionError(f"{path}: unknown record shape")
    return found


@pytest.fixture(scope="session")
def real_envelopes(events_dir: Path) -> Callable[[str], list[tuple[str, Envelope]]]:
    """``real_envelopes("tamper")``: (file name, envelope) for each record of that directory."""

    def get(kind: str) -> list[tuple[str, Envelope]]:
        directory = events_dir / kind
        assert directory.is_dir(), f"{directory} missing: tests/data/events must hold the real records"
        return envelopes_in(directory)

    return get


# ------------------------------------------------------------------------------ pattern matching

_MISSING: list[Any] = []


def _values(node: Any, path: list[str]) -> list[Any]:
    """Every leaf value at ``path``, descending through arrays as EventBridge does."""
    if isinstance(node, list):
        return [v for item in node for v in _values(item, path)]
    if not path:
        return [node]
    if not isinstance(node, dict) or path[0] not in node:
        return _MISSING
    return _values(node[path[0]], path[1:])


def _filter_matches(flt: Any, values: list[Any]) -> bool:
    if not isinstance(flt, dict):
        return any(v == flt and type(v) is type(flt) for v in values)
    (name, arg), *_ = flt.items()
    if name == "exists":
        return bool(values) == bool(arg)
    if name == "prefix":
        return any(isinstance(v, str) and v.startswith(arg) for v in values)
    if name == "suffix":
        return any(isinstance(v, str) and v.endswith(arg) for v in values)
    if name == "anything-but":
        banned = arg if isinstance(arg, list) else [arg]
        return bool(values) and all(v not in banned for v in values)
    if name == "wildcard":
        rx = re.compile("^" + ".*".join(re.escape(p) for p in str(arg).split("*")) + "$")
        return any(isinstance(v, str) and rx.match(v) for v in values)
    raise AssertionError(f"filter {name} not supported by this test matcher")


def eventbridge_matches(pattern: Mapping[str, Any], event: Any, path: tuple[str, ...] = ()) -> bool:
    """EventBridge content filtering, including arrays of objects (``detail.findings[].Types``).

    moto's ``EventPattern`` flattens only nested objects, not arrays of objects, so it cannot match
    a Security Hub envelope; this small matcher follows EventBridge's documented semantics and is
    cross-checked against moto wherever moto can judge.
    """
    for key, sub in pattern.items():
        if key == "$or":
            if not any(eventbridge_matches(branch, event, path) for branch in sub):
                return False
        elif isinstance(sub, dict):
            if not eventbridge_matches(sub, event, (*path, key)):
                return False
        else:
            values = _values(event, [*path, key])
            if not any(_filter_matches(flt, values) for flt in sub):
                return False
    return True


@pytest.fixture(scope="session")
def rule_pattern(template: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    def get(logical_id: str) -> dict[str, Any]:
        # Through JSON: plain dicts and strs, as EventBridge receives the pattern.
        pattern: dict[str, Any] = json.loads(
            json.dumps(template["Resources"][logical_id]["Properties"]["EventPattern"])
        )
        return pattern

    return get


@pytest.fixture(scope="session")
def matches(rule_pattern: Callable[[str], dict[str, Any]]) -> Callable[..., bool]:
    """``matches("ApiCallRule", envelope)``: moto's matcher, and ours where moto cannot judge.

    The local cloud's router (moto's matcher over an envelope whose arrays of objects it flattens) must
    agree on every envelope too, so the end-to-end tests route events the way these tests judge them.
    """
    from moto.events.models import EventPattern

    from trailguard.local.router import flatten_arrays

    def match(logical_id: str, envelope: Envelope, *, moto_can_judge: bool = True) -> bool:
        pattern = rule_pattern(logical_id)
        ours = eventbridge_matches(pattern, envelope)
        loaded = EventPattern.load(json.dumps(pattern))
        if moto_can_judge:
            theirs = loaded.matches_event(envelope)
            assert theirs == ours, f"moto says {theirs}, the EventBridge semantics say {ours}"
        routed = loaded.matches_event(flatten_arrays(dict(envelope)))
        assert routed == ours, f"the local cloud's router says {routed}, the EventBridge semantics say {ours}"
        return ours

    return match
