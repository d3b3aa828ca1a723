"""The trail's CloudWatch Logs group repaired on in-process moto: re-created after DeleteLogGroup with its
recorded retention and KMS key, its retention put back after PutRetentionPolicy, on the event path
(the constructed records of ``MANIFEST.tsv``, re-aimed at the stack) and by the backstop sweep."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from permissions_support import assert_declared
from trailguard import aws, sweep
from trailguard.config import Config

from .conftest import ACCOUNT, REGION, Stack, remediation_of, tamper_event

GROUP = "/aws/cloudtrail/protected-trail"
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}"
DELETE = "logs_deleteloggroup_constructed.json"
RETENTION = "logs_putretentionpolicy_1day_constructed.json"


def logs() -> Any:
    return boto3.client("logs", region_name=REGION)


def group() -> dict[str, Any] | None:
    found = [
        g
        for g in logs().describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
        if g["logGroupName"] == GROUP
    ]
    return found[0] if found else None


def configure(stack: Stack, retention: int | None) -> Stack:
    """The stack's trail delivering to a KMS-encrypted log group with ``retention`` (None: forever),
    its baselines recorded again."""
    logs().create_log_group(logGroupName=GROUP, kmsKeyId=stack.key_arn)
    if retention is not None:
        logs().put_retention_policy(logGroupName=GROUP, retentionInDays=retention)
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="trail-to-logs",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    boto3.client("cloudtrail", region_name=REGION).update_trail(
        Name=stack.trail_arn, CloudWatchLogsLogGroupArn=f"{GROUP_ARN}:*", CloudWatchLogsRoleArn=role
    )
    baselines = stack.record_baselines()
    recorded = baselines.get("loggroup", GROUP_ARN)
    assert recorded is not None and recorded["RetentionInDays"] == retention
    assert recorded["KmsKeyId"] == stack.key_arn
    return stack


@pytest.fixture
def grouped(stack: Stack) -> Stack:
    return configure(stack, 365)


def _incident(stack: Stack, event: dict[str, Any], technique: str) -> dict[str, Any]:
    result = stack.invoke(event)
    assert result["skipped"] == []
    (incident,) = result["incidents"]
    assert incident["technique"] == technique, incident
    return dict(incident)


def test_a_deleted_group_is_recreated_with_its_retention_and_key(grouped: Stack) -> None:
    logs().delete_log_group(logGroupName=GROUP)

    incident = _incident(grouped, tamper_event(DELETE, {"logGroupName": GROUP}), "logs.group-delete")

    assert incident["status"] == "remediated"
    found = group()
    assert found is not None and found["retentionInDays"] == 365 and found["kmsKeyId"] == grouped.key_arn
    (message,) = grouped.messages()
    outcome = remediation_of(message)
    assert outcome["verified"] is True
    assert [c["operation"] for c in outcome["calls"]] == [
        "DescribeLogGroups",
        "CreateLogGroup",
        "PutRetentionPolicy",
        "DescribeLogGroups",
        "GetTrailStatus",
    ]
    assert {c["region"] for c in outcome["calls"]} == {REGION}
    assert "log events that only the deleted group held are lost" in outcome["summary"]
    for done in grouped.outcomes:
        assert_declared(done.action, done.calls)

    (repeat,) = grouped.invoke(tamper_event(DELETE, {"logGroupName": GROUP}))["incidents"]
    assert repeat["status"] == "already-restored"


def test_a_cut_retention_is_put_back(grouped: Stack) -> None:
    logs().put_retention_policy(logGroupName=GROUP, retentionInDays=1)

    incident = _incident(
        grouped, tamper_event(RETENTION, {"logGroupName": GROUP, "retentionInDays": 1}), "logs.retention-cut"
    )

    assert incident["status"] == "remediated"
    assert (group() or {}).get("retentionInDays") == 365
    outcome = grouped.outcomes[-1]
    assert [c.operation for c in outcome.calls] == [
        "DescribeLogGroups",
        "PutRetentionPolicy",
        "DescribeLogGroups",
    ]
    assert "from 1 days to 365 days" in outcome.summary
    assert_declared(outcome.action, outcome.calls)


def test_a_recorded_retention_above_the_floor_is_the_one_restored(stack: Stack) -> None:
    """Ten years recorded: a cut to 400 days is judged against the baseline (the live inventory carries
    the recorded group) and put back to ten years."""
    configure(stack, 3653)
    logs().put_retention_policy(logGroupName=GROUP, retentionInDays=400)

    incident = _incident(
        stack, tamper_event(RETENTION, {"logGroupName": GROUP, "retentionInDays": 400}), "logs.retention-cut"
    )

    assert incident["verdict"] == "tamper" and incident["status"] == "remediated"
    assert (group() or {}).get("retentionInDays") == 3653


def test_a_group_kept_forever_gets_its_retention_policy_removed(stack: Stack) -> None:
    configure(stack, None)
    logs().put_retention_policy(logGroupName=GROUP, retentionInDays=3653)

    incident = _incident(
        stack, tamper_event(RETENTION, {"logGroupName": GROUP, "retentionInDays": 3653}), "logs.retention-cut"
    )

    assert incident["status"] == "remediated"
    assert "retentionInDays" not in (group() or {"retentionInDays": 0})
    assert "DeleteRetentionPolicy" in [c.operation for c in stack.outcomes[-1].calls]


def test_another_groups_retention_is_not_touched(grouped: Stack) -> None:
    logs().create_log_group(logGroupName="/aws/lambda/app")
    logs().put_retention_policy(logGroupName="/aws/lambda/app", retentionInDays=1)

    result = grouped.invoke(
        tamper_event(RETENTION, {"logGroupName": "/aws/lambda/app", "retentionInDays": 1})
    )

    assert result["incidents"] == []
    assert grouped.outcomes == []


def test_the_floor_refuses_a_group_that_is_no_trails(grouped: Stack) -> None:
    """An action asked (by a forged or stale request) to recreate a group no trail names does nothing."""
    from trailguard.inventory import load
    from trailguard.policy import TECHNIQUES
    from trailguard.remediate import Context, RepairRequest, repair
    from trailguard.resources.loggroup import KIND

    other = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/attacker/own"
    with aws.using_environ(grouped.env):
        config = Config.from_env(grouped.env)
        ctx = Context(load(config, REGION))
        outcome = repair(ctx, TECHNIQUES["logs.group-delete"], RepairRequest(KIND, other, "test"))
    assert outcome.status == "failed" and "leaves it alone" in outcome.summary
    assert outcome.calls == []


def _sweep(stack: Stack) -> sweep.Report:
    with aws.using_environ(stack.env):
        return sweep.sweep(Config.from_env(stack.env), REGION)


def test_the_sweep_recreates_a_deleted_group_and_restores_a_cut(grouped: Stack) -> None:
    assert _sweep(grouped).drift == []
    logs().delete_log_group(logGroupName=GROUP)

    (drift,) = _sweep(grouped).drift

    assert drift.kind == "loggroup" and drift.ident == GROUP_ARN
    assert [(o.action, o.status) for o in drift.outcomes] == [("logs.recreate_group", "remediated")]
    assert (group() or {}).get("retentionInDays") == 365

    logs().put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    (drift,) = _sweep(grouped).drift
    assert [(o.action, o.status) for o in drift.outcomes] == [("logs.restore_retention", "remediated")]
    assert (group() or {}).get("retentionInDays") == 365
    assert _sweep(grouped).drift == []


def test_a_longer_retention_is_left_in_place_by_the_sweep(grouped: Stack) -> None:
    logs().put_retention_policy(logGroupName=GROUP, retentionInDays=3653)
    assert _sweep(grouped).drift == []
    assert (group() or {}).get("retentionInDays") == 3653
