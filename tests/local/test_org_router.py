"""The local cloud's organization mode across accounts: where a CloudTrail event is delivered, what a
rule forwarding to another account's bus delivers, what a member may do to the organization trail,
and cross-account SNS publish.

moto lacks all of it (docs/local-cloud.md, "Organization mode"): rule targets of type Lambda and SNS,
the sender's ``account``/``region`` on a forwarded event (moto rewrites both and drops ``resources``),
bus and topic policies (never evaluated), shadow trails, and the ``AccessDeniedException`` a member
gets for changing the organization trail (moto answers ``TrailNotFoundException``). These tests run
against the local cloud's emulation of them (``trailguard.local.orggate``, the router's event-bus
delivery), with no trailguard stack deployed, so what they see is the plumbing alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from localcloud_sample_handler import CALLS

from trailguard.local import orgworld
from trailguard.local.org import MEMBER, SECURITY
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration

AWS_CLI = Path(sys.executable).parent / "aws"
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
TRAIL_CALLS = {"source": ["aws.cloudtrail"], "detail": {"eventName": ["StopLogging", "StartLogging"]}}


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, orgworld.OrgWorld]]:
    base = tmp_path_factory.mktemp("orgcloud")
    cloud = LocalCloud(outbox_dir=base / "outbox", finding_delay=None).start()
    try:
        yield cloud, orgworld.build(cloud, progress=lambda _line: None, stacks=())
    finally:
        cloud.stop()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _env(account: orgworld.OrgAccount | None) -> dict[str, str] | None:
    return None if account is None or account.role == "management" else account.environ


def _attacker(account: orgworld.OrgAccount) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": account.attacker.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.attacker.secret_access_key,
    }


def _queue_rule(
    cloud: LocalCloud, account: orgworld.OrgAccount, pattern: dict[str, Any], bus: str = "default"
) -> str:
    """A rule on ``bus`` of ``account`` that puts what it matches on a new SQS queue; the queue URL."""
    env = _env(account)
    sqs, events = cloud.client("sqs", env), cloud.client("events", env)
    queue = _name("q")
    url = str(sqs.create_queue(QueueName=queue)["QueueUrl"])
    rule = _name("rule")
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
    arn = f"arn:aws:sqs:{cloud.region}:{account.id}:{queue}"
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return url


def _received(cloud: LocalCloud, account: orgworld.OrgAccount, url: str) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs", _env(account))
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in found]


def _org_bus(cloud: LocalCloud, security: orgworld.OrgAccount, org_id: str) -> str:
    """A bus in the security account whose policy grants PutEvents to the organization."""
    events = cloud.client("events", security.environ)
    name = _name("org-bus")
    arn = str(events.create_event_bus(Name=name)["EventBusArn"])
    events.put_permission(
        EventBusName=name,
        Action="events:PutEvents",
        Principal="*",
        StatementId="organization",
        Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": org_id},
    )
    return arn


def _forward_rule(
    cloud: LocalCloud, account: orgworld.OrgAccount, bus_arn: str, *, role: bool = True, bus: str = "default"
) -> None:
    env = _env(account)
    iam, events = cloud.client("iam", env), cloud.client("events", env)
    target: dict[str, Any] = {"Id": "bus", "Arn": bus_arn}
    if role:
        trust = LAMBDA_TRUST.replace("lambda.amazonaws.com", "events.amazonaws.com")
        role_arn = iam.create_role(RoleName=_name("fwd"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        target["RoleArn"] = role_arn
    rule = _name("fwd")
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(TRAIL_CALLS), State="ENABLED")
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[target])


def _stop_and_restart(cloud: LocalCloud, member: orgworld.OrgAccount) -> list[dict[str, Any]]:
    """The member's attacker stops the member's own trail, its admin restarts it; the envelopes."""
    seen = len(cloud.recorder.envelopes)
    cloud.client("cloudtrail", _attacker(member)).stop_logging(Name=orgworld.MEMBER_TRAIL)
    cloud.client("cloudtrail", member.environ).start_logging(Name=orgworld.MEMBER_TRAIL)
    assert cloud.wait_idle(15)
    return [e for e in list(cloud.recorder.envelopes)[seen:] if e["detail"]["eventName"] == "StopLogging"]


def test_a_call_reaches_only_the_default_bus_of_the_account_that_made_it(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    cloud, world = org
    member, other = world.account(MEMBER, 0), world.account(MEMBER, 1)
    queues = {a.id: _queue_rule(cloud, a, TRAIL_CALLS) for a in world.accounts}
    [envelope] = _stop_and_restart(cloud, member)
    assert envelope["account"] == envelope["detail"]["recipientAccountId"] == member.id
    got = {a.id: _received(cloud, a, queues[a.id]) for a in world.accounts}
    assert [e["detail"]["eventName"] for e in got[member.id]] == ["StopLogging", "StartLogging"]
    # The organization trail logs the member's calls too, but EventBridge delivers them only in the
    # account that made them: the management account (the trail's owner) and the others see nothing.
    assert got[world.organization.management] == got[other.id] == got[world.account(SECURITY).id] == []


def test_a_rule_forwards_to_another_accounts_bus_with_the_payload_unchanged(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    """The receiving bus's rules see the event as the sender's bus had it: same id, the sender's
    ``account`` and ``region``, the same detail; a Lambda target there runs with it (moto: neither)."""
    cloud, world = org
    member, security = world.account(MEMBER, 0), world.account(SECURITY)
    bus_arn = _org_bus(cloud, security, world.organization.id)
    bus = bus_arn.rsplit("/", 1)[1]
    url = _queue_rule(cloud, security, TRAIL_CALLS, bus=bus)
    function_arn = _function_rule(cloud, security, bus)
    _forward_rule(cloud, member, bus_arn)
    CALLS.clear()
    [envelope] = _stop_and_restart(cloud, member)
    received = [e for e in _received(cloud, security, url) if e["detail"]["eventName"] == "StopLogging"]
    assert received == [envelope]
    assert received[0]["account"] == member.id != security.id
    [call] = [c for c in CALLS if c["event"].get("id") == envelope["id"]]
    assert call["event"] == envelope
    assert call["caller"].startswith(f"arn:aws:sts::{security.id}:assumed-role/")
    [inv] = [i for i in cloud.invocations if i.event_id == envelope["id"]]
    assert inv.invoked and inv.function_arn == function_arn


def _function_rule(cloud: LocalCloud, account: orgworld.OrgAccount, bus: str) -> str:
    """The sample handler as a Lambda target of a rule on ``bus`` of ``account``; its ARN."""
    import io
    import zipfile

    env = _env(account)
    iam, lam, events = cloud.client("iam", env), cloud.client("lambda", env), cloud.client("events", env)
    role = iam.create_role(RoleName=_name("fn"), AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("placeholder.py", "# the runner imports the handler from this venv\n")
    name = _name("fn")
    fn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="localcloud_sample_handler.handle",
        Code={"ZipFile": buf.getvalue()},
    )
    rule = _name("fn")
    rule_arn = events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(TRAIL_CALLS))["RuleArn"]
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "fn", "Arn": fn["FunctionArn"]}])
    lam.add_permission(
        FunctionName=name,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    return str(fn["FunctionArn"])


def test_forwarding_needs_the_receiving_bus_policy_and_a_role_and_happens_once(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    """A bus with no policy refuses another account's events; a grant to the organization needs the
    sender's target to carry a RoleArn; a forwarded event is not forwarded again (eb-bus-to-bus)."""
    cloud, world = org
    member, other, security = world.account(MEMBER, 0), world.account(MEMBER, 1), world.account(SECURITY)
    events = cloud.client("events", security.environ)
    closed = _name("closed")
    closed_arn = str(events.create_event_bus(Name=closed)["EventBusArn"])
    closed_url = _queue_rule(cloud, security, TRAIL_CALLS, bus=closed)
    _forward_rule(cloud, member, closed_arn)

    open_arn = _org_bus(cloud, security, world.organization.id)
    open_url = _queue_rule(cloud, security, TRAIL_CALLS, bus=open_arn.rsplit("/", 1)[1])
    _forward_rule(cloud, member, open_arn, role=False)

    # A second hop, from the organization bus on to the other member's organization-wide bus.
    third_arn = _org_bus(cloud, other, world.organization.id)
    third_url = _queue_rule(cloud, other, TRAIL_CALLS, bus=third_arn.rsplit("/", 1)[1])
    _forward_rule(cloud, security, third_arn, bus=open_arn.rsplit("/", 1)[1])
    _forward_rule(cloud, member, open_arn)  # the one allowed path: org grant plus RoleArn

    [envelope] = _stop_and_restart(cloud, member)
    assert _received(cloud, security, closed_url) == []
    opened = [
        e["id"] for e in _received(cloud, security, open_url) if e["detail"]["eventName"] == "StopLogging"
    ]
    assert opened == [envelope["id"]]  # once: the rule without a RoleArn delivered nothing
    assert _received(cloud, other, third_url) == []


def test_a_member_sees_the_organization_trail_only_as_a_shadow_trail(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    cloud, world = org
    org_trail = world.base.trail
    for member in world.accounts[1:]:
        ct = cloud.client("cloudtrail", member.environ)
        listed = {t["TrailARN"]: t for t in ct.describe_trails()["trailList"]}
        assert listed[org_trail.arn]["IsOrganizationTrail"] is True
        assert listed[org_trail.arn]["HomeRegion"] == cloud.region
        own = [t["TrailARN"] for t in ct.describe_trails(includeShadowTrails=False)["trailList"]]
        assert org_trail.arn not in own
        assert own == [t.arn for t in member.trails]
        assert ct.get_trail_status(Name=org_trail.arn)["IsLogging"] is True
        assert ct.get_trail(Name=org_trail.arn)["Trail"]["KmsKeyId"] == org_trail.kms_key_id
        selectors = ct.get_event_selectors(TrailName=org_trail.arn)
        assert selectors["TrailARN"] == org_trail.arn
        assert selectors["EventSelectors"][0]["IncludeManagementEvents"] is True
        assert org_trail.arn in [t["TrailARN"] for t in ct.list_trails()["Trails"]]
    from trailguard import aws

    with aws.using_environ({**cloud.admin_environ, **world.account(MEMBER, 1).environ}):
        elsewhere = aws.client("cloudtrail", "eu-west-1", endpoint_url=cloud.endpoint)
    shadow = [t for t in elsewhere.describe_trails()["trailList"] if t["TrailARN"] == org_trail.arn]
    assert [t["HomeRegion"] for t in shadow] == [cloud.region]  # multi-region: a shadow in every region
    mine = cloud.client("cloudtrail").describe_trails()["trailList"]
    assert [t["TrailARN"] for t in mine] == [org_trail.arn]  # the owner: once, as moto has it


def test_a_members_stop_logging_on_the_organization_trail_is_denied_with_the_real_cli(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    """With the real AWS CLI as the member's attacker: refused, recorded in the member's account with
    its errorCode (delivered on the member's bus, as an attempt), and the trail still logs. UpdateTrail
    and DeleteTrail are refused the same way and change nothing."""
    cloud, world = org
    member = world.account(MEMBER, 1)
    org_trail = world.base.trail
    url = _queue_rule(cloud, member, {"source": ["aws.cloudtrail"]})
    owner_url = _queue_rule(cloud, world.accounts[0], {"source": ["aws.cloudtrail"]})
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        _attacker(member),
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    cmd = [str(AWS_CLI), "--endpoint-url", cloud.endpoint, "--region", cloud.region]
    done = subprocess.run(
        [*cmd, "cloudtrail", "stop-logging", "--name", org_trail.arn],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "AccessDeniedException" in done.stderr
    attacker = cloud.client("cloudtrail", _attacker(member))
    before = cloud.client("cloudtrail").get_trail(Name=org_trail.name)["Trail"]
    for call in (
        lambda: attacker.update_trail(Name=org_trail.arn, S3BucketName="elsewhere"),
        lambda: attacker.delete_trail(Name=org_trail.arn),
    ):
        with pytest.raises(attacker.exceptions.ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert cloud.wait_idle(15)
    owner_ct = cloud.client("cloudtrail")
    assert owner_ct.get_trail_status(Name=org_trail.name)["IsLogging"] is True
    assert owner_ct.get_trail(Name=org_trail.name)["Trail"] == before
    records = [r for r in cloud.recorder.records if r["userIdentity"].get("arn") == member.attacker.arn]
    assert [(r["eventName"], r["errorCode"], r["recipientAccountId"]) for r in records] == [
        ("StopLogging", "AccessDeniedException", member.id),
        ("UpdateTrail", "AccessDeniedException", member.id),
        ("DeleteTrail", "AccessDeniedException", member.id),
    ]
    assert "is not authorized to perform: cloudtrail:StopLogging" in records[0]["errorMessage"]
    names = [e["detail"]["eventName"] for e in _received(cloud, member, url)]
    assert names == ["StopLogging", "UpdateTrail", "DeleteTrail"]
    assert _received(cloud, world.accounts[0], owner_url) == []


def test_the_security_account_stops_and_starts_the_organization_trail_in_its_home_region_only(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    """The security account stands in for CloudTrail's delegated administrator (moto has none)."""
    cloud, world = org
    security = world.account(SECURITY)
    org_trail = world.base.trail
    ct = cloud.client("cloudtrail", security.environ)
    owner = cloud.client("cloudtrail")
    try:
        ct.stop_logging(Name=org_trail.arn)
        assert owner.get_trail_status(Name=org_trail.name)["IsLogging"] is False
    finally:
        ct.start_logging(Name=org_trail.arn)
    assert owner.get_trail_status(Name=org_trail.name)["IsLogging"] is True
    from trailguard import aws

    with aws.using_environ({**cloud.admin_environ, **security.environ}):
        elsewhere = aws.client("cloudtrail", "eu-west-1", endpoint_url=cloud.endpoint)
    with pytest.raises(elsewhere.exceptions.ClientError) as refused:
        elsewhere.stop_logging(Name=org_trail.arn)
    assert refused.value.response["Error"]["Code"] == "InvalidHomeRegionException"
    assert owner.get_trail_status(Name=org_trail.name)["IsLogging"] is True
    assert cloud.wait_idle(15)


def test_cross_account_publish_reaches_a_topic_only_if_its_policy_allows_the_organization(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    cloud, world = org
    member, security = world.account(MEMBER, 0), world.account(SECURITY)
    sns = cloud.client("sns", security.environ)
    shared = str(sns.create_topic(Name=_name("org-alerts"))["TopicArn"])
    private = str(sns.create_topic(Name=_name("private"))["TopicArn"])
    for topic in (shared, private):
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="secops@example.com")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sns:Publish",
                "Resource": shared,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": world.organization.id}},
            }
        ],
    }
    sns.set_topic_attributes(TopicArn=shared, AttributeName="Policy", AttributeValue=json.dumps(policy))
    publisher = cloud.client("sns", member.environ)
    seen = len(cloud.outbox.emails())
    publisher.publish(TopicArn=shared, Subject="from a member", Message="shared")
    with pytest.raises(publisher.exceptions.ClientError) as refused:
        publisher.publish(TopicArn=private, Subject="from a member", Message="private")
    assert refused.value.response["Error"]["Code"] == "AuthorizationError"
    time.sleep(0.1)
    emails = cloud.outbox.emails()[seen:]
    assert [(e["topic_arn"], e["body"]) for e in emails] == [(shared, "shared")]


def test_an_event_put_on_a_members_bus_is_forwarded_as_put(org: tuple[LocalCloud, orgworld.OrgWorld]) -> None:
    """``PutEvents`` on a member's default bus (how a function would hand an incident on): the forward
    rule delivers it to the organization bus with the member's ``account`` and the detail as put
    (moto's own forwarding re-puts it in the receiver's account)."""
    cloud, world = org
    member, security = world.account(MEMBER, 1), world.account(SECURITY)
    bus_arn = _org_bus(cloud, security, world.organization.id)
    pattern = {"source": ["trailguard.test"], "detail-type": ["incident"]}
    url = _queue_rule(cloud, security, pattern, bus=bus_arn.rsplit("/", 1)[1])
    events = cloud.client("events", member.environ)
    trust = LAMBDA_TRUST.replace("lambda.amazonaws.com", "events.amazonaws.com")
    role = cloud.client("iam", member.environ).create_role(
        RoleName=_name("fwd"), AssumeRolePolicyDocument=trust
    )
    rule = _name("incidents")
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule, Targets=[{"Id": "org", "Arn": bus_arn, "RoleArn": role["Role"]["Arn"]}])
    detail = {"account": member.id, "status": "routed", "resource": world.base.trail.arn}
    put = events.put_events(
        Entries=[{"Source": "trailguard.test", "DetailType": "incident", "Detail": json.dumps(detail)}]
    )
    assert put["FailedEntryCount"] == 0
    assert cloud.wait_idle(15)
    [got] = _received(cloud, security, url)
    assert (got["account"], got["region"], got["source"], got["detail"]) == (
        member.id,
        cloud.region,
        "trailguard.test",
        detail,
    )
    assert got["id"] == put["Entries"][0]["EventId"]


def test_without_an_organization_the_gate_leaves_every_call_to_moto(
    org: tuple[LocalCloud, orgworld.OrgWorld],
) -> None:
    """The single-account local cloud has no organization: the same member call then gets moto's own
    answer (TrailNotFoundException: moto knows only the caller's trails), as before this mode existed."""
    cloud, world = org
    member = world.account(MEMBER, 1)
    organization, cloud.organization = cloud.organization, None
    try:
        ct = cloud.client("cloudtrail", _attacker(member))
        with pytest.raises(ct.exceptions.ClientError) as answered:
            ct.stop_logging(Name=world.base.trail.arn)
        assert answered.value.response["Error"]["Code"] == "TrailNotFoundException"
        assert world.base.trail.arn not in [t["TrailARN"] for t in ct.describe_trails()["trailList"]]
    finally:
        cloud.organization = organization
    assert cloud.wait_idle(15)
