"""What the guard's own repairs (``remediate/rule.py``, ``function.py``, ``topic.py``) are tested with:
the attacker's CloudTrail call as the guard-calls rule delivers it to the finding function of the real
stack deployed on moto (the ``deployed`` fixture), and the checks every guard repair shares."""

from __future__ import annotations

from typing import Any

import pytest

import envelopes
from permissions_support import assert_declared
from worlds import ACCOUNT, REGION, Deployed

ATTACKER = f"arn:aws:iam::{ACCOUNT}:user/attacker"


@pytest.fixture
def aws_region() -> str:
    """The deployed stack lives in us-east-1 (tests/remediate's own stack in us-west-2)."""
    return REGION


def call(source: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """An ``AWS API Call via CloudTrail`` envelope of the attacker's call, as EventBridge delivers it."""
    record = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": ATTACKER,
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAATTACKER00000001",
            "userName": "attacker",
        },
        "eventTime": "2024-01-01T00:00:00Z",
        "eventSource": f"{source}.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": params,
        "eventID": f"{name}-0001",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    return envelopes.api_call(record, event_id="c0ffee00-0000-4000-8000-000000000001")


def incident_of(result: dict[str, Any]) -> dict[str, Any]:
    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper"
    return incident


def outcome_of(deployed: Deployed) -> dict[str, Any]:
    (message,) = deployed.messages()
    remediation: dict[str, Any] = message["doc"]["incident"]["remediation"]
    return remediation


def check_permissions(outcome: dict[str, Any]) -> None:
    assert_declared(outcome["action"], outcome["calls"])
