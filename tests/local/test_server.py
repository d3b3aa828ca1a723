"""The local cloud's schedules (``LocalCloud.fire_schedule``, ``local/server.py``): schedule rules fire
on demand (moto never fires them) through the same router and runner as every other event: the target
gets a ``Scheduled Event``, a disabled rule fires nothing, and a function without the rule's invoke
permission is refused."""

from __future__ import annotations

import time

import pytest
from localcloud_support import invocations_of, unique, wire

from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration


def _schedule(cloud: LocalCloud, *, permission: bool = True) -> tuple[str, str]:
    """A function targeted by a new schedule rule (wired with a placeholder pattern rule first)."""
    w = wire(cloud, {"source": [unique("unused")]}, permission=False)
    events, name = cloud.client("events"), unique("every")
    arn = events.put_rule(Name=name, ScheduleExpression="rate(5 minutes)", State="ENABLED")["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": w.function_arn}])
    if permission:
        cloud.client("lambda").add_permission(
            FunctionName=w.function_name,
            StatementId="schedule",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=arn,
        )
    assert cloud.wait_idle(5)
    return name, w.function_name


def test_fired_schedule_delivers_a_scheduled_event(cloud: LocalCloud) -> None:
    rule, function = _schedule(cloud)
    assert rule in cloud.schedule_rules()
    (delivery,) = cloud.fire_schedule(rule)
    assert delivery.detail_type == "Scheduled Event"
    assert cloud.wait_idle(10)
    (inv,) = invocations_of(cloud, function)
    assert inv.invoked and inv.rule_name == rule and inv.detail_type == "Scheduled Event"
    assert inv.result["event_id"] == delivery.event_id


def test_disabled_schedule_fires_nothing_and_unpermitted_function_is_refused(cloud: LocalCloud) -> None:
    rule, function = _schedule(cloud)
    cloud.client("events").disable_rule(Name=rule)
    assert cloud.fire_schedule(rule) == []
    other, refused = _schedule(cloud, permission=False)
    assert cloud.fire_schedule(other)
    assert cloud.wait_idle(10)
    assert invocations_of(cloud, function) == []
    (inv,) = invocations_of(cloud, refused)
    assert not inv.invoked and "AccessDeniedException" in (inv.reason or "")


def test_only_the_named_schedule_rules_fire_when_some_are_named(cloud: LocalCloud) -> None:
    """``schedule_rules`` (the emulator's ``--schedule-rules``): the others do not fire."""
    chosen, function = _schedule(cloud)
    _, other = _schedule(cloud)
    cloud.schedule_names = frozenset({chosen})
    try:
        fired = cloud.fire_schedules()
    finally:
        cloud.schedule_names = None
    assert [d.rule_name for d in fired] == [chosen]
    assert cloud.wait_idle(10)
    assert len(invocations_of(cloud, function)) == 1 and invocations_of(cloud, other) == []


def test_pattern_rules_are_not_schedules(cloud: LocalCloud) -> None:
    w = wire(cloud, {"source": ["x"]})
    assert w.rule_name not in cloud.schedule_rules()
    with pytest.raises(ValueError, match="no schedule rule"):
        cloud.fire_schedule(w.rule_name)


def test_periodic_firing(cloud: LocalCloud) -> None:
    _, function = _schedule(cloud)
    cloud.run_schedules(0.2)
    deadline = time.monotonic() + 5
    while len(invocations_of(cloud, function)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(invocations_of(cloud, function)) >= 2
