"""The runner invokes a function only when Lambda would: it exists, is not throttled to zero, and its
resource policy lets EventBridge invoke it from that rule."""

from __future__ import annotations

import pytest
from localcloud_support import invocations_of, wire

from trailguard.local.runner import permission_allows
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration

RULE = "arn:aws:events:us-east-1:123456789012:rule/guard"


def pattern(trail: str) -> dict[str, object]:
    return {"detail": {"eventName": ["StopLogging"], "requestParameters": {"name": [trail]}}}


def test_deleted_function_is_not_invoked(cloud: LocalCloud, trail: str) -> None:
    w = wire(cloud, pattern(trail))
    cloud.client("lambda").delete_function(FunctionName=w.function_name)
    cloud.client("cloudtrail").stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    [inv] = invocations_of(cloud, w.function_name)
    assert not inv.invoked and "ResourceNotFoundException" in (inv.reason or "")


def test_zero_reserved_concurrency_is_not_invoked(cloud: LocalCloud, trail: str) -> None:
    w = wire(cloud, pattern(trail))
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName=w.function_name, ReservedConcurrentExecutions=0)
    cloud.client("cloudtrail").stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    [inv] = invocations_of(cloud, w.function_name)
    assert not inv.invoked and "reserved concurrency is 0" in (inv.reason or "")
    lam.delete_function_concurrency(FunctionName=w.function_name)
    cloud.client("cloudtrail").stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    assert [i.invoked for i in invocations_of(cloud, w.function_name)] == [False, True]


def test_missing_permission_is_not_invoked(cloud: LocalCloud, trail: str) -> None:
    w = wire(cloud, pattern(trail), permission=False)
    cloud.client("cloudtrail").stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    [inv] = invocations_of(cloud, w.function_name)
    assert not inv.invoked and "AccessDeniedException" in (inv.reason or "")


def test_permission_for_another_rule_is_not_enough(cloud: LocalCloud, trail: str) -> None:
    w = wire(cloud, pattern(trail), source_arn="arn:aws:events:us-east-1:123456789012:rule/other")
    cloud.client("cloudtrail").stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    [inv] = invocations_of(cloud, w.function_name)
    assert not inv.invoked


def test_removed_permission_stops_invocations(cloud: LocalCloud, trail: str) -> None:
    w = wire(cloud, pattern(trail))
    cloud.client("lambda").remove_permission(FunctionName=w.function_name, StatementId="events")
    cloud.client("cloudtrail").stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    assert [i.invoked for i in invocations_of(cloud, w.function_name)] == [False]


def statement(**extra: object) -> dict[str, object]:
    return {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        **extra,
    }


def test_permission_conditions() -> None:
    account = "123456789012"
    assert permission_allows([statement()], RULE, account)
    assert permission_allows([statement(Condition={"ArnLike": {"AWS:SourceArn": RULE}})], RULE, account)
    wildcard = {"ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/*"}}
    assert permission_allows([statement(Condition=wildcard)], RULE, account)
    other = {"ArnLike": {"AWS:SourceArn": RULE + "-x"}}
    assert not permission_allows([statement(Condition=other)], RULE, account)
    both = {"ArnLike": {"AWS:SourceArn": RULE}, "StringEquals": {"AWS:SourceAccount": "999999999999"}}
    assert not permission_allows([statement(Condition=both)], RULE, account)
    assert not permission_allows([statement(Principal={"Service": "sns.amazonaws.com"})], RULE, account)
    assert not permission_allows([statement(Action="lambda:GetFunction")], RULE, account)
    assert not permission_allows([statement(), statement(Effect="Deny")], RULE, account)
    assert not permission_allows([], RULE, account)
