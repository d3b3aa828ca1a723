"""A GuardDuty finding about another account's trail: GuardDuty's administrator account (in an
organization, often the security account, whose stack is ``OrgTrailRole=delegated-admin``) receives every
member's findings on its own bus. The stack verifies and reports such a trail; it never starts it (a
StartLogging on another account's trail that is not an organization trail is refused, and was a false
REPAIR FAILED), and its own account's stack repairs it.

The finding is the local cloud's (``trailguard.local.findings.findings_for``, shaped like GuardDuty's and
Security Hub's), with the member account as its account. CloudTrail's answers are botocore Stubber
replies (as tests/org/test_member_org_trail.py: moto has no cross-account trails): the Stubber fails on
any call it was not told to expect, so "no StartLogging" is checked by the stub itself. The real sample
finding's test runs the finding handler against moto (in process), its own account left as it is.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

import envelopes
from aws_support import ACCOUNT, Cloud, load_event, moto_region
from trailguard import handlers
from trailguard.events import Record, entries_from_object
from trailguard.inventory import build
from trailguard.local.findings import findings_for
from trailguard.policy import classify
from trailguard.remediate import Context, RepairRequest, repair
from trailguard.resources.trail import KIND

from .test_central import Org, no_grace, org  # noqa: F401
from .test_member_org_trail import MANAGEMENT, MEMBER, ORG_ENTRY, REGION, cloudtrail, config  # noqa: F401

OTHER = "444455556666"
OTHER_TRAIL = f"arn:aws:cloudtrail:{REGION}:{OTHER}:trail/workload-trail"
SAMPLE = "findings/guardduty_finding_sample_cloudtrailloggingdisabled_elastic.json"


def finding(source: str) -> Record:
    """The finding raised in account OTHER after a StopLogging there, as the administrator receives it."""
    call = {
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "recipientAccountId": OTHER,
        "awsRegion": REGION,
        "requestParameters": {"name": OTHER_TRAIL},
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{OTHER}:user/attacker", "accountId": OTHER},
        "eventID": "3f1c5a4e-0000-4000-8000-000000000001",
        "eventTime": "2026-12-02T00:00:00Z",
    }
    (event,) = [e for e in findings_for(call) if e["source"] == source]
    (record,) = entries_from_object(event)
    assert isinstance(record, Record) and record.account_id == OTHER
    return record


def expect_verified(stub: Stubber) -> None:
    """DescribeTrails by ARN does not list another account's trail; GetTrailStatus on it is refused."""
    stub.add_response(
        "describe_trails", {"trailList": []}, {"trailNameList": [OTHER_TRAIL], "includeShadowTrails": True}
    )
    stub.add_client_error(
        "get_trail_status",
        service_error_code="AccessDeniedException",
        service_message="not authorized",
        expected_params={"Name": OTHER_TRAIL},
    )


def judged_and_repaired(
    stub: Stubber, source: str, role: str, account: str, trails: list[dict[str, Any]]
) -> tuple[Any, Any]:
    """OTHER's finding (from ``source``) classified by a stack of ``role`` in ``account`` that lists
    ``trails``, and repaired with every call answered as for a verified, logging trail: the verdict
    names OTHER's trail (a tamper), then the repair's outcome."""
    record = finding(source)
    settings = config(role, account)
    live = build(settings, REGION, trails)
    verdict = classify(record, live.inventory_for(record.finding_trail, record_account=record.account_id))
    assert verdict.verdict == "tamper" and verdict.resource == OTHER_TRAIL, verdict
    assert verdict.technique is not None
    expect_verified(stub)
    ctx = Context(live, config=settings, verify_attempts=1, sleep=lambda _: None)
    return verdict, repair(ctx, verdict.technique, RepairRequest.of_verdict(verdict, KIND))


@pytest.mark.parametrize("source", ["aws.guardduty", "aws.securityhub"])
@pytest.mark.parametrize(("role", "account"), [("delegated-admin", MEMBER), ("owner", MANAGEMENT)])
def test_a_finding_about_another_accounts_trail_is_verified_and_reported_not_failed(
    cloudtrail: Stubber,  # noqa: F811
    role: str,
    account: str,
    source: str,
) -> None:
    _, outcome = judged_and_repaired(cloudtrail, source, role, account, [ORG_ENTRY])

    assert outcome.status == "routed", outcome.summary
    assert [c.operation for c in outcome.calls] == ["DescribeTrails", "GetTrailStatus"]
    assert OTHER in outcome.summary and "could not be verified" in outcome.summary, outcome.summary
    assert "not an organization trail" in outcome.summary and "deleted" not in outcome.summary
    assert "REPAIR FAILED" not in outcome.summary


def twin(account: str) -> dict[str, Any]:
    """The stack account's own trail of the same name as OTHER's (a StackSet deploys the same trail in
    every account), logging and listed."""
    return {
        "Name": "workload-trail",
        "TrailARN": f"arn:aws:cloudtrail:{REGION}:{account}:trail/workload-trail",
        "HomeRegion": REGION,
        "IsOrganizationTrail": False,
        "IsMultiRegionTrail": True,
        "S3BucketName": "workload-trail-logs",
    }


@pytest.mark.parametrize("source", ["aws.guardduty", "aws.securityhub"])
@pytest.mark.parametrize(("role", "account"), [("delegated-admin", MEMBER), ("owner", MANAGEMENT)])
def test_a_finding_about_another_accounts_trail_is_not_judged_by_the_local_trail_of_its_name(
    cloudtrail: Stubber,  # noqa: F811
    role: str,
    account: str,
    source: str,
) -> None:
    """The administrator's own ``workload-trail`` is listed and logging: matched by name, it made the
    finding about OTHER's ``workload-trail`` an ALREADY RESTORED about the wrong trail. The verdict names
    OTHER's trail, and the repair reads only that one (the Stubber refuses a call on the local one)."""
    verdict, outcome = judged_and_repaired(cloudtrail, source, role, account, [ORG_ENTRY, twin(account)])
    assert OTHER in verdict.reason

    assert outcome.status == "routed", outcome.summary
    assert [c.operation for c in outcome.calls] == ["DescribeTrails", "GetTrailStatus"]
    assert f"repair routed to account {OTHER}" in outcome.summary, outcome.summary
    assert twin(account)["TrailARN"] not in outcome.summary


def test_a_finding_naming_another_accounts_trail_by_name_is_routed_to_that_account() -> None:
    """A bare name (GuardDuty's own samples name trails so) in another account's finding is that
    account's trail: its ARN in the finding's account and region, never the local one of that name."""
    from trailguard.remediate.trail import organization_trail

    settings = config("owner", MANAGEMENT)
    ctx = Context(build(settings, REGION, [twin(MANAGEMENT)]), config=settings, verify_attempts=1)
    local = twin(MANAGEMENT)["TrailARN"]
    assert organization_trail(ctx, "workload-trail", REGION, finding_account=OTHER) == (
        OTHER_TRAIL,
        REGION,
        False,
    )
    assert organization_trail(ctx, OTHER_TRAIL, REGION, finding_account=OTHER) == (OTHER_TRAIL, REGION, False)
    assert organization_trail(ctx, local, REGION, finding_account=OTHER) is None  # the listed ARN: ours
    assert organization_trail(ctx, "workload-trail", REGION, finding_account=MANAGEMENT) is None
    assert organization_trail(ctx, "workload-trail", REGION) is None  # a CloudTrail call: as before


@pytest.mark.parametrize("stopped", [True, False], ids=["local-stopped", "local-logging"])
def test_the_real_sample_finding_of_its_own_account_leaves_the_local_trail_of_its_name_alone(
    cloud: Cloud, stopped: bool
) -> None:
    """GuardDuty's real sample finding, untouched: raised in account 973743533182, naming its trail by
    name only. This stack (moto's account) has a trail of that name: the finding is not about it, so
    it is neither restarted (a false REPAIRED) nor found logging (a false ALREADY RESTORED); the finding
    is routed to account 973743533182, whose stack repairs it. The verification by ARN gets moto's
    TrailNotFound for another account's trail (moto has no cross-account reads): "could not be
    verified"."""
    raw = load_event(SAMPLE)
    sample_account = raw["accountId"]
    assert sample_account != ACCOUNT
    name = raw["service"]["action"]["awsApiCallAction"]["affectedResources"]["AWS::CloudTrail::Trail"]
    region = moto_region(raw["region"])
    cloud.create_trail(name, region)
    if stopped:
        cloud.stop(name, region)

    result = cloud.invoke(handlers.finding, envelopes.guardduty(raw, keep_spelling=True), region)

    assert cloud.is_logging(name, region) is not stopped  # the local trail is left as it was
    (incident,) = result["incidents"]
    assert incident["technique"] == "finding.trail-disabled"
    assert incident["status"] == "routed", incident
    assert incident["resource"] == f"arn:aws:cloudtrail:{raw['region']}:{sample_account}:trail/{name}"
    (message,) = cloud.messages()
    assert "ALREADY RESTORED" not in message["_sns_subject"] and "REPAIRED" not in message["_sns_subject"]
    assert sample_account in message["text"]
    calls = message["incident"]["remediation"]["calls"]
    assert {c["operation"] for c in calls} <= {"DescribeTrails", "GetTrailStatus"}


def test_the_administrators_own_trail_named_in_its_own_finding_is_still_repaired() -> None:
    """The route applies to another account's findings only: the stack's own finding about a trail it
    cannot list (just deleted) still goes to the repair, not to verification."""
    from trailguard.remediate.trail import organization_trail

    settings = config("delegated-admin", MEMBER)
    ctx = Context(build(settings, REGION, [ORG_ENTRY]), config=settings, verify_attempts=1)
    own = f"arn:aws:cloudtrail:{REGION}:{MEMBER}:trail/gone"
    assert organization_trail(ctx, own, REGION, finding_account=MEMBER) is None
    assert organization_trail(ctx, ORG_ENTRY["TrailARN"], REGION, finding_account=OTHER) is None
    assert organization_trail(ctx, OTHER_TRAIL, REGION, finding_account=OTHER) == (OTHER_TRAIL, REGION, False)
    assert organization_trail(ctx, OTHER_TRAIL, REGION) is None  # a call: the role decides, as before


# ------------------------------------------------------------------------------- the central function


def test_the_central_function_leaves_a_finding_about_a_trail_it_cannot_see_to_its_own_account(
    org: Org,  # noqa: F811
) -> None:
    """A finding naming a management account's trail the delegated administrator does not list (a
    trail of that account that is not an organization trail: only organization trails are visible from
    the security account) is not an organization trail the central function repairs: no "no longer
    exists" REPAIR FAILED. A deleted organization trail is still reported, from the forwarded DeleteTrail
    (tests/org/test_central.py) and by the backstop. In-process moto, as tests/org/test_central.py: the
    unlisted trail stands for the one the security account cannot see."""
    unseen = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/management-own-trail"
    call = {
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "recipientAccountId": ACCOUNT,
        "awsRegion": REGION,
        "requestParameters": {"name": unseen},
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/attacker",
            "accountId": ACCOUNT,
        },
        "eventID": "3f1c5a4e-0000-4000-8000-000000000002",
        "eventTime": "2026-12-02T00:00:00Z",
    }
    for event in findings_for(call):
        result = org.invoke(event)
        assert result["incidents"] == [] and result["skipped"] == [], result
    assert org.messages() == []
    assert org.logging()  # the organization trail itself was never touched
