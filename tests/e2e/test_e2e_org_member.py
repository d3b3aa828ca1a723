"""``trailguard emulator --org`` as a user runs it, attacked with the real AWS CLI inside a member
account: the member's own trail stopped is repaired in that member, by that member's stack, with one
email naming the member account; the member's try on the organization trail is refused.

trailguard runs here as a plain single-account stack per account (the organization parameters of the
member template come later). The member's view of the organization trail and its AccessDenied are the
local cloud's emulation (moto has neither: docs/local-cloud.md, "Organization mode").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from emulator_support import (
    Running,
    account_client,
    account_of,
    aws_cli,
    emails,
    eventually,
    jsonl,
    running_emulator,
)

pytestmark = pytest.mark.e2e

READY_TIMEOUT = 240.0
"""Seconds to wait for the ready file: four accounts, four stacks (about 40 s on an idle machine)."""


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    base = tmp_path_factory.mktemp("org-emulator")
    with running_emulator(base, "--org", "--finding-delay", "0.5", ready_timeout=READY_TIMEOUT) as run:
        yield run
    assert run.process.returncode == 0, run.log.read_text()


def test_a_members_own_trail_stopped_is_repaired_in_that_member_with_one_email_naming_it(
    emulator: Running,
) -> None:
    member = account_of(emulator.ready, "member", 0)
    [trail] = member["trails"]
    seen = len(emails(emulator.outbox))
    done = aws_cli(emulator.ready, member["attacker"], "cloudtrail", "stop-logging", "--name", trail["name"])
    assert done.returncode == 0, done.stderr
    ct = account_client(emulator.ready, member, "cloudtrail")
    eventually(
        lambda: ct.get_trail_status(Name=trail["name"])["IsLogging"], 30, "the member's trail logs again"
    )

    def repaired() -> list[dict[str, Any]]:
        return [
            r
            for r in jsonl(emulator.ready["records"])
            if r["detail"]["eventName"] == "StartLogging"
            and r["detail"]["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
            in member["guard"]["role_arns"]
        ]

    [start] = eventually(repaired, 30, "the member's stack restarted its trail")
    assert start["account"] == start["detail"]["recipientAccountId"] == member["id"]
    assert start["detail"]["requestParameters"]["name"].endswith(f":{member['id']}:trail/{trail['name']}")

    def settled() -> list[dict[str, Any]] | None:
        # The GuardDuty and Security Hub findings follow the call; they are folded into its email.
        got = emails(emulator.outbox)[seen:]
        kinds = {
            i["detail_type"]
            for i in jsonl(emulator.ready["invocations"])
            if i["function_arn"].split(":")[4] == member["id"]
        }
        return got if got and {"GuardDuty Finding", "Security Hub Findings - Imported"} <= kinds else None

    eventually(settled, 30, "the member's email and its findings")
    time.sleep(1.0)
    [email] = emails(emulator.outbox)[seen:]
    assert email["topic_arn"] == member["topic_arn"]
    assert email["topic_arn"].split(":")[4] == member["id"]
    assert "REPAIRED" in email["subject"] and trail["name"] in email["subject"]
    assert member["id"] in email["subject"] and member["id"] in email["body"]
    # Delivered in the member only: no other account's function ran for the attack.
    stop_ids = {
        r["id"]
        for r in jsonl(emulator.ready["records"])
        if r["detail"]["eventName"] == "StopLogging" and r["detail"]["recipientAccountId"] == member["id"]
    }
    runs = [i for i in jsonl(emulator.ready["invocations"]) if i["event_id"] in stop_ids]
    assert runs and {i["function_arn"].split(":")[4] for i in runs} == {member["id"]}


def test_a_members_stop_logging_on_the_organization_trail_is_refused_and_changes_nothing(
    emulator: Running,
) -> None:
    """Recorded in the member's account with its errorCode; the organization trail keeps logging.
    (The plain stack there treats the organization trail as not its own; the member template's
    ``OrgTrailRole=member`` reporting is not deployed yet.)"""
    member = account_of(emulator.ready, "member", 1)
    management = account_of(emulator.ready, "management")
    org_trail = emulator.ready["trail"]
    done = aws_cli(
        emulator.ready, member["attacker"], "cloudtrail", "stop-logging", "--name", org_trail["arn"]
    )
    assert done.returncode != 0
    assert "AccessDeniedException" in done.stderr

    def refused() -> list[dict[str, Any]]:
        return [
            r["detail"]
            for r in jsonl(emulator.ready["records"])
            if r["detail"]["eventName"] == "StopLogging"
            and r["detail"]["userIdentity"].get("arn") == member["attacker"]["arn"]
        ]

    [record] = eventually(refused, 15, "the refused call's record")
    assert record["errorCode"] == "AccessDeniedException"
    assert record["recipientAccountId"] == member["id"]
    owner = account_client(emulator.ready, management, "cloudtrail")
    assert owner.get_trail_status(Name=org_trail["name"])["IsLogging"] is True
