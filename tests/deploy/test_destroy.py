"""``trailguard.deploy.destroy``: the stack deleted on moto (in-process), what it keeps listed with the
command that removes each, and the template's retained resources read from its text."""

from __future__ import annotations

import pytest

import trailguard.deploy.stack as stacks
from aws_support import Account
from trailguard import aws, deploy
from trailguard.deploy.destroy import destroy, plan, retained_logical_ids
from trailguard.deploy.package import template_source

from .conftest import STACK

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_the_template_s_retained_resources_are_read_from_its_text() -> None:
    assert "StateTable" in retained_logical_ids(template_source().read_text())
    text = (
        "Parameters:\n  A:\n    Type: String\n    DeletionPolicy: Retain\n"
        "Resources:\n  Kept:\n    Type: AWS::Logs::LogGroup\n    DeletionPolicy: Retain\n"
        "    Properties: {}\n  Gone:\n    Type: AWS::SNS::Topic\n    DeletionPolicy: Delete\n"
        "  Snap:\n    DeletionPolicy: 'RetainExceptOnCreate'\n    Type: AWS::S3::Bucket\n"
    )
    assert retained_logical_ids(text) == {"Kept", "Snap"}
    as_json = {"Resources": {"Kept": {"DeletionPolicy": "Retain"}, "Gone": {"Type": "AWS::SNS::Topic"}}}
    assert retained_logical_ids(as_json) == {"Kept"}


def test_destroy_deletes_the_stack_and_says_what_it_keeps(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    outputs = deploy.deploy(STACK, "security@example.com", progress=lambda _: None, poll_seconds=0.01)
    info = deploy.lookup(STACK)
    cfn = aws.client("cloudformation")
    lines: list[str] = []
    done = destroy(cfn, info, progress=lines.append, poll_seconds=0.01)
    assert stacks.describe(cfn, STACK) is None
    assert any("DELETE_COMPLETE" in line for line in lines)
    kept = {(k.kind, k.name): k.remove for k in done.kept}
    table = ("AWS::DynamoDB::Table", outputs["StateTableName"])
    bucket = ("artifact bucket", f"trailguard-artifacts-123456789012-{aws.default_region()}")
    assert set(kept) == {table, bucket}
    assert f"aws dynamodb delete-table --table-name {outputs['StateTableName']}" in kept[table]
    assert "delete every object version" in kept[bucket] and "aws s3api delete-bucket" in kept[bucket]
    # what it says it keeps is really there, and the rest is gone
    aws.client("dynamodb").describe_table(TableName=outputs["StateTableName"])
    aws.client("s3").head_bucket(Bucket=bucket[1])
    functions = aws.client("lambda").list_functions()["Functions"]
    assert not [f for f in functions if f["FunctionName"].startswith(f"{STACK}-")]
    assert done.to_dict()["status"] == "DELETE_COMPLETE"


def test_plan_lists_what_would_be_kept_without_deleting(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    deploy.deploy(STACK, "security@example.com", progress=lambda _: None, poll_seconds=0.01)
    info = deploy.lookup(STACK)
    cfn = aws.client("cloudformation")
    assert {k.kind for k in plan(cfn, info)} == {"AWS::DynamoDB::Table", "artifact bucket"}
    assert stacks.describe(cfn, STACK) is not None
