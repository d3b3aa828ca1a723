"""The central function (``trailguard.central.handler``) on in-process moto: forwarded calls on the
organization trail, members' failed attempts, escalation of members' incidents, the organization backstop
and bad input.

moto has no CloudTrail delegated-administrator registration and no cross-account trail access: the
topology is modelled by parameter. ``TRAILGUARD_MANAGEMENT_ACCOUNT`` names moto's one account, which
holds the organization trail (``IsOrganizationTrail``) and runs the central function, as the security
account acting as delegated administrator would; members are other account ids in the payloads. The
EventBridge envelopes carry a third account, as a forwarding bus rewrites them, so a message naming the
envelope's account instead of the payload's fails.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.client
import botocore.exceptions
import pytest

import envelopes
from aws_support import ACCOUNT, REGION, Account
from permissions_support import iam_action
from trailguard import aws
from trailguard.central import handler
from trailguard.notify import NotificationError
from trailguard.notify.ledger import forget_bursts
from trailguard.org import central as policy
from trailguard.org import central_run

MEMBER = "111122223333"
"""A member account: it names the organization trail in its calls and reports incidents."""
ENVELOPE_ACCOUNT = "999988887777"
"""The account a forwarding bus writes into the envelope: never the one a message names."""
ORG_ID = "o-a1b2c3d4e5"
ORG_TRAIL = "org-trail"


class Calls:
    """Every AWS operation made while counting, as ``service:Operation`` (as tests/test_budgets.py)."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def named(self, operation: str) -> list[str]:
        return [c for c in self.made if c.endswith(f":{operation}")]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    seen = Calls()
    real = botocore.client.BaseClient._make_api_call

    def counted(client: Any, operation: str, params: Any) -> Any:
        seen.made.append(f"{client.meta.service_model.service_name}:{operation}")
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    forget_bursts()
    yield seen
    forget_bursts()


@pytest.fixture(autouse=True)
def no_grace(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The central function's grace is not waited here (a test that needs the wait interleaves it)."""
    waited: list[float] = []
    monkeypatch.setattr(central_run, "pause", waited.append)
    return waited


@dataclass
class Org:
    """moto's account as management (organization trail) and security account (central function)."""

    account: Account
    trail_arn: str
    local_arn: str
    env: dict[str, str]

    def cloudtrail(self) -> Any:
        return self.account.client("cloudtrail")

    def logging(self, arn: str | None = None) -> bool:
        return bool(self.cloudtrail().get_trail_status(Name=arn or self.trail_arn)["IsLogging"])

    def trail(self) -> dict[str, Any]:
        trails = self.cloudtrail().describe_trails(includeShadowTrails=True)["trailList"]
        return next(dict(t) for t in trails if t["TrailARN"] == self.trail_arn)

    def invoke(self, event: Any) -> dict[str, Any]:
        with aws.using_environ(self.env):
            result: dict[str, Any] = handler(event, None)
        return result

    def messages(self) -> list[dict[str, Any]]:
        return self.account.alerts.documents()


@pytest.fixture
def org(account: Account) -> Org:
    bucket = account.bucket("org-trail-logs")
    key = account.key()
    group = account.log_group("org-trail")
    role = account.role("org-trail-logs")
    trail_arn = account.trail(
        ORG_TRAIL,
        bucket,
        IsMultiRegionTrail=True,
        IsOrganizationTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key["Arn"],
        CloudWatchLogsLogGroupArn=group,
        CloudWatchLogsRoleArn=role,
    )
    local_arn = account.trail("local-trail", bucket)  # not an organization trail: never the central's
    account.security_hub()
    env = {
        **account.creds,
        "AWS_REGION": REGION,
        "TRAILGUARD_TOPIC_ARN": account.alerts.topic_arn,
        "TRAILGUARD_MANAGEMENT_ACCOUNT": ACCOUNT,
        "TRAILGUARD_ORGANIZATION_ID": ORG_ID,
        "TRAILGUARD_GUARD_ROLE_ARNS": f"arn:aws:iam::{ACCOUNT}:role/trailguard-central",
        "TRAILGUARD_FUNCTION_NAMES": policy.FUNCTION_NAME,
        "TRAILGUARD_SECURITY_HUB": "true",
    }
    return Org(account, trail_arn, local_arn, env)


def call(
    name: str,
    trail: str,
    *,
    account: str,
    error: str | None = None,
    region: str = REGION,
    **params: Any,
) -> dict[str, Any]:
    """A CloudTrail call on ``trail`` made in ``account``, as a forward rule puts it on the bus (the
    envelope rewritten to :data:`ENVELOPE_ACCOUNT`)."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account}:assumed-role/Admin/mallory",
            "accountId": account,
            "principalId": "AROAEXAMPLE:mallory",
        },
        "eventTime": "2026-12-01T00:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": trail, **params},
        "responseElements": None,
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error:
        record["errorCode"] = error
        record["errorMessage"] = f"User is not authorized to perform: cloudtrail:{name}"
    return envelopes.api_call(record, account=ENVELOPE_ACCOUNT, region="eu-central-1")


def member_message(
    status: str,
    resource: str,
    *,
    summary: str = "",
    handler_name: str = "api_call",
    event_id: str | None = None,
    account: str = MEMBER,
    verdict: str = "tamper",
) -> dict[str, Any]:
    """A member's incident document as the lambda protocol of the central topic delivers it."""
    return {
        "schema": policy.INCIDENT_SCHEMA,
        "kind": "incident",
        "subject": "[trailguard] ...",
        "text": "...",
        "incident": {
            "verdict": verdict,
            "status": status,
            "technique": "trail.stop-logging",
            "resource": resource,
            "account": account,
            "region": "eu-west-1",
            "event": {"kind": "cloudtrail", "id": event_id or str(uuid.uuid4()), "name": "StopLogging"},
            "remediation": {"action": "trail.start_logging", "status": status, "summary": summary},
            "detected_by": {"handler": handler_name, "region": "eu-west-1"},
        },
    }


def sns_event(*bodies: Any) -> dict[str, Any]:
    """SNS's Lambda event: one record per message (a body that is not a string is sent as JSON)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventSubscriptionArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{policy.TOPIC_NAME}:1",
                "Sns": {
                    "Type": "Notification",
                    "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{policy.TOPIC_NAME}",
                    "Message": body if isinstance(body, str) else json.dumps(body),
                },
            }
            for body in bodies
        ]
    }


SCHEDULE = envelopes.envelope("Scheduled Event", "aws.events", {}, account=ACCOUNT)


# ------------------------------------------------------------------------ forwarded calls


def test_a_forwarded_stop_logging_on_the_org_trail_is_restarted_verified_and_mailed_once(
    org: Org, calls: Calls
) -> None:
    org.cloudtrail().stop_logging(Name=org.trail_arn)
    calls.made.clear()

    result = org.invoke(call("StopLogging", org.trail_arn, account=MEMBER))

    assert org.logging()
    (line,) = result["incidents"]
    assert line["status"] == "remediated" and line["verified"] is True
    assert calls.named("StartLogging") == ["cloudtrail:StartLogging"]  # once: read, start, verify
    assert calls.named("GetTrailStatus")  # the verification
    (message,) = org.messages()
    assert "REPAIRED" in message["_sns_subject"]
    assert message["incident"]["account"] == MEMBER
    assert MEMBER in message["text"] and ENVELOPE_ACCOUNT not in message["text"]
    assert message["incident"]["detected_by"]["handler"] == policy.HANDLER
    assert line["security_hub"]["imported"]
    findings = org.account.client("securityhub").get_findings()["Findings"]
    assert [f["ProductFields"]["trailguard/memberAccount"] for f in findings] == [MEMBER]


def test_a_members_access_denied_attempt_is_an_attempt_with_no_repair_call(org: Org, calls: Calls) -> None:
    result = org.invoke(call("StopLogging", org.trail_arn, account=MEMBER, error="AccessDenied"))

    (line,) = result["incidents"]
    assert line["verdict"] == "attempt" and line["status"] == "attempted"
    for operation in ("StartLogging", "UpdateTrail", "CreateTrail", "GetTrailStatus"):
        assert not calls.named(operation), calls.made
    (message,) = org.messages()
    assert "ATTEMPT" in message["_sns_subject"]
    assert MEMBER in message["text"] and ENVELOPE_ACCOUNT not in message["text"]


def test_a_forwarded_update_that_drops_validation_is_switched_back_on(org: Org) -> None:
    org.cloudtrail().update_trail(Name=org.trail_arn, EnableLogFileValidation=False)

    result = org.invoke(call("UpdateTrail", org.trail_arn, account=ACCOUNT, enableLogFileValidation=False))

    (line,) = result["incidents"]
    assert line["status"] == "remediated", line
    assert org.trail()["LogFileValidationEnabled"] is True


def test_a_call_on_a_members_own_trail_is_left_to_the_members_stack(org: Org, calls: Calls) -> None:
    member_trail = f"arn:aws:cloudtrail:{REGION}:{MEMBER}:trail/local"
    org.cloudtrail().stop_logging(Name=org.local_arn)
    calls.made.clear()

    result = org.invoke(call("StopLogging", member_trail, account=MEMBER))
    local = org.invoke(call("StopLogging", org.local_arn, account=ACCOUNT))  # not an organization trail

    assert result["incidents"] == [] and local["incidents"] == []
    assert not calls.named("StartLogging")
    assert not org.logging(org.local_arn)
    assert org.messages() == []


# ------------------------------------------------------------------------ escalation


def test_a_routed_member_incident_is_re_checked_and_repaired_with_one_message(org: Org) -> None:
    org.cloudtrail().stop_logging(Name=org.trail_arn)

    result = org.invoke(sns_event(member_message("routed", org.trail_arn)))

    (line,) = result["escalations"]
    assert line["status"] == "remediated" and line["account"] == MEMBER
    assert org.logging()
    (message,) = org.messages()
    assert message["schema"] == policy.SCHEMA
    assert MEMBER in message["_sns_subject"] and "eu-west-1" in message["text"]
    assert "restarted logging" in message["text"]


def test_an_unverified_member_repair_is_re_checked_and_found_logging(org: Org, calls: Calls) -> None:
    summary = f"started trail {ORG_TRAIL} but could not verify that it is logging"

    result = org.invoke(sns_event(member_message("failed", org.trail_arn, summary=summary)))

    (line,) = result["escalations"]
    assert line["status"] == "already-restored"
    assert not calls.named("StartLogging")
    (message,) = org.messages()
    assert "is logging" in message["text"]


def test_messages_that_need_nothing_and_its_own_are_not_escalated(org: Org, calls: Calls) -> None:
    org.cloudtrail().stop_logging(Name=org.trail_arn)
    calls.made.clear()
    repaired = member_message("remediated", org.trail_arn, summary="restarted logging")
    own = member_message("routed", org.trail_arn, handler_name=policy.HANDLER)
    sweep = {"schema": "trailguard.sweep/1", "drift": []}
    escalation = {"schema": policy.SCHEMA, "kind": "escalation"}

    result = org.invoke(sns_event(repaired, own, sweep, escalation))

    assert result["escalations"] == [] and result["skipped"] == []
    assert calls.made == []
    assert org.messages() == []


# ------------------------------------------------------------------------ the organization backstop


def test_the_backstop_restarts_a_stopped_org_trail_and_re_enables_validation(org: Org) -> None:
    org.cloudtrail().stop_logging(Name=org.trail_arn)
    org.cloudtrail().update_trail(Name=org.trail_arn, EnableLogFileValidation=False)
    org.cloudtrail().stop_logging(Name=org.local_arn)

    result = org.invoke(SCHEDULE)

    report = result["backstop"]
    assert report["trails"] == 1
    (drift,) = report["drift"]
    assert drift["id"] == org.trail_arn and drift["ok"] is True
    assert org.logging() and org.trail()["LogFileValidationEnabled"] is True
    assert not org.logging(org.local_arn)  # a member-owned trail is not the central's to start
    (message,) = org.messages()
    assert org.trail_arn in json.dumps(message) and "REPAIRED" in message["_sns_subject"]


def test_the_backstop_reports_a_key_it_cannot_restore_and_is_quiet_when_all_is_well(org: Org) -> None:
    assert org.invoke(SCHEDULE)["backstop"]["drift"] == []
    assert org.messages() == []

    org.cloudtrail().update_trail(Name=org.trail_arn, KmsKeyId="")
    report = org.invoke(SCHEDULE)["backstop"]

    (drift,) = report["drift"]
    assert drift["ok"] is False
    (message,) = org.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")
    assert "no KMS key" in message["text"]


# ------------------------------------------------------------------------ bad input


def test_a_bad_entry_is_logged_and_skipped_and_the_others_still_run(
    org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    org.cloudtrail().stop_logging(Name=org.trail_arn)

    result = org.invoke(sns_event("not json {", 42, member_message("routed", org.trail_arn)))
    bad_envelope = org.invoke({"detail-type": "AWS API Call via CloudTrail", "detail": "nonsense"})

    assert [s["index"] for s in result["skipped"]] == [0, 1]
    assert "not JSON" in result["skipped"][0]["reason"]
    (line,) = result["escalations"]
    assert line["status"] == "remediated" and org.logging()
    assert bad_envelope["incidents"] == [] and len(bad_envelope["skipped"]) == 1
    assert "central.skipped" in caplog.text


# ------------------------------------------------------------------------ findings, deletion, failures


def test_a_guardduty_finding_on_the_org_trail_is_repaired_and_names_the_findings_account(org: Org) -> None:
    from aws_support import load_event

    org.cloudtrail().stop_logging(Name=org.trail_arn)
    finding = load_event("findings/guardduty_finding_sample_cloudtrailloggingdisabled_elastic.json")
    finding["accountId"], finding["region"] = MEMBER, REGION
    action = finding["service"].setdefault("action", {}).setdefault("awsApiCallAction", {})
    action["affectedResources"] = {"AWS::CloudTrail::Trail": org.trail_arn}
    finding["service"]["archived"] = False

    result = org.invoke(envelopes.guardduty(finding, account=ENVELOPE_ACCOUNT))

    (line,) = result["incidents"]
    assert line["status"] == "remediated" and org.logging()
    (message,) = org.messages()
    assert MEMBER in message["text"] and ENVELOPE_ACCOUNT not in message["text"]


def test_a_deleted_org_trail_is_reported_for_the_management_accounts_stack(org: Org, calls: Calls) -> None:
    org.cloudtrail().delete_trail(Name=ORG_TRAIL)  # by name: moto's DeleteTrail by ARN deletes nothing
    calls.made.clear()

    result = org.invoke(call("DeleteTrail", org.trail_arn, account=ACCOUNT))

    (line,) = result["incidents"]
    assert line["status"] == "failed" and line["action_required"] is True
    assert not calls.named("CreateTrail") and not calls.named("StartLogging")
    (message,) = org.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")
    assert "no longer exists" in message["text"]


def test_an_unpublished_alert_is_raised_after_the_repair(org: Org) -> None:
    org.cloudtrail().stop_logging(Name=org.trail_arn)
    org.env["TRAILGUARD_TOPIC_ARN"] = f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic"

    with pytest.raises(NotificationError):
        org.invoke(call("StopLogging", org.trail_arn, account=MEMBER))

    assert org.logging()  # the repair did not wait for the alert


def test_a_bus_policy_set_by_put_permission_as_deploy_org_does_holds_and_is_kept(
    org: Org, calls: Calls
) -> None:
    events = org.account.client("events")
    bus_arn = events.create_event_bus(Name=policy.BUS_NAME)["EventBusArn"]
    events.put_permission(
        EventBusName=policy.BUS_NAME,
        Action="events:PutEvents",
        Principal="*",
        StatementId=policy.BUS_POLICY_SID,
        Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": ORG_ID},
    )
    org.env["TRAILGUARD_ORG_BUS_ARN"] = bus_arn
    calls.made.clear()

    report = org.invoke(SCHEDULE)["backstop"]

    assert report["drift"] == [] and not calls.named("PutPermission")
    events.put_permission(
        EventBusName=policy.BUS_NAME, Action="events:PutEvents", Principal="*", StatementId="open"
    )
    report = org.invoke(SCHEDULE)["backstop"]
    (drift,) = report["drift"]
    assert drift["kind"] == "bus" and drift["ok"] is True
    restored = events.describe_event_bus(Name=policy.BUS_NAME)["Policy"]
    assert policy.bus_policy_holds(restored, ORG_ID, bus_arn) and "open" not in restored


def test_its_own_messages_fed_back_by_its_subscription_are_never_escalated(org: Org, calls: Calls) -> None:
    """The function is subscribed to the topic it publishes to: what it sent must not loop."""
    org.cloudtrail().stop_logging(Name=org.trail_arn)
    org.invoke(SCHEDULE)  # a backstop sweep's message
    org.cloudtrail().stop_logging(Name=org.trail_arn)
    org.invoke(call("StopLogging", org.trail_arn, account=MEMBER))  # an incident's
    org.cloudtrail().stop_logging(Name=org.trail_arn)
    org.invoke(sns_event(member_message("routed", org.trail_arn)))  # an escalation's
    sent = org.messages()
    assert len(sent) == 3
    org.cloudtrail().stop_logging(Name=org.trail_arn)
    calls.made.clear()
    # as if each had said what escalates a member's message: only its own marks keep it out
    docs = [{k: v for k, v in m.items() if k != "_sns_subject"} for m in sent]
    for doc in docs:
        for outcome in [d["outcomes"][0] for d in doc.get("drift", [])] + [doc.get("remediation") or {}]:
            outcome.update(status="routed", summary="could not be verified")
        if "incident" in doc:
            doc["incident"].update(status="routed")
        doc.update(status="routed")

    result = org.invoke(sns_event(*docs))

    assert result["records"] == 3 and result["escalations"] == [] and result["skipped"] == []
    assert calls.made == [] and org.messages() == []


def test_a_forwarded_redirect_of_the_org_trail_needs_a_person(org: Org) -> None:
    """The central stack keeps no baseline: it cannot say where the trail delivered before, so a
    redirect is never judged against the live trail (which already shows the new bucket)."""
    org.account.bucket("attacker-bucket")
    org.cloudtrail().update_trail(Name=org.trail_arn, S3BucketName="attacker-bucket")

    result = org.invoke(call("UpdateTrail", org.trail_arn, account=ACCOUNT, s3BucketName="attacker-bucket"))

    (line,) = result["incidents"]
    assert line["verdict"] == "tamper" and line["action_required"] is True, line
    (message,) = org.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")
    assert "management account's stack" in message["text"]


def test_many_members_reporting_one_org_trail_found_logging_send_one_message(org: Org) -> None:
    org.env["TRAILGUARD_STATE_TABLE"] = org.account.state_table()
    reports = [member_message("routed", org.trail_arn) for _ in range(3)]

    result = org.invoke(sns_event(*reports))

    assert [e["status"] for e in result["escalations"]] == ["already-restored"] * 3
    assert [e.get("notification") for e in result["escalations"]][1:] == [
        "suppressed: already found logging in this quiet window"
    ] * 2
    assert len(org.messages()) == 1
    org.cloudtrail().stop_logging(Name=org.trail_arn)  # a repair always goes out
    again = org.invoke(sns_event(member_message("routed", org.trail_arn)))
    assert [e["status"] for e in again["escalations"]] == ["remediated"]
    assert len(org.messages()) == 1


def test_every_call_the_central_function_makes_is_a_permission_it_declares(org: Org, calls: Calls) -> None:
    """Every path once (a forwarded stop, an attempt, an escalation, a backstop with drift and a bus to
    put back, the ledger on a state table): each call's IAM action is in ``PERMISSIONS`` (the template's
    role grants exactly those: tests/org/test_central_template.py)."""
    from trailguard.org.central_run import PERMISSIONS

    org.env["TRAILGUARD_STATE_TABLE"] = org.account.state_table()
    org.env["TRAILGUARD_ORG_BUS_ARN"] = org.account.client("events").create_event_bus(Name=policy.BUS_NAME)[
        "EventBusArn"
    ]
    made: set[str] = set()

    def run(event: Any, *, stop: bool = False, weaken: bool = False) -> None:
        if stop:
            org.cloudtrail().stop_logging(Name=org.trail_arn)
        if weaken:
            org.cloudtrail().update_trail(Name=org.trail_arn, EnableLogFileValidation=False)
        calls.made.clear()
        org.invoke(event)
        made.update(iam_action(*c.split(":", 1)) for c in calls.made)

    run(call("StopLogging", org.trail_arn, account=MEMBER), stop=True)
    run(call("StopLogging", org.trail_arn, account=MEMBER, error="AccessDenied"))
    run(sns_event(member_message("routed", org.trail_arn)), stop=True)
    run(SCHEDULE, stop=True, weaken=True)
    org.messages()

    undeclared = {c for c in made if c not in PERMISSIONS}
    assert not undeclared, undeclared
    for needed in (
        "cloudtrail:StartLogging",
        "cloudtrail:UpdateTrail",
        "events:PutPermission",
        "sns:Publish",
    ):
        assert needed in made


def test_when_trails_cannot_be_listed_a_stop_in_the_management_account_is_still_repaired(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DescribeTrails refused (botocore's Stubber would do as well; a patched call is enough here): the
    call's own account and region say which trail it was."""
    real = botocore.client.BaseClient._make_api_call

    def refuse_listing(client: Any, operation: str, params: Any) -> Any:
        if operation == "DescribeTrails":
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation
            )
        return real(client, operation, params)

    org.cloudtrail().stop_logging(Name=org.trail_arn)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse_listing)

    result = org.invoke(call("StopLogging", ORG_TRAIL, account=ACCOUNT))  # by name, as the owner calls it

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", real)
    assert org.logging()
    (line,) = result["incidents"]
    assert line["verdict"] == "tamper" and line["action_required"] is True  # its configuration unread
    (message,) = org.messages()
    assert "restarted logging" in message["text"].lower() and "could not be read" in message["text"]
