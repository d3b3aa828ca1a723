"""The role family (``policy/techniques/role.py``): trailguard's own role and a trail's CloudWatch Logs
delivery role share the IAM calls; the role the call names decides which technique judges it."""

from __future__ import annotations

import json

import pytest
from policy_support import GUARD_ROLE, PROTECTING

from trailguard.policy import Inventory, classify
from trailguard.policy.techniques import techniques_for_call

RECORD = "tamper/lambda_deletefunction_panther.json"
DELIVERY = "arn:aws:iam::123456789012:role/CloudTrail_CloudWatchLogs_Role"
DATA = {
    **PROTECTING,
    "trails": [
        {**PROTECTING["trails"][0], "CloudWatchLogsRoleArn": DELIVERY},
        *PROTECTING["trails"][1:],
    ],
}
CALLS = [
    "DeleteRole",
    "DeleteRolePolicy",
    "PutRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "UpdateAssumeRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
]


def _judge(modified, name: str, role: str):
    record = modified(RECORD, params={"roleName": role}, eventName=name, eventSource="iam.amazonaws.com")
    return classify(record, Inventory.from_dict(DATA))


def test_both_techniques_share_the_iam_calls():
    for name in CALLS:
        assert [t.id for t in techniques_for_call("iam.amazonaws.com", name)] == [
            "guard.role",
            "logs.delivery-role",
        ]


@pytest.mark.parametrize("name", CALLS)
def test_calls_on_trailguards_role(modified, name):
    verdict = _judge(modified, name, "trailguard-remediation")
    assert verdict.verdict == "tamper", verdict.reason
    assert verdict.technique_id == "guard.role"
    assert "trailguard's own role trailguard-remediation" in verdict.reason


@pytest.mark.parametrize("name", CALLS)
def test_calls_on_a_trails_delivery_role(modified, name):
    verdict = _judge(modified, name, "CloudTrail_CloudWatchLogs_Role")
    assert verdict.verdict == "tamper", verdict.reason
    assert verdict.technique_id == "logs.delivery-role"
    assert verdict.resource == DELIVERY
    assert verdict.technique.action.name == "logs.restore_delivery_role"  # restored from its baseline


def test_other_roles_are_benign(modified):
    verdict = _judge(modified, "DeleteRolePolicy", "some-app-role")
    assert verdict.verdict == "benign"
    assert "not trailguard's role" in verdict.reason


GROUP = "arn:aws:logs:us-west-2:111122223333:log-group:CloudTrail/DefaultLogGroup"
RESTORED = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{GROUP}:log-stream:*",
            }
        ],
    }
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
DENY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "logs:*", "Resource": "*"}]}
)
ROLE_RECORD = "tamper/iam_putrolepolicy_delivery_deny_constructed.json"
OWN_FUNCTION = "basic-node-task"  # PROTECTING's guard function: Lambda names the session after it


def as_role(role_arn: str, session: str) -> dict:
    account = role_arn.split(":")[4]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{session}",
        "accountId": account,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": account}},
    }


def _delivery_call(modified, name: str, params: dict, session: str):
    record = modified(
        ROLE_RECORD,
        params={"roleName": "CloudTrail_CloudWatchLogs_Role", **params},
        eventName=name,
        userIdentity=as_role(GUARD_ROLE, session=session),
    )
    return classify(record, Inventory.from_dict(PROTECTING))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("PutRolePolicy", {"policyName": "p", "policyDocument": RESTORED}),
        ("UpdateAssumeRolePolicy", {"policyDocument": TRUST}),
        ("DeleteRolePolicy", {"policyName": "added"}),
    ],
    ids=["policy", "trust", "removal"],
)
def test_trailguards_own_restore_of_the_delivery_role_is_its_own(modified, name, params):
    """The repair's own calls come back as events: from trailguard's function, writing what its floors
    accept, they are benign (before, each was judged tamper and counted as the attacker's repeat)."""
    verdict = _delivery_call(modified, name, params, OWN_FUNCTION)
    assert verdict.verdict == "benign", verdict.reason
    assert f"trailguard's own function {OWN_FUNCTION}" in verdict.reason


@pytest.mark.parametrize(
    ("name", "params", "session"),
    [
        ("PutRolePolicy", {"policyName": "p", "policyDocument": DENY}, OWN_FUNCTION),
        (
            "PutRolePolicy",
            {"policyName": "p", "policyDocument": RESTORED.replace(f"{GROUP}:log-stream:*", "*")},
            OWN_FUNCTION,
        ),
        ("UpdateAssumeRolePolicy", {"policyDocument": TRUST.replace("cloudtrail", "lambda")}, OWN_FUNCTION),
        ("AttachRolePolicy", {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, OWN_FUNCTION),
        ("PutRolePolicy", {"policyName": "p", "policyDocument": RESTORED}, "attacker-function"),
    ],
    ids=["deny", "any-resource", "other-trust", "attach", "other-session"],
)
def test_other_calls_on_the_delivery_role_with_trailguards_role_are_tamper(modified, name, params, session):
    verdict = _delivery_call(modified, name, params, session)
    assert verdict.verdict == "tamper", verdict.reason
    assert verdict.technique_id == "logs.delivery-role"
