"""The organization trail attacked with the real AWS CLI, on the local cloud's organization
(``trailguard emulator --org --org-stacks none``) with trailguard deployed by ``trailguard deploy --org``:
stopped by the management account's attacker it is repaired there (the management account's plain
stack, OrgTrailRole=owner) with one email through the central topic; a member's attacker is refused
(AccessDenied), reported as an ATTEMPT naming the member, and nobody calls StartLogging.

What the local cloud emulates and moto does not (docs/local-cloud.md, "Organization mode"): the
member's AccessDenied on the organization trail, cross-account delivery to the central topic under its
topic policy. It does not evaluate the central key's policy or IAM (tests/org/test_org_kms.py checks
those documents). One emulator per module; the cases use different accounts' calls, and the refused
call changes nothing, so they do not fold into each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from emulator_support import (
    Running,
    account_client,
    account_of,
    aws_cli,
    deployed_org,
    emails,
    eventually,
    jsonl,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("org-trail")
    with deployed_org(base) as org:
        yield org


def central_ran_on(run: Running, event_id: str, timeout: float = 60.0) -> None:
    """Wait until the central function has finished with the forwarded call ``event_id``: it waits its
    grace for the account's own message (which reaches it through its subscription to the central
    topic) and then speaks or stays quiet, so after it the emails about the call are all there."""
    security = run.ready["organization"]["security_account"]

    def done() -> bool:
        return any(
            i["event_id"] == event_id and i["function_arn"].split(":")[4] == security
            for i in jsonl(run.ready["invocations"])
        )

    eventually(done, timeout, "the central function ran on the forwarded call", interval=0.2)


def _calls(run: Running, name: str, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in jsonl(run.ready["records"])[since:] if r["detail"]["eventName"] == name]


def test_the_organization_trail_stopped_by_the_management_account_is_repaired_with_one_central_email(
    org: tuple[Running, dict[str, Any]],
) -> None:
    run, document = org
    ready = run.ready
    management = account_of(ready, "management")
    trail = ready["trail"]
    central_topic = document["central_outputs"]["AlertTopicArn"]
    seen = len(emails(run.outbox))
    since = len(jsonl(ready["records"]))
    attack = aws_cli(ready, management["attacker"], "cloudtrail", "stop-logging", "--name", trail["name"])
    assert attack.returncode == 0, attack.stderr

    def logging_again() -> bool:
        status = aws_cli(
            ready, management["attacker"], "cloudtrail", "get-trail-status", "--name", trail["arn"]
        )
        assert status.returncode == 0, status.stderr
        return bool(json.loads(status.stdout)["IsLogging"])

    eventually(logging_again, 30, "the organization trail logs again (read by the AWS CLI)", interval=0.5)
    (start,) = eventually(lambda: _calls(run, "StartLogging", since), 15, "the repair's StartLogging")
    assert start["detail"]["recipientAccountId"] == management["id"]
    assert start["detail"].get("errorCode") is None
    issuer = start["detail"]["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn", "")
    assert issuer.split(":")[4] == management["id"] and "trailguard" in issuer
    (stop,) = _calls(run, "StopLogging", since)
    central_ran_on(run, stop["id"])
    (email,) = emails(run.outbox)[seen:]
    assert email["topic_arn"] == central_topic
    assert central_topic.split(":")[4] == ready["organization"]["security_account"]
    assert "StopLogging" in email["subject"] and "REPAIRED" in email["subject"], email["subject"]
    assert management["id"] in email["subject"] and management["id"] in email["body"]


def test_a_members_stop_logging_on_the_organization_trail_is_an_attempt_and_nobody_restarts_it(
    org: tuple[Running, dict[str, Any]],
) -> None:
    """The member's function (OrgTrailRole=member) reports the refused call; the trail kept logging,
    so no account's trailguard calls StartLogging."""
    run, document = org
    ready = run.ready
    member = account_of(ready, "member", 1)
    management = account_of(ready, "management")
    trail = ready["trail"]
    seen = len(emails(run.outbox))
    since = len(jsonl(ready["records"]))
    attack = aws_cli(ready, member["attacker"], "cloudtrail", "stop-logging", "--name", trail["arn"])
    assert attack.returncode != 0 and "AccessDeniedException" in attack.stderr, attack.stderr
    (refused,) = eventually(lambda: _calls(run, "StopLogging", since), 15, "the refused call's record")
    assert refused["detail"]["errorCode"] == "AccessDeniedException"
    assert refused["detail"]["recipientAccountId"] == member["id"]

    def ran_in_member() -> bool:
        return any(
            i["event_id"] == refused["id"] and i["function_arn"].split(":")[4] == member["id"]
            for i in jsonl(ready["invocations"])
        )

    eventually(ran_in_member, 30, "the member's function ran on the refused call")
    central_ran_on(run, refused["id"])
    (email,) = emails(run.outbox)[seen:]
    assert "ATTEMPT" in email["subject"] and member["id"] in email["subject"], email["subject"]
    assert email["topic_arn"] == document["central_outputs"]["AlertTopicArn"]
    assert _calls(run, "StartLogging", since) == []
    owner = account_client(ready, management, "cloudtrail")
    assert owner.get_trail_status(Name=trail["name"])["IsLogging"] is True
