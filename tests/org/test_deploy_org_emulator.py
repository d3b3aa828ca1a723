"""``trailguard deploy --org`` into the local cloud's empty organization (``trailguard emulator --org
--org-stacks none``), then a member's own trail stopped with the real AWS CLI: the function the stack
set put in that member repairs it, and one email names the member account (sent through the central
topic, when the member template has AlertTopicArn: the topic policy deploy --org sets lets the member
publish; the local cloud enforces it, moto's CloudFormation never applies the template's).

What the local cloud adds to moto here: the router runs the stack-set instance's functions on the
member's events. moto still hides a service-managed instance's stack from DescribeStacks, so the
member's function cannot read its stack's allow-list (logged as ``allowlist.unreadable``; on AWS the
instance stack is visible in the member account) and proceeds with none.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from e2e.emulator_support import TRAILGUARD, Running, aws_cli, emails, eventually, running_emulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_emulator(tmp_path_factory.mktemp("org-empty"), "--org", "--org-stacks", "none") as run:
        yield run


def _account(ready: dict[str, Any], role: str) -> dict[str, Any]:
    return next(a for a in ready["accounts"] if a["role"] == role)


def _client(ready: dict[str, Any], account: dict[str, Any], service: str) -> Any:
    admin = account["admin"]
    return boto3.client(
        service,
        region_name=ready["region"],
        endpoint_url=ready["endpoint"],
        aws_access_key_id=admin["access_key_id"],
        aws_secret_access_key=admin["secret_access_key"],
        aws_session_token=admin.get("session_token") or None,
    )


def test_deploy_org_into_the_emulator_then_a_member_trail_stopped_is_repaired(emulator: Running) -> None:
    ready = emulator.ready
    organization = ready["organization"]
    management = _account(ready, "management")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=management["admin"]["access_key_id"],
        AWS_SECRET_ACCESS_KEY=management["admin"]["secret_access_key"],
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    args = ["deploy", "--org", "--email", "secops@example.com"]
    args += ["--security-account", organization["security_account"], "--ou", "Workloads", "--ou", "Security"]
    args += ["--region", ready["region"], "--endpoint-url", ready["endpoint"], "--output", "json"]
    done = subprocess.run(
        [str(TRAILGUARD), *args], check=False, capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    document = json.loads(done.stdout)
    rows = document["rows"]
    assert {r["status"] for r in rows} == {"deployed"}
    members = {a["id"] for a in ready["accounts"] if a["role"] in ("member", "security")}
    assert {r["account"] for r in rows if r["stack"] == "trailguard-member"} == members

    member = next(a for a in ready["accounts"] if a["role"] == "member" and a["trails"])
    (trail,) = member["trails"]
    seen = len(emails(emulator.outbox))
    attack = aws_cli(ready, member["attacker"], "cloudtrail", "stop-logging", "--name", trail["name"])
    assert attack.returncode == 0, attack.stderr
    cloudtrail = _client(ready, member, "cloudtrail")
    eventually(
        lambda: cloudtrail.get_trail_status(Name=trail["name"])["IsLogging"], 30, "the trail logs again"
    )
    eventually(lambda: len(emails(emulator.outbox)) > seen, 30, "an email")
    (email,) = emails(emulator.outbox)[seen:]
    assert "StopLogging" in email["subject"] and member["id"] in email["subject"], email["subject"]
    if "AlertTopicArn" in document["stack_set_parameters"]:  # the organization's template: one topic
        assert email["topic_arn"] == document["central_outputs"]["AlertTopicArn"]
        assert email["topic_arn"].split(":")[4] == organization["security_account"]
