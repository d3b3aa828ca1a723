"""The self family's conditions (``policy/techniques/self.py``): trailguard's state table, queues, stack and
its role lent to a new function, on a real record modified by hand (item 9 and 12 of issue 9)."""

from __future__ import annotations

import pytest
from policy_support import GUARD_ROLE, PROTECTING

from trailguard.policy import Inventory, classify

RECORD = "tamper/lambda_deletefunction_panther.json"
TABLE = "trailguard-StateTable-ABC"
DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/trailguard-DeadLetterQueue-XYZ"
GUARD = {
    **PROTECTING,
    "guard": {
        **PROTECTING["guard"],
        "table_names": [TABLE],
        "queue_urls": [DLQ],
        "stack_names": ["trailguard"],
    },
}


def _judge(modified, source: str, name: str, params: dict, data: dict = GUARD):
    record = modified(RECORD, params=params, eventName=name, eventSource=f"{source}.amazonaws.com")
    return classify(record, Inventory.from_dict(data))


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("DeleteTable", {"tableName": TABLE}, "tamper"),
        ("DeleteTable", {"tableName": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}"}, "tamper"),
        ("UpdateTable", {"tableName": TABLE, "deletionProtectionEnabled": False}, "tamper"),
        ("UpdateTable", {"tableName": TABLE, "sSESpecification": {"enabled": False}}, "tamper"),
        ("UpdateTable", {"tableName": TABLE, "billingMode": "PROVISIONED"}, "benign"),
        ("DeleteTable", {"tableName": "someone-elses"}, "benign"),
    ],
)
def test_state_table(modified, name, params, expected):
    verdict = _judge(modified, "dynamodb", name, params)
    assert verdict.verdict == expected, verdict.reason
    assert verdict.technique_id == ("guard.table" if expected == "tamper" else None)


def test_state_table_calls_were_benign_before_they_were_watched(modified):
    """Without the table in the inventory (as before this technique), nothing is known."""
    data = {**PROTECTING}
    assert _judge(modified, "dynamodb", "DeleteTable", {"tableName": TABLE}, data).verdict == "benign"


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("DeleteQueue", {"queueUrl": DLQ}, "tamper"),
        ("PurgeQueue", {"queueUrl": DLQ}, "tamper"),
        ("SetQueueAttributes", {"queueUrl": DLQ, "attributes": {"MessageRetentionPeriod": "60"}}, "tamper"),
        ("DeleteQueue", {"queueUrl": DLQ + "-other"}, "benign"),
    ],
)
def test_queues(modified, name, params, expected):
    verdict = _judge(modified, "sqs", name, params)
    assert verdict.verdict == expected, verdict.reason
    if expected == "tamper":
        assert verdict.technique_id == "guard.queue"
        assert "trailguard-DeadLetterQueue-XYZ" in verdict.reason


@pytest.mark.parametrize("name", ["DeleteStack", "UpdateStack", "ExecuteChangeSet"])
def test_the_stack_by_anyone_not_allow_listed_is_tamper(modified, name):
    arn = "arn:aws:cloudformation:us-east-1:123456789012:stack/trailguard/1b2c3d4e"
    for ref in ("trailguard", arn):
        verdict = _judge(modified, "cloudformation", name, {"stackName": ref})
        assert verdict.verdict == "tamper", verdict.reason
        assert verdict.technique_id == "guard.stack"
        assert verdict.technique.action.notify_only  # [ACTION REQUIRED] at once


def test_the_stack_by_an_allow_listed_principal_is_allowed(modified):
    allowed = PROTECTING["allowed_principal_arns"][0]
    account, role = allowed.split(":")[4], allowed.rsplit("/", 1)[-1]
    identity = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/pipeline",
        "accountId": account,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": allowed, "accountId": account}},
    }
    record = modified(
        RECORD,
        params={"stackName": "trailguard"},
        eventName="UpdateStack",
        eventSource="cloudformation.amazonaws.com",
        userIdentity=identity,
    )
    assert classify(record, Inventory.from_dict(GUARD)).verdict == "allowed"


def test_other_stacks_are_not_watched(modified):
    assert _judge(modified, "cloudformation", "DeleteStack", {"stackName": "web-app"}).verdict == "benign"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"functionName": "innocent", "role": GUARD_ROLE}, "tamper"),
        ({"functionName": "innocent", "role": "arn:aws:iam::123456789012:role/app"}, "benign"),
        ({"functionName": "basic-node-task", "role": GUARD_ROLE}, "benign"),
    ],
)
def test_a_function_created_with_trailguards_role(modified, params, expected):
    """Item 12: creating a function with the role is watched (its calls would carry the role)."""
    verdict = _judge(modified, "lambda", "CreateFunction20150331", params)
    assert verdict.verdict == expected, verdict.reason
    if expected == "tamper":
        assert verdict.technique_id == "guard.role-use"


@pytest.mark.parametrize(
    "name",
    ["DeleteFunction20150331", "UpdateFunctionCode20150331v2", "UpdateFunctionConfiguration20150331v2"],
)
def test_deleting_or_recoding_a_trailguard_function_is_repaired_not_only_escalated(modified, name):
    """Issue 10: these calls on trailguard's own function lead to ``guard.restore_function``, which now
    recreates, re-codes and reconfigures (tests/remediate/test_function.py), and declares the calls that
    takes beside them: CreateFunction / UpdateFunctionCode, the stack's role passed to Lambda, the
    stack's code object read."""
    function = PROTECTING["guard"]["function_names"][0]
    verdict = _judge(modified, "lambda", name, {"functionName": function})
    assert verdict.verdict == "tamper", verdict.reason
    technique = verdict.technique
    assert technique is not None and technique.id == "guard.function" and technique.sweep is not None
    assert technique.action.name == "guard.restore_function"
    assert {
        "lambda:CreateFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:PutFunctionEventInvokeConfig",
        "iam:PassRole",
        "s3:GetObject",
    } <= technique.action.permissions
    assert "escalated" not in technique.repair_summary
