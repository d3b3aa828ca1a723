"""The router delivers what EventBridge would: matching, enabled rules only, to the rule's targets."""

from __future__ import annotations

import json
from typing import Any

import localcloud_sample_handler as sample
import pytest
from localcloud_support import creds, invocations_of, unique, wire

from trailguard.local.router import flatten_arrays
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration


def stop_pattern(trail: str) -> dict[str, Any]:
    return {
        "source": ["aws.cloudtrail"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventName": ["StopLogging"], "requestParameters": {"name": [trail]}},
    }


def test_matching_rule_runs_the_handler_as_the_function_role(
    cloud: LocalCloud, trail: str, user_keys: dict[str, str]
) -> None:
    queue = unique("made-by-handler")
    w = wire(cloud, stop_pattern(trail), environment={"SAMPLE_TAG_QUEUE": queue, "TEAM": "sec"})
    cloud.client("cloudtrail", creds(user_keys)).stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    [inv] = invocations_of(cloud, w.function_name)
    assert inv.invoked and inv.error is None, inv
    assert inv.rule_name == w.rule_name
    envelope = next(e for e in cloud.recorder.envelopes if e["detail"]["eventName"] == "StopLogging")
    call = next(c for c in sample.CALLS if c["function"] == w.function_name)
    assert call["event"]["detail"]["requestParameters"] == {"name": trail}
    assert call["event"]["detail"]["userIdentity"]["arn"] == user_keys["arn"]
    env = call["env"]
    assert env["TEAM"] == "sec"
    assert env["AWS_ENDPOINT_URL"] == cloud.endpoint
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == w.function_name
    assert env["AWS_SESSION_TOKEN"]
    role_name = w.role_arn.rsplit("/", 1)[-1]
    assert call["caller"] == f"arn:aws:sts::123456789012:assumed-role/{role_name}/{w.function_name}"
    [made] = [r for r in cloud.recorder.find("CreateQueue") if r["requestParameters"]["queueName"] == queue]
    assert made["userIdentity"]["type"] == "AssumedRole"
    assert made["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == w.role_arn
    assert envelope["id"] in {c["event"]["id"] for c in sample.CALLS}


def test_pattern_is_honoured(cloud: LocalCloud, trail: str) -> None:
    w = wire(cloud, stop_pattern(trail))
    ct = cloud.client("cloudtrail")
    ct.start_logging(Name=trail)  # another event name
    assert cloud.wait_idle(10)
    assert invocations_of(cloud, w.function_name) == []
    ct.stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    assert [i.invoked for i in invocations_of(cloud, w.function_name)] == [True]


def test_disabled_rule_delivers_nothing(cloud: LocalCloud, trail: str) -> None:
    w = wire(cloud, stop_pattern(trail))
    events, ct = cloud.client("events"), cloud.client("cloudtrail")
    events.disable_rule(Name=w.rule_name)
    ct.stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    assert invocations_of(cloud, w.function_name) == []
    events.enable_rule(Name=w.rule_name)
    ct.stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    assert len(invocations_of(cloud, w.function_name)) == 1


def test_put_events_is_routed_and_honours_state(cloud: LocalCloud) -> None:
    source = unique("custom.test")
    w = wire(cloud, {"source": [source]})
    events = cloud.client("events")
    entry = {"Source": source, "DetailType": "test", "Detail": json.dumps({"n": 1})}
    events.put_events(Entries=[entry])
    assert cloud.wait_idle(10)
    [inv] = invocations_of(cloud, w.function_name)
    assert inv.invoked and inv.detail_type == "test"
    events.disable_rule(Name=w.rule_name)
    events.put_events(Entries=[entry])
    assert cloud.wait_idle(10)
    assert len(invocations_of(cloud, w.function_name)) == 1


def test_sqs_target_receives_the_event(cloud: LocalCloud, trail: str) -> None:
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("to-sqs")
    events.put_rule(Name=rule, EventPattern=json.dumps(stop_pattern(trail)))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    cloud.client("cloudtrail").stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"])["detail"]["eventName"] == "StopLogging"


def test_handler_error_is_recorded_and_the_cloud_keeps_serving(cloud: LocalCloud, trail: str) -> None:
    w = wire(cloud, stop_pattern(trail), environment={"SAMPLE_FAIL": "1"})
    cloud.client("cloudtrail").stop_logging(Name=trail)
    assert cloud.wait_idle(10)
    [inv] = invocations_of(cloud, w.function_name)
    assert inv.invoked and inv.error == "RuntimeError: sample handler told to fail"
    assert cloud.client("cloudtrail").get_trail_status(Name=trail)["IsLogging"] is False


def test_arrays_of_objects_match_as_on_eventbridge() -> None:
    from moto.events.models import EventPattern

    pattern = EventPattern.load(json.dumps({"detail": {"findings": {"Types": ["b"]}}}))
    event = {"detail": {"findings": [{"Types": ["a"]}, {"Types": ["b"], "Id": "x"}]}}
    assert not pattern.matches_event(event)  # moto alone: the gap this works around
    assert pattern.matches_event(flatten_arrays(event))
    assert flatten_arrays(event) == {"detail": {"findings": {"Types": ["a", "b"], "Id": "x"}}}
    assert not pattern.matches_event(flatten_arrays({"detail": {"findings": [{"Types": ["a"]}]}}))


class _Pattern:
    def get_pattern(self) -> dict[str, Any]:
        return {"source": ["aws.events"]}

    def matches_event(self, event: Any) -> bool:
        return True


class _Rule:
    def __init__(self, name: str, state: str) -> None:
        self.name, self.state, self.arn = name, state, f"arn:aws:events:us-east-1:123456789012:rule/{name}"
        self.event_pattern = _Pattern()
        self.targets: list[dict[str, str]] = []


def test_rules_are_matched_before_any_delivery_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A delivery that re-enables a rule (the guard path repairing a DisableRule) must not make that rule
    receive the event that disabled it: EventBridge matches against the rules as the event finds them.
    Plain stand-ins for moto's rule objects, so the order is exact, not a race."""
    from trailguard.local import router as router_module

    first, second = _Rule("guard-calls", "ENABLED"), _Rule("api-calls", "DISABLED")
    first.targets = [{"Id": "f", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:finding"}]
    second.targets = [{"Id": "a", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:api-call"}]
    monkeypatch.setattr(router_module, "rules_for", lambda account, region: [first, second])
    router = router_module.Router(runner=None)  # type: ignore[arg-type]
    monkeypatch.setattr(router, "_spawn", lambda fn, *args: None)

    def re_enable(delivery: Any) -> None:
        second.state = "ENABLED"  # what the finding function's repair does, synchronously here

    router.listeners.append(re_enable)
    try:
        delivered = router.route({"account": "123456789012", "region": "us-east-1", "id": "e1"})
    finally:
        router.close()
    assert [d.rule_name for d in delivered] == ["guard-calls"]


def test_a_delayed_event_meets_the_rules_as_they_are_when_it_arrives(monkeypatch: pytest.MonkeyPatch) -> None:
    """``event_delay`` (CloudTrail's delivery time): a rule disabled after the call and before its event
    arrives receives nothing; events arrive in the order of their calls. Plain stand-in rules, and the
    rule is disabled synchronously right after the call, long before the delay ends."""
    from trailguard.local import router as router_module

    rule = _Rule("api-calls", "ENABLED")
    rule.targets = [{"Id": "a", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:api-call"}]
    monkeypatch.setattr(router_module, "rules_for", lambda account, region: [rule])
    router = router_module.Router(runner=None, event_delay=1.0)  # type: ignore[arg-type]
    monkeypatch.setattr(router, "_spawn", lambda *args: None)
    arrived: list[tuple[str, list[str]]] = []
    real_route = router.route

    def route(event: Any, *args: Any, **kwargs: Any) -> Any:
        found = real_route(event, *args, **kwargs)
        arrived.append((event["id"], [d.rule_name for d in found]))
        return found

    monkeypatch.setattr(router, "route", route)
    try:
        for event_id in ("disable", "stop"):
            router.from_cloudtrail({"account": "123456789012", "region": "us-east-1", "id": event_id})
        assert arrived == []  # not yet: CloudTrail is still delivering
        rule.state = "DISABLED"  # the attacker's DisableRule took effect before the events arrive
        assert router.activity.wait_idle(30)
    finally:
        router.close()
    assert arrived == [("disable", []), ("stop", [])]
