"""The stack-set requests ``deploy --org`` makes and how it reads their outcome, with botocore's Stubber.

moto accepts and ignores AutoDeployment, ManagedExecution, CallAs, OperationPreferences and
AccountFilterType, applies no parameter override to an instance's resources, and reports every
operation SUCCEEDED with no results (ListStackSetOperationResults is empty): each of those is checked
here against AWS's documented request and reply shapes instead. The moto-server test
(tests/org/test_deploy_org.py) covers what moto does emulate.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from trailguard.deploy.errors import DeployError
from trailguard.org import stackset
from trailguard.org.deploy import Row, member_rows
from trailguard.org.topology import Account

VALUES = {"NamePrefix": "trailguard", "OrgTrailRole": "member", "CodeS3Key": "trailguard/lambda-x.zip"}
NOT_FOUND = {"service_error_code": "StackSetNotFoundException", "service_message": "not found"}


@pytest.fixture
def cfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_create_is_service_managed_auto_deployed_with_every_value_a_parameter(
    cfn: tuple[Any, Stubber],
) -> None:
    client, stub = cfn
    stub.add_client_error("describe_stack_set", **NOT_FOUND)
    stub.add_response(
        "create_stack_set",
        {"StackSetId": "trailguard-member:1"},
        {
            "StackSetName": "trailguard-member",
            "TemplateBody": "body",
            "Parameters": [
                {"ParameterKey": "NamePrefix", "ParameterValue": "trailguard"},
                {"ParameterKey": "OrgTrailRole", "ParameterValue": "member"},
                {"ParameterKey": "CodeS3Key", "ParameterValue": "trailguard/lambda-x.zip"},
            ],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
            "ManagedExecution": {"Active": True},
            "CallAs": "SELF",
            "Description": ANY,
            "Tags": [{"Key": "trailguard", "Value": "true"}],
        },
    )
    assert stackset.ensure(client, body="body", url=None, values=VALUES, progress=lambda _: None) is None


def test_update_keeps_auto_deployment_and_tolerates_each_failure(cfn: tuple[Any, Stubber]) -> None:
    client, stub = cfn
    stub.add_response(
        "describe_stack_set",
        {
            "StackSet": {
                "StackSetName": "trailguard-member",
                "Status": "ACTIVE",
                "PermissionModel": "SERVICE_MANAGED",
            }
        },
    )
    stub.add_response(
        "update_stack_set",
        {"OperationId": "op-update"},
        {
            "StackSetName": "trailguard-member",
            "TemplateURL": "https://b.s3.us-east-1.amazonaws.com/t.yaml",
            "Parameters": ANY,
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
            "ManagedExecution": {"Active": True},
            "CallAs": "SELF",
            "Description": ANY,
            "OperationPreferences": {
                "RegionConcurrencyType": "PARALLEL",
                "FailureTolerancePercentage": 100,
                "MaxConcurrentPercentage": 100,
            },
        },
    )
    url = "https://b.s3.us-east-1.amazonaws.com/t.yaml"
    assert (
        stackset.ensure(client, body="ignored", url=url, values=VALUES, progress=lambda _: None)
        == "op-update"
    )


def test_a_self_managed_stack_set_of_that_name_is_refused(cfn: tuple[Any, Stubber]) -> None:
    client, stub = cfn
    stub.add_response(
        "describe_stack_set",
        {
            "StackSet": {
                "StackSetName": "trailguard-member",
                "Status": "ACTIVE",
                "PermissionModel": "SELF_MANAGED",
            }
        },
    )
    with pytest.raises(DeployError, match="SELF_MANAGED"):
        stackset.ensure(client, body="b", url=None, values=VALUES, progress=lambda _: None)


def test_instances_target_ous_and_the_override_filters_one_account(cfn: tuple[Any, Stubber]) -> None:
    """Service-managed instances take OUs only; one account's override is an INTERSECTION with its OU,
    listing every parameter (not only the one that differs)."""
    client, stub = cfn
    stub.add_response(
        "create_stack_instances",
        {"OperationId": "op-create"},
        {
            "StackSetName": "trailguard-member",
            "DeploymentTargets": {"OrganizationalUnitIds": ["ou-ab12-11111111", "ou-ab12-22222222"]},
            "Regions": ["us-east-1", "eu-west-1"],
            "OperationPreferences": ANY,
            "CallAs": "SELF",
        },
    )
    overridden = {**VALUES, "OrgTrailRole": "delegated-admin"}
    stub.add_response(
        "update_stack_instances",
        {"OperationId": "op-override"},
        {
            "StackSetName": "trailguard-member",
            "DeploymentTargets": {
                "OrganizationalUnitIds": ["ou-ab12-11111111"],
                "Accounts": ["222222222222"],
                "AccountFilterType": "INTERSECTION",
            },
            "Regions": ["us-east-1", "eu-west-1"],
            "ParameterOverrides": [{"ParameterKey": k, "ParameterValue": v} for k, v in overridden.items()],
            "OperationPreferences": ANY,
            "CallAs": "SELF",
        },
    )
    regions = ["us-east-1", "eu-west-1"]
    assert stackset.add_instances(client, ["ou-ab12-11111111", "ou-ab12-22222222"], regions) == "op-create"
    operation = stackset.override(
        client, account="222222222222", unit="ou-ab12-11111111", regions=regions, values=overridden
    )
    assert operation == "op-override"


def test_a_failed_operation_names_each_failed_instance_and_its_reason(cfn: tuple[Any, Stubber]) -> None:
    client, stub = cfn
    stub.add_response("describe_stack_set_operation", {"StackSetOperation": {"Status": "RUNNING"}})
    stub.add_response("describe_stack_set_operation", {"StackSetOperation": {"Status": "FAILED"}})
    stub.add_response(
        "list_stack_set_operation_results",
        {
            "Summaries": [
                {"Account": "111111111111", "Region": "us-east-1", "Status": "SUCCEEDED"},
                {
                    "Account": "111111111111",
                    "Region": "eu-west-1",
                    "Status": "FAILED",
                    "StatusReason": "ResourceLogicalId:ApiCallRule, ResourceStatusReason:Limit exceeded",
                },
                {"Account": "333333333333", "Region": "us-east-1", "Status": "CANCELLED"},
            ]
        },
    )
    stub.add_response(
        "list_stack_instances",
        {
            "Summaries": [
                {
                    "Account": "111111111111",
                    "Region": "us-east-1",
                    "Status": "CURRENT",
                    "StackInstanceStatus": {"DetailedStatus": "SUCCEEDED"},
                },
                {
                    "Account": "111111111111",
                    "Region": "eu-west-1",
                    "Status": "OUTDATED",
                    "StatusReason": "failed",
                    "StackInstanceStatus": {"DetailedStatus": "FAILED"},
                },
                {
                    "Account": "222222222222",
                    "Region": "eu-west-1",
                    "Status": "INOPERABLE",
                    "StackInstanceStatus": {"DetailedStatus": "INOPERABLE"},
                },
            ]
        },
    )
    status = stackset.wait(client, "op", poll_seconds=0, progress=lambda _: None)
    assert status == "FAILED"
    failures = stackset.operation_failures(client, "op")
    assert failures == {
        ("111111111111", "eu-west-1"): "ResourceLogicalId:ApiCallRule, ResourceStatusReason:Limit exceeded",
        ("333333333333", "us-east-1"): "CANCELLED",
    }
    members = [
        Account("111111111111", "a", "ACTIVE", "ou-1"),
        Account("222222222222", "b", "ACTIVE", "ou-1"),
        Account("333333333333", "c", "ACTIVE", "ou-1"),
        Account("444444444444", "d", "SUSPENDED", "ou-1"),
    ]
    rows = member_rows(members, ["us-east-1", "eu-west-1"], stackset.instances(client), failures)
    by = {(r.account, r.region): r for r in rows}
    assert by[("111111111111", "us-east-1")] == Row(
        "111111111111", "us-east-1", "trailguard-member", "deployed"
    )
    assert by[("111111111111", "eu-west-1")].status == "failed"
    assert "Limit exceeded" in by[("111111111111", "eu-west-1")].reason
    assert by[("222222222222", "us-east-1")].reason == "no stack instance was created"
    assert by[("222222222222", "eu-west-1")] == Row(
        "222222222222", "eu-west-1", "trailguard-member", "failed", "INOPERABLE"
    )
    assert by[("333333333333", "us-east-1")].status == "failed"
    assert {by[("444444444444", r)].status for r in ("us-east-1", "eu-west-1")} == {"skipped"}
    assert len(rows) == 8


def test_a_later_success_clears_an_earlier_failure(cfn: tuple[Any, Stubber]) -> None:
    """An update failed in one account, the next operation deployed it: only what is still failed counts."""
    client, stub = cfn
    pair = {"Account": "111111111111", "Region": "us-east-1"}
    stub.add_response(
        "list_stack_set_operation_results",
        {
            "Summaries": [
                {**pair, "Status": "FAILED", "StatusReason": "throttled"},
                {**pair, "Region": "eu-west-1", "Status": "FAILED"},
            ]
        },
        {"StackSetName": "trailguard-member", "OperationId": "op-1", "CallAs": "SELF"},
    )
    stub.add_response(
        "list_stack_set_operation_results",
        {"Summaries": [{**pair, "Status": "SUCCEEDED"}]},
        {"StackSetName": "trailguard-member", "OperationId": "op-2", "CallAs": "SELF"},
    )
    assert stackset.latest_failures(client, ["op-1", "op-2"]) == {("111111111111", "eu-west-1"): "FAILED"}
