"""CloudTrail ``LookupEvents`` on the local cloud, answered from its recorder (moto has none:
``trailguard.local.lookup``). A real IAM user's call through the local cloud is found by its event id
with its name, principal and resource, and ``trailguard.history.confirm`` confirms it; a record that
claims another principal is a mismatch, and an event id CloudTrail never logged is pending."""

from __future__ import annotations

from typing import Any

import pytest
from localcloud_support import creds

from trailguard import aws, history
from trailguard.local import lookup
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration


def _stop_logging(cloud: LocalCloud, trail: str, user_keys: dict[str, str]) -> dict[str, Any]:
    cloud.client("cloudtrail", creds(user_keys)).stop_logging(Name=trail)
    cloud.wait_idle(5)
    return [r for r in cloud.recorder.find("StopLogging") if r["requestParameters"] == {"name": trail}][-1]


def test_an_event_is_found_by_id_and_confirmed(
    cloud: LocalCloud, trail: str, user_keys: dict[str, str]
) -> None:
    record = _stop_logging(cloud, trail, user_keys)
    ct = cloud.client("cloudtrail")
    answer = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": record["eventID"]}]
    )
    (event,) = answer["Events"]
    assert event["EventName"] == "StopLogging" and event["Username"] == user_keys["name"]
    assert {"ResourceType": "AWS::CloudTrail::Trail", "ResourceName": trail} in event["Resources"]
    with cloud.as_admin():
        found = history.confirm(
            record["eventID"],
            cloud.region,
            event_name="StopLogging",
            event_source="cloudtrail.amazonaws.com",
            principal_arn=user_keys["arn"],
            request_parameters={"name": trail},
        )
        assert found.status == "confirmed", found.reason
        forged = history.confirm(
            record["eventID"],
            cloud.region,
            event_name="StopLogging",
            event_source="cloudtrail.amazonaws.com",
            principal_arn="arn:aws:iam::123456789012:role/break-glass",
            request_parameters={"name": trail},
        )
        assert forged.status == "mismatch" and "principal" in forged.reason
        missing = history.confirm(
            "00000000-0000-0000-0000-000000000000",
            cloud.region,
            event_name="StopLogging",
            event_source="cloudtrail.amazonaws.com",
            principal_arn=user_keys["arn"],
            request_parameters={"name": trail},
        )
        assert missing.status == "pending"
        assert [e.event_name for e in history.who_changed(trail, cloud.region)][:1] == ["StopLogging"]
    aws.clear_cache()


def test_lookup_by_resource_name_pages_newest_first(
    cloud: LocalCloud, trail: str, user_keys: dict[str, str]
) -> None:
    for _ in range(3):
        _stop_logging(cloud, trail, user_keys)
        cloud.client("cloudtrail").start_logging(Name=trail)
    ct = cloud.client("cloudtrail")
    attrs = [{"AttributeKey": "ResourceName", "AttributeValue": trail}]
    first = ct.lookup_events(LookupAttributes=attrs, MaxResults=2)
    assert len(first["Events"]) == 2 and first["NextToken"]
    rest = ct.lookup_events(LookupAttributes=attrs, MaxResults=2, NextToken=first["NextToken"])
    times = [e["EventTime"] for e in first["Events"] + rest["Events"]]
    assert times == sorted(times, reverse=True)


def test_answer_rejects_what_aws_rejects() -> None:
    with pytest.raises(Exception, match="at most one"):
        lookup.answer([], {"LookupAttributes": [{}, {}]})
    with pytest.raises(Exception, match="AttributeKey"):
        lookup.answer([], {"LookupAttributes": [{"AttributeKey": "Nope", "AttributeValue": "x"}]})
    with pytest.raises(Exception, match="MaxResults"):
        lookup.answer([], {"MaxResults": 51})
    assert lookup.answer([], {}) == {"Events": []}
