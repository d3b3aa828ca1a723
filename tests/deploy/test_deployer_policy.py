"""``docs/deployer-policy.json``, the IAM policy the README gives the deploying principal: valid, and it
allows every call ``trailguard deploy`` (dry run, create, update) and ``trailguard destroy`` really make,
recorded on in-process moto; and every resource type of the template has a statement for the calls
CloudFormation makes with the deployer's credentials (moto makes those internally, so they are checked
by service, not by call)."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from aws_support import Account
from permissions_support import iam_action
from trailguard import aws, deploy
from trailguard.deploy.destroy import destroy
from trailguard.deploy.package import template_source

from .conftest import STACK

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

POLICY = Path(__file__).resolve().parents[2] / "docs" / "deployer-policy.json"
# Calls whose IAM action permissions_support.IAM_NAME does not list (deploy's own, not a repair's).
DEPLOY_IAM_NAME = {"s3:HeadObject": "s3:GetObject"}
# The template's resource types, by the IAM prefix CloudFormation needs to manage them.
TYPE_PREFIX = {"Logs": "logs", "Events": "events", "Lambda": "lambda", "IAM": "iam", "SNS": "sns",
               "SQS": "sqs", "DynamoDB": "dynamodb", "KMS": "kms", "CloudWatch": "cloudwatch",
               "S3": "s3"}  # fmt: skip


def _allowed() -> list[str]:
    document = json.loads(POLICY.read_text())
    assert document["Version"] == "2012-10-17"
    actions: list[str] = []
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and statement.get("Sid")
        actions.extend([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    return actions


def _covers(actions: list[str], call: str) -> bool:
    return any(fnmatch.fnmatchcase(call.lower(), pattern.lower()) for pattern in actions)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Every AWS operation trailguard's clients make, as ``prefix:Operation``."""
    calls: set[str] = set()
    make = aws._client.__wrapped__

    def recording(*args: Any) -> Any:
        client = make(*args)
        service = client.meta.service_model.service_name

        def record(model: Any, **_: Any) -> None:
            action = iam_action(service, model.name)
            calls.add(DEPLOY_IAM_NAME.get(action, action))

        client.meta.events.register("before-call.*.*", record)
        return client

    aws.clear_cache()
    monkeypatch.setattr(aws, "_client", lru_cache(maxsize=128)(recording))
    yield calls
    aws.clear_cache()


def test_the_policy_allows_every_call_deploy_and_destroy_make(account: Account, recorded: set[str]) -> None:
    key = account.key()["KeyId"]
    account.trail("org-trail", account.bucket("trail-logs", versioning=True), KmsKeyId=key)
    quiet = {"progress": lambda _: None, "poll_seconds": 0.01}
    deploy.apply(STACK, "security@example.com", dry_run=True, require_trails=True, **quiet)
    deploy.apply(STACK, "security@example.com", require_trails=True, **quiet)
    deploy.apply(STACK, parameters={"BackstopSchedule": "rate(1 hour)"}, **quiet)
    destroy(aws.client("cloudformation"), deploy.lookup(STACK), progress=lambda _: None, poll_seconds=0.01)
    actions = _allowed()
    missing = sorted(c for c in recorded if not _covers(actions, c))
    assert not missing, f"docs/deployer-policy.json does not allow {missing}"
    assert {"cloudformation:CreateChangeSet", "s3:PutObject", "cloudtrail:DescribeTrails"} <= recorded


def test_every_resource_type_of_the_template_has_its_service_in_the_policy() -> None:
    types = set(re.findall(r"^    Type: AWS::(\w+)::\w+", template_source().read_text(), re.M))
    actions = _allowed()
    for service in sorted(types):
        prefix = TYPE_PREFIX.get(service)
        assert prefix, f"the template has AWS::{service}:: resources: add them to TYPE_PREFIX and the policy"
        creates = [a for a in actions if a.lower().startswith((f"{prefix}:create", f"{prefix}:put"))]
        assert creates, f"docs/deployer-policy.json cannot create {service} resources"
    assert _covers(actions, "iam:PassRole")  # CloudFormation hands the guard role to the functions
