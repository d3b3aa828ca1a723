"""Organization-trail mode (``OrgTrailRole`` / ``TRAILGUARD_ORG_TRAIL_ROLE``): a member stack verifies the
organization trail by ARN and reports, and never changes it; owner and delegated-admin stacks repair it.

moto has no shadow trails and never refuses a member's call on an organization trail (it has no
organization trails in other accounts at all), so the replies a member gets from CloudTrail are
botocore Stubber replies here: DescribeTrails with ``includeShadowTrails`` listing the management
account's trail, GetTrailStatus by ARN answering, or AccessDenied. A Stubber fails on any call it was not
told to expect, so "no StartLogging, UpdateTrail, CreateTrail or PutEventSelectors" is checked by the
stub itself, not only by the recorded calls.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import corpus
from trailguard import aws
from trailguard.config import Config
from trailguard.events import Record
from trailguard.inventory import build
from trailguard.notify.notice import NEEDS_A_PERSON, status_head
from trailguard.policy import TECHNIQUES, classify
from trailguard.remediate import Context, RepairRequest, repair
from trailguard.remediate.trail import ROUTED, VERIFY_PERMISSIONS, route
from trailguard.resources.trail import KIND
from trailguard.sweep import reconcile

MANAGEMENT = "111111111111"
MEMBER = "222222222222"
REGION = "us-east-1"
ORG_TRAIL = f"arn:aws:cloudtrail:{REGION}:{MANAGEMENT}:trail/org-trail"
ORG_ENTRY = {
    "Name": "org-trail",
    "TrailARN": ORG_TRAIL,
    "HomeRegion": REGION,
    "IsOrganizationTrail": True,
    "IsMultiRegionTrail": True,
    "IncludeGlobalServiceEvents": True,
    "LogFileValidationEnabled": True,
    "S3BucketName": "org-trail-logs",
}
FORBIDDEN = {"StartLogging", "UpdateTrail", "CreateTrail", "PutEventSelectors", "DeleteTrail"}


def config(role: str, account: str = MEMBER) -> Config:
    return Config(
        guard_role_arns=(f"arn:aws:iam::{account}:role/trailguard-GuardRole-{REGION}",),
        topic_arn=f"arn:aws:sns:{REGION}:333333333333:trailguard-org-alerts",  # the central topic
        org_trail_role=role,
    )


def context(role: str, account: str = MEMBER) -> Context:
    settings = config(role, account)
    return Context(
        build(settings, REGION, [ORG_ENTRY]), config=settings, verify_attempts=1, sleep=lambda _: None
    )


@pytest.fixture
def cloudtrail(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Every CloudTrail client trailguard makes is this stubbed one (no endpoint is ever reached)."""
    client = boto3.client(
        "cloudtrail", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stub = Stubber(client)
    real = aws.client

    def fake(service: str, region: str | None = None, **kwargs: Any) -> Any:
        assert service == "cloudtrail", f"unexpected {service} client"
        return client

    monkeypatch.setattr(aws, "client", fake)
    with stub:
        yield stub
    stub.assert_no_pending_responses()
    del real


def expect_listed(stub: Stubber, *, listed: bool = True) -> None:
    stub.add_response(
        "describe_trails",
        {"trailList": [ORG_ENTRY] if listed else []},
        {"trailNameList": [ORG_TRAIL], "includeShadowTrails": True},
    )


def expect_status(stub: Stubber, logging_now: bool) -> None:
    stub.add_response(
        "get_trail_status",
        {"IsLogging": logging_now, "LatestDeliveryTime": datetime(2026, 12, 2, tzinfo=UTC)},
        {"Name": ORG_TRAIL},
    )


def request(technique: str = "trail.stop-logging") -> tuple[Any, RepairRequest]:
    return TECHNIQUES[technique], RepairRequest(KIND, ORG_TRAIL, "test")


def operations(outcome: Any) -> list[str]:
    return [c.operation for c in outcome.calls]


# ------------------------------------------------------------------------------------- member


@pytest.mark.parametrize(
    "technique", ["trail.stop-logging", "trail.delete", "trail.update-degrade", "trail.selectors-degrade"]
)
def test_member_routes_a_stopped_organization_trail_and_calls_nothing_that_changes_it(
    cloudtrail: Stubber, technique: str
) -> None:
    expect_listed(cloudtrail)
    expect_status(cloudtrail, logging_now=False)
    found, asked = request(technique)
    outcome = repair(context("member"), found, asked)
    assert outcome.status == "routed" and not outcome.ok
    assert operations(outcome) == ["DescribeTrails", "GetTrailStatus"]
    assert not FORBIDDEN & set(operations(outcome))
    assert {f"cloudtrail:{op}" for op in operations(outcome)} == set(VERIFY_PERMISSIONS)
    assert ROUTED in outcome.summary and "is NOT logging" in outcome.summary
    assert MANAGEMENT in outcome.summary
    if technique == "trail.stop-logging":
        assert f"start it there: aws cloudtrail start-logging --name {ORG_TRAIL}" in outcome.summary


def test_a_routed_repair_needs_a_person() -> None:
    prefix, word = status_head("routed")
    assert "routed" in NEEDS_A_PERSON
    assert prefix == "[ACTION REQUIRED]" and word == "REPAIR ROUTED"


def test_member_finds_the_organization_trail_logging_and_changes_nothing(cloudtrail: Stubber) -> None:
    expect_listed(cloudtrail)
    expect_status(cloudtrail, logging_now=True)
    outcome = repair(context("member"), *request())
    assert outcome.status == "already-restored" and outcome.ok
    assert operations(outcome) == ["DescribeTrails", "GetTrailStatus"]
    assert "IsLogging true" in outcome.summary


def test_member_denied_reading_the_status_reports_it_unverified(cloudtrail: Stubber) -> None:
    """AccessDenied on GetTrailStatus (the management account's trail, an SCP, a missing grant)."""
    expect_listed(cloudtrail)
    cloudtrail.add_client_error(
        "get_trail_status", "AccessDeniedException", "not authorized", expected_params={"Name": ORG_TRAIL}
    )
    outcome = repair(context("member"), *request())
    assert outcome.status == "routed" and outcome.verified is False
    assert "could not be verified" in outcome.summary and "get-trail-status" in outcome.summary
    assert any("AccessDenied" in e for e in outcome.errors)


def test_member_sees_the_organization_trail_gone_from_its_listing(cloudtrail: Stubber) -> None:
    expect_listed(cloudtrail, listed=False)
    cloudtrail.add_client_error(
        "get_trail_status", "TrailNotFoundException", "gone", expected_params={"Name": ORG_TRAIL}
    )
    outcome = repair(context("member"), *request("trail.delete"))
    assert outcome.status == "routed"
    assert "not listed by DescribeTrails" in outcome.summary and "start-logging" not in outcome.summary
    assert not FORBIDDEN & set(operations(outcome))


def test_members_sweep_verifies_the_organization_trail_once_and_never_repairs_it(cloudtrail: Stubber) -> None:
    """The backstop hands the trail's baseline to every technique that restores trails; in member mode
    the trail is read once and reported."""
    expect_listed(cloudtrail)
    expect_status(cloudtrail, logging_now=False)
    outcomes = reconcile(context("member"), "trail", ORG_TRAIL, dict(ORG_ENTRY))
    assert [o.status for o in outcomes] == ["routed"]
    assert operations(outcomes[0]) == ["DescribeTrails", "GetTrailStatus"]


def test_a_finding_naming_no_trail_verifies_the_organization_trail(cloudtrail: Stubber) -> None:
    """``finding.trail-disabled`` without a trail reconciles every protected trail: the organization
    trail among them is verified, not started."""
    expect_listed(cloudtrail)
    expect_status(cloudtrail, logging_now=False)
    outcome = repair(
        context("member"), TECHNIQUES["finding.trail-disabled"], RepairRequest(KIND, None, "test")
    )
    assert outcome.status == "routed" and outcome.verified is False
    assert operations(outcome) == ["DescribeTrails", "GetTrailStatus"]
    assert ROUTED in outcome.summary


def test_a_members_failed_stop_on_the_organization_trail_is_an_attempt() -> None:
    """A member's StopLogging on the organization trail is AccessDenied on its own bus: the member
    watches the trail (so the call is judged) but would never repair it."""
    raw = copy.deepcopy(corpus.load("tamper/cloudtrail_stoplogging_stratus.json"))
    raw.update(
        errorCode="AccessDenied", errorMessage="not authorized", recipientAccountId=MEMBER, awsRegion=REGION
    )
    raw["requestParameters"] = {"name": ORG_TRAIL}
    raw["userIdentity"]["accountId"] = MEMBER
    record = Record.of(raw, "cloudtrail")
    live = build(config("member"), REGION, [])
    verdict = classify(record, live.inventory_for(ORG_TRAIL, record_account=MEMBER))
    assert verdict.verdict == "attempt"
    # owner mode in a member account (today's default): another account's trail is not this stack's
    owner = build(config("owner"), REGION, [])
    assert classify(record, owner.inventory_for(ORG_TRAIL, record_account=MEMBER)).verdict != "attempt"


# ------------------------------------------------------------------------------ owner, delegated


@pytest.mark.parametrize(("role", "account"), [("owner", MANAGEMENT), ("delegated-admin", "444444444444")])
def test_owner_and_delegated_admin_repair_the_organization_trail(role: str, account: str) -> None:
    """Not routed: the trail's own action runs (no call is made by the router itself)."""
    _technique, asked = request()
    assert route(context(role, account), asked) is None
    live = build(config(role, account), REGION, [])
    assert live.inventory_for(ORG_TRAIL, record_account=account).trails, "the trail is judged as protected"


def test_a_member_still_repairs_its_own_trails() -> None:
    own = f"arn:aws:cloudtrail:{REGION}:{MEMBER}:trail/local"
    assert route(context("member"), RepairRequest(KIND, own, "test")) is None
    assert route(context("member"), RepairRequest(KIND, "local", "test")) is None


def test_the_function_reads_its_role_from_the_environment() -> None:
    assert Config.from_env({"TRAILGUARD_ORG_TRAIL_ROLE": " Member "}).org_trail_role == "member"
    assert (
        Config.from_env({"TRAILGUARD_ORG_TRAIL_ROLE": "delegated-admin"}).org_trail_role == "delegated-admin"
    )
    assert Config.from_env({}).org_trail_role == "owner"
    assert Config.from_env({"TRAILGUARD_ORG_TRAIL_ROLE": "root"}).org_trail_role == "owner"


def test_the_account_is_the_stacks_own_with_a_central_topic() -> None:
    """With AlertTopicArn the topic is the security account's: the account comes from the role."""
    assert config("member").account == MEMBER
    assert config("member").topic_arns == (), "the central topic is the central stack's to guard"
    local = Config(
        topic_arn=f"arn:aws:sns:{REGION}:{MEMBER}:trailguard-alerts",
        guard_role_arns=config("member").guard_role_arns,
    )
    assert local.topic_arns == (local.topic_arn,)


def test_the_message_of_a_routed_repair_says_so_and_asks_a_person(cloudtrail: Stubber) -> None:
    """What the security team reads: the subject is ACTION REQUIRED, the body names the owner and the
    command to run there, and claims no verified repair."""
    from trailguard.notify.notice import Incident
    from trailguard.notify.renderer import render, subject_for
    from trailguard.policy import Verdict

    expect_listed(cloudtrail)
    expect_status(cloudtrail, logging_now=False)
    outcome = repair(context("member"), *request())
    raw = copy.deepcopy(corpus.load("tamper/cloudtrail_stoplogging_stratus.json"))
    raw["requestParameters"] = {"name": ORG_TRAIL}
    verdict = Verdict("tamper", "trail.stop-logging", ORG_TRAIL, None, "x.")
    incident = Incident(verdict, Record.of(raw, "cloudtrail"), "finding", REGION, MEMBER, outcome)
    assert incident.action_required
    subject = subject_for(incident)
    assert subject.startswith("[ACTION REQUIRED] REPAIR ROUTED: StopLogging on"), subject
    text = render(incident).text
    assert ROUTED in text and "Verified: NO" in text and MANAGEMENT in text


def test_the_central_stack_escalates_what_a_members_sweep_routed(cloudtrail: Stubber) -> None:
    """The member's sweep message, as the central function reads it (``org.central.read_message``): one
    report for the organization trail, status ``routed``, which the central stack re-checks."""
    import json

    from trailguard.notify.notice import Drift, SweepFindings
    from trailguard.notify.renderer import render
    from trailguard.org.central import escalation_reason, read_message

    expect_listed(cloudtrail)
    expect_status(cloudtrail, logging_now=False)
    outcomes = reconcile(context("member"), "trail", ORG_TRAIL, dict(ORG_ENTRY))
    message = render(SweepFindings(MEMBER, REGION, {"trail": 1}, [Drift("trail", ORG_TRAIL, outcomes)]))
    assert message is not None and message.subject.startswith("[ACTION REQUIRED]")
    reports = read_message(json.dumps(message.document))
    assert not isinstance(reports, str)
    (report,) = reports
    assert (report.status, report.resource, report.account) == ("routed", ORG_TRAIL, MEMBER)
    assert escalation_reason(report) is not None
