"""Member stacks deployed with the member template's organization parameters (``NamePrefix``,
``OrgTrailRole=member``) into the local cloud's organization: when the management account's
organization trail is stopped, each member's backstop verifies it by ARN and reports the repair routed
to its owner, and never calls StartLogging on it.

The member's view of the organization trail (the shadow trail, reads by ARN, AccessDenied on a change)
is the local cloud's, not moto's (docs/local-cloud.md, "Organization mode"). Its recorder keeps the
calls that change something, so "never StartLogging" is read there; the reads by ARN are checked by
tests/org/test_member_org_trail.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from trailguard.local import orgworld
from trailguard.local.org import MEMBER
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration
PREFIX = "tg-member"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, orgworld.OrgWorld]]:
    base = tmp_path_factory.mktemp("memberworld")
    cloud = LocalCloud(outbox_dir=base / "outbox", finding_delay=None).start()
    try:
        built = orgworld.build(
            cloud,
            progress=lambda _line: None,
            stacks=(MEMBER,),
            parameters=lambda _account: {"OrgTrailRole": "member", "NamePrefix": PREFIX},
        )
        yield cloud, built
    finally:
        cloud.stop()


def _fire_backstop(cloud: LocalCloud, account: str) -> list[Any]:
    return [d for name in cloud.schedule_rules(account) for d in cloud.fire_schedule(name, account)]


def test_member_stacks_are_named_after_the_prefix(org: tuple[LocalCloud, orgworld.OrgWorld]) -> None:
    _cloud, world = org
    for account in (a for a in world.accounts if a.role == MEMBER):
        assert account.outputs["ApiCallRuleName"] == f"{PREFIX}-api-calls"
        assert account.outputs["ApiCallFunctionName"] == f"{PREFIX}-api-call"


def test_a_members_backstop_verifies_the_stopped_organization_trail_and_routes_the_repair(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    cloud, world = org
    org_trail = world.base.trail
    owner = cloud.client("cloudtrail")
    owner.stop_logging(Name=org_trail.name)  # the management account has no stack here
    try:
        assert cloud.wait_idle(15)
        seen_rec, seen_mail = len(cloud.recorder.records), len(cloud.outbox.emails())
        members = sorted(a.id for a in world.accounts if a.role == MEMBER)
        fired = [d for account in members for d in _fire_backstop(cloud, account)]
        assert fired
        assert cloud.wait_idle(60)
        records = cloud.recorder.records[seen_rec:]
        writes = [
            r
            for r in records
            if r["eventName"] in {"StartLogging", "UpdateTrail", "CreateTrail", "PutEventSelectors"}
        ]
        assert writes == [], "a member never changes the organization trail"
        assert owner.get_trail_status(Name=org_trail.name)["IsLogging"] is False
        mails = cloud.outbox.emails()[seen_mail:]
        assert sorted(m["topic_arn"].split(":")[4] for m in mails) == members
        for mail in mails:
            assert "[ACTION REQUIRED]" in mail["subject"], mail["subject"]
            assert "repair routed to the organization trail's owner" in str(mail), mail
            assert org_trail.arn in str(mail)
    finally:
        owner.start_logging(Name=org_trail.name)
        cloud.wait_idle(15)
