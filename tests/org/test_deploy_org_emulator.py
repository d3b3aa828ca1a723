"""``trailguard deploy --org`` into the local cloud's empty organization (``trailguard emulator --org
--org-stacks none``), then a member's own trail stopped with the real AWS CLI: the function the stack
set put in that member repairs it, and one email names the member account (sent through the central
topic: the topic policy deploy --org sets lets the member
publish; the local cloud enforces it, moto's CloudFormation never applies the template's).

What the local cloud adds to moto here: the router runs the stack-set instance's functions on the
member's events. moto still hides a service-managed instance's stack from DescribeStacks, so the
member's function cannot read its stack's allow-list (logged as ``allowlist.unreadable``; on AWS the
instance stack is visible in the member account) and proceeds with none.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.emulator_support import (
    Running,
    account_client,
    aws_cli,
    deploy_org,
    emails,
    eventually,
    running_emulator,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_emulator(tmp_path_factory.mktemp("org-empty"), "--org", "--org-stacks", "none") as run:
        yield run


def test_deploy_org_into_the_emulator_then_a_member_trail_stopped_is_repaired(emulator: Running) -> None:
    ready = emulator.ready
    organization = ready["organization"]
    document = deploy_org(ready)
    rows = document["rows"]
    members = {a["id"] for a in ready["accounts"] if a["role"] in ("member", "security")}
    assert {r["account"] for r in rows if r["stack"] == "trailguard-member"} == members

    member = next(a for a in ready["accounts"] if a["role"] == "member" and a["trails"])
    (trail,) = member["trails"]
    seen = len(emails(emulator.outbox))
    attack = aws_cli(ready, member["attacker"], "cloudtrail", "stop-logging", "--name", trail["name"])
    assert attack.returncode == 0, attack.stderr
    cloudtrail = account_client(ready, member, "cloudtrail")
    eventually(
        lambda: cloudtrail.get_trail_status(Name=trail["name"])["IsLogging"], 30, "the trail logs again"
    )
    eventually(lambda: len(emails(emulator.outbox)) > seen, 30, "an email")
    (email,) = emails(emulator.outbox)[seen:]
    assert "StopLogging" in email["subject"] and member["id"] in email["subject"], email["subject"]
    assert "AlertTopicArn" in document["stack_set_parameters"]  # the organization's one topic
    assert email["topic_arn"] == document["central_outputs"]["AlertTopicArn"]
    assert email["topic_arn"].split(":")[4] == organization["security_account"]
