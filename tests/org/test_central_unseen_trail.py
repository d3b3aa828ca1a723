"""The central function judges organization trails only. A forwarded call on a management-account trail
that is not an organization trail names a trail the security account cannot list (DescribeTrails from
there shows the organization's trails, not the management account's own): it is that account's own trail,
which its stack repairs, and never "a deleted organization trail" (a false REPAIR FAILED, "no longer
exists"). A forwarded DeleteTrail of an unlisted organization-trail ARN is still reported
(tests/org/test_central.py).

In-process moto, as tests/org/test_central.py: moto's one account is both the management and the
security account, so it would list the management account's own trails; an ARN moto does not list
stands for the trail the security account cannot see (moto has no cross-account visibility).
"""

from __future__ import annotations

import pytest

from aws_support import ACCOUNT, REGION

from .test_central import Calls, Org, call, calls, no_grace, org  # noqa: F401

UNSEEN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/management-own-trail"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("StopLogging", {}),
        ("UpdateTrail", {"enableLogFileValidation": False}),
        ("PutEventSelectors", {"eventSelectors": [{"readWriteType": "ReadOnly"}]}),
    ],
)
def test_a_call_on_a_management_trail_that_is_no_organization_trail_is_not_reported_deleted(
    org: Org,  # noqa: F811
    calls: Calls,  # noqa: F811
    name: str,
    params: dict[str, object],
) -> None:
    calls.made.clear()

    result = org.invoke(call(name, UNSEEN, account=ACCOUNT, **params))

    assert result["incidents"] == [], result
    assert org.messages() == []  # no "no longer exists", no REPAIR FAILED: the owner's stack has it
    assert not [c for c in calls.made if c.split(":")[1] in ("StartLogging", "UpdateTrail", "CreateTrail")]
    assert org.logging()  # the organization trail itself was never touched


def test_a_forwarded_deletion_of_an_unlisted_organization_trail_is_still_reported(
    org: Org,  # noqa: F811
) -> None:
    """The guard stays: the DeleteTrail itself proves the trail existed, and it is gone."""
    result = org.invoke(call("DeleteTrail", UNSEEN, account=ACCOUNT))

    (line,) = result["incidents"]
    assert line["status"] == "failed" and line["action_required"] is True
    (message,) = org.messages()
    assert "no longer exists" in message["text"]
