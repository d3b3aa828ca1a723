"""CloudWatch Logs log groups: ids, names, regions, and the capture of a trail's group on moto."""

from __future__ import annotations

from typing import Any

import pytest

from trailguard.baseline.capture import Clients
from trailguard.resources import loggroup

ARN = "arn:aws:logs:us-east-1:1:log-group:/trail/org"


def test_name_of() -> None:
    assert loggroup.name_of(f"{ARN}:*") == "/trail/org"
    assert loggroup.name_of(ARN) == "/trail/org"
    assert loggroup.name_of("/trail/org") == "/trail/org"
    assert loggroup.KIND.label(f"{ARN}:*") == "log group /trail/org"


def test_ids_drop_the_stream_wildcard_a_trail_carries() -> None:
    assert loggroup.KIND.ident(f"{ARN}:*") == ARN == loggroup.arn_of(ARN)
    assert loggroup.arn_of("/trail/org") == "/trail/org"
    assert loggroup.region_of(ARN) == "us-east-1" and loggroup.region_of("/trail/org") is None
    assert loggroup.KIND.is_gone("ResourceNotFoundException")


def test_capture_of_the_configured_trails_group(world: Any) -> None:
    doc = world.baselines.get("loggroup", world.log_group_arn)  # the trail's ARN form resolves
    assert doc is not None
    assert doc["Name"] == "trail-logs" and doc["Arn"] == loggroup.arn_of(world.log_group_arn)
    assert doc["RetentionInDays"] is None  # never set: kept forever
    assert doc["_meta"]["source"] == "deploy"  # tests.worlds records as a deploy would


def test_capture_of_a_missing_group_is_gone(moto_env: None, aws_region: str) -> None:
    with pytest.raises(loggroup.LogGroupNotFoundError) as raised:
        loggroup.capture(
            f"arn:aws:logs:{aws_region}:123456789012:log-group:/nope", Clients(aws_region), "test"
        )
    assert loggroup.KIND.is_gone(raised.value.response["Error"]["Code"])
