"""The one interface (``trailguard.events.record``): how views are built, that they are frozen, that
every view answers every property without raising (neutrally where the shape lacks it), and that the
interface keeps no property nothing reads."""

from __future__ import annotations

import copy
import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from corpus import load, manifest
from trailguard.events import (
    CloudTrailRecord,
    GuardDutyFinding,
    Record,
    SecurityHubFinding,
    records_from_object,
)
from trailguard.local.findings import findings_for

from .support import properties

VIEWS: dict[str, type[Record]] = {
    "cloudtrail": CloudTrailRecord,
    "guardduty": GuardDutyFinding,
    "securityhub": SecurityHubFinding,
}
ROOT = Path(__file__).resolve().parents[2]

# What the base answers for a property a shape does not have.
NEUTRAL: dict[str, Any] = {
    "answered_by_trailguard": False,
    "failed": False,
    "finding_active": False,
    "finding_types": (),
    "is_trail_disabled_finding": False,
    "request_parameters": {},
    "user_identity": {},
}

# Odd but real-looking values where objects, strings and lists are expected: none may raise.
ODD_VALUES: list[Any] = [None, "", "x", 0, 1.5, True, [], ["a", {"b": 1}], {}, {"x": None}]
ODD_KEYS = [
    "eventName",
    "eventSource",
    "eventID",
    "awsRegion",
    "recipientAccountId",
    "eventTime",
    "errorCode",
    "requestParameters",
    "userIdentity",
    "sourceIPAddress",
    "Service",
    "service",
    "Resource",
    "resource",
    "Type",
    "type",
    "Title",
    "Description",
    "ProductFields",
    "Types",
    "RecordState",
    "Workflow",
]


@pytest.mark.parametrize("kind", sorted(VIEWS))
def test_record_of_a_kind_is_that_kinds_view(kind):
    for record in (
        Record({}, kind),
        Record(raw={}, kind=kind, envelope={"id": "e"}),
        Record.of({}, kind),
        VIEWS[kind]({}),
    ):
        assert type(record) is VIEWS[kind]
        assert isinstance(record, Record)
        assert record.kind == kind


def test_record_without_a_known_kind_is_refused():
    with pytest.raises(ValueError, match="no record view"):
        Record({}, "cloudwatch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no record view"):
        Record.of({}, "cloudwatch")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a kind"):
        Record({})  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="is kind 'guardduty', not 'cloudtrail'"):
        GuardDutyFinding({}, "cloudtrail")  # type: ignore[arg-type]


def test_views_are_frozen_thin_and_compare_by_raw_and_kind():
    raw = {"eventName": "StopLogging", "requestParameters": {"name": "t"}}
    record = Record(raw, "cloudtrail", {"id": "one"})
    assert record.raw is raw  # a view, not a copy
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.raw = {}  # type: ignore[misc]
    assert record == CloudTrailRecord(raw, envelope={"id": "another"})  # the envelope is not compared
    assert record != GuardDutyFinding(raw)
    assert copy.deepcopy(record) == record
    assert dataclasses.replace(record, raw={"eventName": "x"}).event_name == "x"


@pytest.mark.parametrize("kind", sorted(VIEWS))
def test_an_empty_record_answers_every_property_neutrally(kind):
    record = Record({}, kind)
    for name in properties():
        expected = NEUTRAL.get(name)
        if kind != "cloudtrail" and name == "finding_active":
            expected = True  # a finding that says nothing of its state is active
        assert getattr(record, name) == expected, name


@pytest.mark.parametrize("kind", sorted(VIEWS))
@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_odd_field_types_never_raise(kind, value):
    raw = dict.fromkeys(ODD_KEYS, value)
    envelope = {"id": value, "region": value, "account": value, "time": value}
    record = Record(raw, kind, envelope)
    for name in properties():
        answer = getattr(record, name)
        if name in NEUTRAL:
            assert isinstance(answer, type(NEUTRAL[name])), name
        elif name == "mfa_authenticated":
            assert answer is None or isinstance(answer, bool)
        else:
            assert answer is None or (isinstance(answer, str) and answer), name


@pytest.mark.parametrize("kind", sorted(VIEWS))
def test_nested_odd_types_never_raise(kind):
    raw = {
        "userIdentity": {"sessionContext": "x", "arn": ["a"]},
        "service": {"action": ["x"], "archived": None},
        "Service": {"Action": {"AwsApiCallAction": "x"}},
        "resource": {"accessKeyDetails": 3},
        "ProductFields": {"x/affectedResources/AWS::CloudTrail::Trail": None, "archived": {}},
        "Workflow": "RESOLVED",
        "Types": "not a list",
    }
    record = Record(raw, kind)
    for name in properties():
        getattr(record, name)


def test_every_property_is_read_somewhere():
    """The interface carries no property that nothing reads (outside this test folder)."""
    skip = (ROOT / "src" / "trailguard" / "events", Path(__file__).parent)
    texts = [
        path.read_text(encoding="utf-8")
        for top in ("src", "tests", "bench")
        for path in (ROOT / top).rglob("*.py")
        if not any(path.is_relative_to(folder) for folder in skip)
    ]
    unused = [name for name in properties() if not any(re.search(rf"\.{name}\b", t) for t in texts)]
    assert not unused, f"properties nothing reads: {unused}"


def _trail_disabling_calls() -> list[str]:
    """Tamper records the local cloud turns into findings (it needs the record's account and region)."""
    found = []
    for row in manifest("cloudtrail-record"):
        if not row["file"].startswith("tamper/") or row["eventName"] not in ("StopLogging", "DeleteTrail"):
            continue
        record = load(row["file"])
        if record.get("recipientAccountId") and record.get("awsRegion"):
            found.append(row["file"])
    assert found, "no trail-disabling tamper record in the manifest"
    return found


@pytest.mark.parametrize("relpath", _trail_disabling_calls())
def test_guardduty_and_security_hub_views_of_one_finding_agree(relpath):
    """The local cloud reports a trail-disabling call as GuardDuty does, directly and through Security
    Hub: both views of that one finding give the same answers where both shapes say it."""
    obj = load(relpath)
    guardduty_env, hub_env = findings_for(obj.get("detail", obj), when=datetime(2024, 1, 1, tzinfo=UTC))
    (guardduty,) = records_from_object(guardduty_env)
    (hub,) = records_from_object(hub_env)
    assert (guardduty.kind, hub.kind) == ("guardduty", "securityhub")
    for name in ("event_name", "event_source", "region", "account_id", "event_time", "source_ip"):
        assert getattr(guardduty, name) == getattr(hub, name), name
    assert guardduty.finding_trail == hub.finding_trail and guardduty.finding_trail
    assert guardduty.is_trail_disabled_finding and hub.is_trail_disabled_finding
    assert guardduty.finding_active and hub.finding_active
