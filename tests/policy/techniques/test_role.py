"""The role family (``policy/techniques/role.py``): trailguard's own role and a trail's CloudWatch Logs
delivery role share the IAM calls; the role the call names decides which technique judges it."""

from __future__ import annotations

import pytest
from policy_support import PROTECTING

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
