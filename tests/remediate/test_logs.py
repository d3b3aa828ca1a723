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


# -- the trail's CloudWatch Logs delivery role (logs.delivery-role) ------------------------------------

ROLE = "trail-delivery"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role/{ROLE}"
POLICY = "cloudtrail-to-cloudwatch-logs"
ROLE_CALL = "iam_putrolepolicy_delivery_deny_constructed.json"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
DELIVERY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{GROUP_ARN}:log-stream:*",
        }
    ],
}
DENY = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "logs:*", "Resource": "*"}]}


def iam() -> Any:
    return boto3.client("iam", region_name="us-east-1")


def role_state() -> dict[str, Any]:
    role = iam().get_role(RoleName=ROLE)["Role"]
    names = iam().list_role_policies(RoleName=ROLE)["PolicyNames"]
    return {
        "trust": role["AssumeRolePolicyDocument"],
        "inline": {n: iam().get_role_policy(RoleName=ROLE, PolicyName=n)["PolicyDocument"] for n in names},
        "attached": [
            p["PolicyArn"] for p in iam().list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]
        ],
        "boundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
    }


@pytest.fixture
def delivering(stack: Stack) -> Stack:
    """The stack's trail delivering to a log group through a delivery role with CloudTrail's trust and
    the usual inline policy; every baseline (the role's too) recorded again."""
    logs().create_log_group(logGroupName=GROUP)
    made = iam().create_role(
        RoleName=ROLE, Path="/service-role/", AssumeRolePolicyDocument=json.dumps(TRUST)
    )["Role"]
    assert made["Arn"] == ROLE_ARN
    iam().put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(DELIVERY))
    boto3.client("cloudtrail", region_name=REGION).update_trail(
        Name=stack.trail_arn, CloudWatchLogsLogGroupArn=f"{GROUP_ARN}:*", CloudWatchLogsRoleArn=ROLE_ARN
    )
    recorded = stack.record_baselines().get("role", ROLE_ARN)
    assert recorded is not None and recorded["InlinePolicies"] == {POLICY: DELIVERY}
    assert recorded["AssumeRolePolicyDocument"] == TRUST
    return stack


def _role_event(name: str = "PutRolePolicy", **params: Any) -> dict[str, Any]:
    return tamper_event(ROLE_CALL, {"roleName": ROLE, **params}, event_name=name)


def test_a_delivery_policy_overwritten_with_a_deny_is_put_back(delivering: Stack) -> None:
    iam().put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(DENY))

    incident = _incident(
        delivering, _role_event(policyName=POLICY, policyDocument=json.dumps(DENY)), "logs.delivery-role"
    )

    assert incident["status"] == "remediated", incident
    assert role_state()["inline"] == {POLICY: DELIVERY}
    outcome = delivering.outcomes[-1]
    assert outcome.verified is True
    assert "PutRolePolicy" in [c.operation for c in outcome.calls]
    assert {c.region for c in outcome.calls if c.service == "iam"} == {"us-east-1"}
    assert f'put inline policy {POLICY} back: Deny logs:* on "*" -> Allow ' in outcome.summary
    assert_declared(outcome.action, outcome.calls)
    (message,) = delivering.messages()
    assert remediation_of(message)["verified"] is True


def test_a_rewritten_trust_an_added_policy_and_a_boundary_are_all_undone(delivering: Stack) -> None:
    """Several changes at once (the sweep's case too): the action reconciles the whole role, not only
    what the call names."""
    iam().update_assume_role_policy(
        RoleName=ROLE,
        PolicyDocument=json.dumps({**TRUST, "Statement": [{**TRUST["Statement"][0], "Effect": "Deny"}]}),
    )
    iam().put_role_policy(RoleName=ROLE, PolicyName="extra", PolicyDocument=json.dumps(DENY))
    boundary = iam().create_policy(PolicyName="nothing", PolicyDocument=json.dumps(DENY))["Policy"]["Arn"]
    iam().put_role_permissions_boundary(RoleName=ROLE, PermissionsBoundary=boundary)
    iam().attach_role_policy(RoleName=ROLE, PolicyArn=boundary)

    incident = _incident(delivering, _role_event("UpdateAssumeRolePolicy"), "logs.delivery-role")

    assert incident["status"] == "remediated", incident
    assert role_state() == {"trust": TRUST, "inline": {POLICY: DELIVERY}, "attached": [], "boundary": None}
    summary = delivering.outcomes[-1].summary
    for done in (
        "put the trust policy back",
        "removed inline policy extra",
        "detached managed policy",
        "removed permissions boundary",
    ):
        assert done in summary, summary


def test_a_deleted_delivery_policy_is_put_back_by_the_sweep(delivering: Stack) -> None:
    assert _sweep(delivering).drift == []
    iam().delete_role_policy(RoleName=ROLE, PolicyName=POLICY)

    (drift,) = _sweep(delivering).drift

    assert (drift.kind, drift.ident) == ("role", ROLE_ARN)
    assert [(o.action, o.status) for o in drift.outcomes] == [("logs.restore_delivery_role", "remediated")]
    assert "missing -> Allow logs:CreateLogStream,logs:PutLogEvents" in drift.outcomes[0].summary
    assert role_state()["inline"] == {POLICY: DELIVERY}
    assert _sweep(delivering).drift == []


def test_a_deleted_role_or_a_detached_managed_policy_is_escalated(delivering: Stack) -> None:
    managed = iam().create_policy(PolicyName="delivery", PolicyDocument=json.dumps(DELIVERY))["Policy"]["Arn"]
    iam().attach_role_policy(RoleName=ROLE, PolicyArn=managed)
    delivering.record_baselines()
    iam().detach_role_policy(RoleName=ROLE, PolicyArn=managed)

    incident = _incident(delivering, _role_event("DetachRolePolicy", policyArn=managed), "logs.delivery-role")

    assert incident["status"] == "failed", incident
    assert "STILL OFF: attached policies are none" in delivering.outcomes[-1].summary
    assert "AttachRolePolicy" not in [c.operation for c in delivering.outcomes[-1].calls]

    iam().delete_role_policy(RoleName=ROLE, PolicyName=POLICY)
    iam().delete_role(RoleName=ROLE)
    incident = _incident(delivering, _role_event("DeleteRole"), "logs.delivery-role")
    assert incident["status"] == "failed"
    assert "trailguard does not re-create roles" in delivering.outcomes[-1].summary


def _forge_role_baseline(stack: Stack, change: dict[str, Any]) -> None:
    """The attacker who can write the state table AND have it signed (the floors' attacker): the role's
    baseline re-signed with ``change``."""
    baselines = stack.record_baselines()
    doc = dict(baselines.get("role", ROLE_ARN) or {})
    baselines.put("role", ROLE_ARN, doc | change)


@pytest.mark.parametrize(
    "forged",
    [
        {
            "InlinePolicies": {
                POLICY: {**DELIVERY, "Statement": [{**DELIVERY["Statement"][0], "Action": "*"}]}
            }
        },
        {
            "InlinePolicies": {
                POLICY: {**DELIVERY, "Statement": [{**DELIVERY["Statement"][0], "Resource": "*"}]}
            }
        },
        {
            "InlinePolicies": {
                POLICY: {
                    **DELIVERY,
                    "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
                }
            }
        },
        {
            "AssumeRolePolicyDocument": {
                **TRUST,
                "Statement": [{**TRUST["Statement"][0], "Principal": {"AWS": "*"}}],
            }
        },
    ],
    ids=["any-action", "any-resource", "not-action", "anyone-may-assume"],
)
def test_the_floor_refuses_a_wider_recorded_role(delivering: Stack, forged: dict[str, Any]) -> None:
    _forge_role_baseline(delivering, forged)
    iam().put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(DENY))
    iam().update_assume_role_policy(
        RoleName=ROLE,
        PolicyDocument=json.dumps(
            DENY
            | {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            }
        ),
    )

    incident = _incident(delivering, _role_event(policyName=POLICY), "logs.delivery-role")

    assert incident["status"] == "failed", incident
    outcome = delivering.outcomes[-1]
    assert "safety floor" in outcome.summary
    written = [
        c.operation for c in outcome.calls if c.operation in ("PutRolePolicy", "UpdateAssumeRolePolicy")
    ]
    assert len(written) <= 1  # the refused write is not made; only the other (recorded, narrow) one is
    state = role_state()
    if "InlinePolicies" in forged:  # the wider policy was not written: the attacker's Deny is still there
        assert state["inline"] == {POLICY: DENY}
    else:  # nor the wider trust
        assert state["trust"]["Statement"][0]["Effect"] == "Deny"


def test_a_role_no_protected_trail_names_is_left_alone(delivering: Stack) -> None:
    from trailguard.inventory import load
    from trailguard.policy import TECHNIQUES
    from trailguard.remediate import Context, RepairRequest, repair
    from trailguard.resources.role import KIND

    iam().create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(TRUST))
    with aws.using_environ(delivering.env):
        ctx = Context(load(Config.from_env(delivering.env), REGION))
        outcome = repair(
            ctx,
            TECHNIQUES["logs.delivery-role"],
            RepairRequest(KIND, f"arn:aws:iam::{ACCOUNT}:role/app", "test", baseline=TRUST),
        )
    assert outcome.status == "failed" and "leaves it alone" in outcome.summary
    assert outcome.calls == []
