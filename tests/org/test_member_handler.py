"""The api-call function in a member account (``TRAILGUARD_ORG_TRAIL_ROLE=member``) on in-process moto:
calls on the organization trail are judged, and the function never changes it.

moto keeps no organization trail of another account: GetTrailStatus and DescribeTrails simply do not
find the management account's trail (moto answers TrailNotFoundException where AWS would show a member
the shadow trail). The recorded calls of the incident show what the function tried: reads only.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

import corpus
import envelopes
from aws_support import Cloud
from trailguard import handlers

MANAGEMENT = "111111111111"
REGION = "us-east-1"
ORG_TRAIL = f"arn:aws:cloudtrail:{REGION}:{MANAGEMENT}:trail/org-trail"
WRITES = {"StartLogging", "UpdateTrail", "CreateTrail", "PutEventSelectors"}


def stop_logging(error: str | None) -> dict[str, Any]:
    raw = copy.deepcopy(corpus.load("failed-tamper/cloudtrail_stoplogging_invalidtrailname_panther.json"))
    raw.update(awsRegion=REGION, recipientAccountId="123456789012", requestParameters={"name": ORG_TRAIL})
    raw.pop("errorCode", None)
    raw.pop("errorMessage", None)
    if error:
        raw.update(errorCode=error, errorMessage="not authorized to stop an organization trail")
    return envelopes.api_call(raw)


def test_a_members_denied_stop_on_the_organization_trail_is_an_attempt(cloud: Cloud) -> None:
    result = cloud.invoke(
        handlers.api_call, stop_logging("AccessDenied"), REGION, TRAILGUARD_ORG_TRAIL_ROLE="member"
    )
    (incident,) = result["incidents"]
    assert incident["verdict"] == "attempt" and incident["status"] == "attempted"
    (message,) = cloud.messages()
    assert message["_sns_subject"].startswith("[trailguard] ATTEMPT: StopLogging")
    assert message["incident"]["remediation"] is None


def test_with_the_default_role_another_accounts_trail_is_not_the_stacks(cloud: Cloud) -> None:
    """Today's rule, unchanged for a single-account stack: a third account's trail is nothing it judges."""
    result = cloud.invoke(handlers.api_call, stop_logging("AccessDenied"), REGION)
    assert result["incidents"] == []
    assert cloud.messages() == []


@pytest.mark.parametrize("role", ["member"])
def test_a_successful_stop_on_the_organization_trail_is_routed_never_started(cloud: Cloud, role: str) -> None:
    """A successful StopLogging on the organization trail reaching a member (forwarded, or a finding):
    the function reads the trail by ARN and reports the repair routed to its owner."""
    result = cloud.invoke(handlers.api_call, stop_logging(None), REGION, TRAILGUARD_ORG_TRAIL_ROLE=role)
    (incident,) = result["incidents"]
    assert incident["verdict"] == "tamper" and incident["status"] == "routed"
    (message,) = cloud.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED] REPAIR ROUTED: StopLogging")
    calls = message["incident"]["remediation"]["calls"]
    assert {c["operation"] for c in calls} == {"DescribeTrails", "GetTrailStatus"}
    assert not WRITES & {c["operation"] for c in calls}
    assert all(c["params"].get("Name", ORG_TRAIL) == ORG_TRAIL for c in calls), "read by ARN"
