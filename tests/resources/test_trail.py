"""Trails: references, the home-region rule and the one resolver every caller uses."""

from __future__ import annotations

from typing import Any

from trailguard.resources import trail

EAST = {"Name": "org", "TrailARN": "arn:aws:cloudtrail:us-east-1:1:trail/org", "HomeRegion": "us-east-1"}
WEST = {"Name": "org", "TrailARN": "arn:aws:cloudtrail:us-west-2:1:trail/org", "HomeRegion": "us-west-2"}


def test_parse_ref() -> None:
    assert trail.parse_ref("org") == ("org", None)
    assert trail.parse_ref("arn:aws:cloudtrail:eu-west-1:1:trail/org") == ("org", "eu-west-1")


def test_home_region_rule() -> None:
    assert trail.home_region(EAST) == "us-east-1"
    assert trail.home_region({"TrailARN": "arn:aws:cloudtrail:eu-west-1:1:trail/x"}) == "eu-west-1"
    assert trail.home_region({"Name": "x"}, "ap-south-1") == "ap-south-1"
    assert trail.home_region({"Name": "x"}) is None


def test_resolve_exact_arn_then_name_in_the_arns_region() -> None:
    trails: list[dict[str, Any]] = [EAST, WEST]
    assert trail.resolve(trails, WEST["TrailARN"]) is WEST
    assert trail.resolve(trails, "arn:aws:cloudtrail:us-west-2:999:trail/org") is WEST  # other account id
    assert trail.resolve(trails, "arn:aws:cloudtrail:eu-west-1:1:trail/org") is None
    assert trail.resolve(trails, "arn:aws:cloudtrail:eu-west-1:1:trail/org", by_region=False) is EAST


def test_resolve_breaks_a_name_tie_by_region_or_refuses_to_guess() -> None:
    trails = [EAST, WEST]
    assert trail.resolve(trails, "org") is EAST
    assert trail.resolve(trails, "org", prefer_regions=("us-west-2",)) is WEST
    assert trail.resolve(trails, "org", prefer_regions=(None, "eu-west-1")) is EAST
    assert trail.resolve(trails, "org", unique=True) is None
    assert trail.resolve([WEST], "org", unique=True) is WEST
    assert trail.resolve(trails, "") is None


def test_protected_filter() -> None:
    assert trail.is_protected(EAST, ())
    assert trail.is_protected(EAST, ("org",))
    assert not trail.is_protected(EAST, ("arn:aws:cloudtrail:us-west-2:1:trail/org",))


def test_kind_facts() -> None:
    kind = trail.KIND
    assert kind.label("arn:aws:cloudtrail:us-east-1:1:trail/org") == "trail org"
    assert kind.is_gone("TrailNotFoundException") and not kind.is_gone("AccessDenied")
    assert kind.stored_id("org", {"TrailARN": EAST["TrailARN"]}) == EAST["TrailARN"]
    assert kind.securityhub_type == "AwsCloudTrailTrail"
    assert trail.PROPERTIES["LogFileValidationEnabled"] == "EnableLogFileValidation"


def test_reachable_is_the_stacks_account_or_the_calls_never_a_third() -> None:
    arn = "arn:aws:cloudtrail:us-east-1:111111111111:trail/t"
    assert trail.reachable(arn, "111111111111", None)
    assert trail.reachable(arn, "222222222222", "111111111111")  # recorded in the trail's own account
    assert not trail.reachable(arn, "222222222222", "333333333333")
    assert not trail.reachable(arn, "222222222222", None)
    assert trail.reachable("t", "222222222222", None)  # a name is in whatever account the call was made
