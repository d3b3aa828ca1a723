"""A PutEventSelectors on the organization trail that the management account's stack (OrgTrailRole
owner) undid from its baseline and told about: the central function judges the call by the live result,
as it judges an UpdateTrail, and stays quiet; selectors it reads still short of every management event
are news whoever made the call.

In-process moto, as tests/org/test_central_voice.py (the grace replaced by the owner's repair and
message on another thread). The owner's message reports its PutEventSelectors call with the selectors
abbreviated (the outcome keeps ``[1 items]``), so the central function reads the live selectors itself
(GetEventSelectors by ARN).
"""

from __future__ import annotations

from typing import Any

import pytest

from aws_support import ACCOUNT
from trailguard.org import central_run

from .test_central import Org, call, member_message, no_grace, org, sns_event  # noqa: F401
from .test_central_voice import during_grace, event_id, ledgered  # noqa: F401

ALL = [{"ReadWriteType": "All", "IncludeManagementEvents": True}]
WRITES_ONLY = [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]


def attack(world: Org) -> dict[str, Any]:
    """The attacker's call (forwarded), its change made on the live trail."""
    world.cloudtrail().put_event_selectors(TrailName=world.trail_arn, EventSelectors=WRITES_ONLY)
    return call(
        "PutEventSelectors",
        world.trail_arn,
        account=ACCOUNT,
        eventSelectors=[{"readWriteType": "WriteOnly", "includeManagementEvents": True}],
    )


def owner_selectors_repair(world: Org, event: dict[str, Any]) -> dict[str, Any]:
    """The management account's stack's REPAIRED message about ``event``: its verified
    PutEventSelectors with the baseline's selectors, as its outcome records the call."""
    doc = member_message("remediated", world.trail_arn, event_id=event_id(event), account=ACCOUNT)
    doc["incident"]["technique"] = "trail.selectors-degrade"
    doc["incident"]["remediation"] = {
        "action": "trail.restore_event_selectors",
        "status": "remediated",
        "summary": "restored the event selectors of trail org-trail",
        "calls": [
            {
                "service": "cloudtrail",
                "operation": "PutEventSelectors",
                "region": "us-east-1",
                "params": {"TrailName": world.trail_arn, "EventSelectors": "[1 items]"},
                "result": None,
                "error": None,
            }
        ],
    }
    return doc


def test_the_owners_selectors_repair_it_told_about_is_not_reported_action_required(
    ledgered: Org,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = ledgered
    event = attack(world)

    def owner_repairs_and_tells() -> None:
        world.cloudtrail().put_event_selectors(TrailName=world.trail_arn, EventSelectors=ALL)
        world.invoke(sns_event(owner_selectors_repair(world, event)))

    errors = during_grace(monkeypatch, owner_repairs_and_tells)
    result = world.invoke(event)

    assert errors == []
    (line,) = result["incidents"]
    assert line["status"] == "already-restored" and not line.get("action_required"), line
    assert line["notification"]["action"] == "suppress", line
    assert "every management event" in line["notification"]["reason"], line
    assert world.messages() == []


def test_selectors_still_short_after_the_owners_report_need_a_person(
    ledgered: Org,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The owner told about an earlier call; this one left the live selectors logging writes only."""
    world = ledgered
    earlier = attack(world)
    world.cloudtrail().put_event_selectors(TrailName=world.trail_arn, EventSelectors=ALL)
    world.invoke(sns_event(owner_selectors_repair(world, earlier)))
    monkeypatch.setattr(central_run, "pause", lambda seconds: None)

    result = world.invoke(attack(world))

    (line,) = result["incidents"]
    assert line["action_required"] is True, line
    (message,) = world.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")
