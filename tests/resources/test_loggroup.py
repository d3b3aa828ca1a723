"""CloudWatch Logs log groups."""

from __future__ import annotations

from trailguard.resources import loggroup


def test_name_of() -> None:
    assert loggroup.name_of("arn:aws:logs:us-east-1:1:log-group:/trail/org:*") == "/trail/org"
    assert loggroup.name_of("arn:aws:logs:us-east-1:1:log-group:/trail/org") == "/trail/org"
    assert loggroup.name_of("/trail/org") == "/trail/org"
    assert loggroup.KIND.label("arn:aws:logs:us-east-1:1:log-group:/trail/org:*") == "log group /trail/org"
