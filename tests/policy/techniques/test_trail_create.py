"""``trail.create`` (``policy/techniques/trail.py``): a CreateTrail is never tampering, whoever calls it
(its confirmed record is how the new trail gets its baseline: ``tests/baseline/test_discover.py``); and a
trail the inventory says has no recorded baseline yet (``unrecorded_trails``) has a change to where it
delivers judged tamper, never benign against its live entry."""

from __future__ import annotations

from typing import Any

import pytest

from corpus import load
from trailguard.events import Record
from trailguard.policy import TECHNIQUES, Inventory, classify, technique_for_call

ARN = "arn:aws:cloudtrail:us-west-2:0123456789012:trail/TEST-trail"


def _record(raw: dict[str, Any]) -> Record:
    return Record.of(raw, "cloudtrail", None)


def _inventory(**extra: Any) -> Inventory:
    trail = {
        "Name": "TEST-trail",
        "TrailARN": ARN,
        "S3BucketName": "attacker-bucket",
        "HomeRegion": "us-west-2",
    }
    return Inventory.from_dict({"account": "0123456789012", "trails": [trail], **extra})


@pytest.mark.parametrize(
    "name",
    [
        "benign/cloudtrail_createtrail_console_elastic.json",
        "benign/cloudtrail_createtrail_error_panther.json",
    ],
    ids=["console", "failed"],
)
def test_a_create_trail_is_benign_and_claimed_by_the_create_technique(name: str) -> None:
    record = _record(load(name))
    assert technique_for_call(record.event_source, record.event_name) is TECHNIQUES["trail.create"]
    for inventory in (Inventory(), _inventory()):
        verdict = classify(record, inventory)
        assert verdict.verdict == "benign" and verdict.technique is None, verdict.reason


def _update(params: dict[str, Any]) -> Record:
    raw = load("benign/cloudtrail_createtrail_console_elastic.json")
    raw.update(eventName="UpdateTrail", requestParameters={"name": "TEST-trail", **params})
    raw.pop("responseElements", None)
    return _record(raw)


@pytest.mark.parametrize(
    "params",
    [
        {"s3BucketName": "attacker-bucket"},
        {"kmsKeyId": ""},
        {"cloudWatchLogsLogGroupArn": "", "cloudWatchLogsRoleArn": ""},
        {"s3KeyPrefix": "elsewhere"},
    ],
    ids=["redirect", "key-removed", "logs-removed", "prefix-added"],
)
def test_a_change_to_where_an_unrecorded_trail_delivers_is_tamper(params: dict[str, Any]) -> None:
    verdict = classify(_update(params), _inventory(unrecorded_trails=[ARN]))
    assert verdict.verdict == "tamper", verdict.reason
    assert verdict.technique is TECHNIQUES["trail.update-degrade"]
    assert "no recorded baseline yet" in verdict.reason


def test_the_same_redirect_against_a_recorded_entry_that_shows_it_is_benign() -> None:
    """The contrast the field exists for: an entry that is a baseline showing the same bucket."""
    assert classify(_update({"s3BucketName": "attacker-bucket"}), _inventory()).verdict == "benign"
