"""The central stack's pure policy (``trailguard.org.central``): the bus policy document, what an
invocation carries, members' messages and when they escalate, an organization trail's gaps."""

from __future__ import annotations

import json

import pytest

from trailguard.org import central as policy

ORG = "o-a1b2c3d4e5"
BUS = "arn:aws:events:us-east-1:222233334444:event-bus/trailguard-org"
MANAGEMENT = "123456789012"
ORG_TRAIL = f"arn:aws:cloudtrail:us-east-1:{MANAGEMENT}:trail/org-trail"


def test_the_bus_policy_lets_the_organization_put_events_and_nobody_else() -> None:
    document = policy.bus_policy(ORG, BUS)
    (statement,) = document["Statement"]
    assert statement["Action"] == "events:PutEvents" and statement["Resource"] == BUS
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    assert policy.bus_policy_holds(json.dumps(document), ORG, BUS)
    assert not policy.bus_policy_holds(json.dumps(policy.bus_policy("o-zzzzzzzzzz", BUS)), ORG, BUS)
    assert not policy.bus_policy_holds(None, ORG, BUS)
    assert not policy.bus_policy_holds("not json", ORG, BUS)
    widened = json.loads(json.dumps(document))
    del widened["Statement"][0]["Condition"]
    assert not policy.bus_policy_holds(widened, ORG, BUS)
    wider = json.loads(json.dumps(document))
    wider["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": BUS}
    )
    assert not policy.bus_policy_holds(wider, ORG, BUS)  # an outsider could forge forwarded calls
    denied = json.loads(json.dumps(document))
    denied["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "events:*", "Resource": BUS})
    assert policy.bus_policy_holds(denied, ORG, BUS)
    # as PutPermission writes it (deploy --org sets it by API): any statement id, Principal "*"
    by_api = {"Version": "2012-10-17", "Statement": [{**document["Statement"][0], "Sid": "other-id"}]}
    assert policy.bus_policy_holds(json.dumps(by_api), ORG, BUS)
    with pytest.raises(ValueError):
        policy.bus_policy("123456789012", BUS)


def test_what_an_invocation_carries() -> None:
    assert policy.entry_kind({"detail-type": "Scheduled Event", "source": "aws.events"}) == "schedule"
    assert policy.entry_kind({"Records": [{"EventSource": "aws:sns", "Sns": {}}]}) == "sns"
    assert policy.entry_kind({"detail-type": "AWS API Call via CloudTrail", "detail": {}}) == "events"
    assert policy.entry_kind({"Records": [{"eventName": "StopLogging"}]}) == "unknown"  # a log file
    assert policy.entry_kind([]) == "unknown"


def _incident(status: str, summary: str = "", handler: str = "api_call") -> str:
    return json.dumps(
        {
            "schema": policy.INCIDENT_SCHEMA,
            "incident": {
                "status": status,
                "resource": ORG_TRAIL,
                "account": "111122223333",
                "region": "eu-west-1",
                "remediation": {"summary": summary, "errors": []},
                "detected_by": {"handler": handler},
            },
        }
    )


def _one(text: str) -> policy.MemberReport:
    read = policy.read_message(text)
    assert isinstance(read, list) and len(read) == 1, read
    return read[0]


def test_members_messages_escalate_when_routed_or_unverified_only() -> None:
    routed = _one(_incident("routed"))
    assert routed.account == "111122223333" and policy.escalation_reason(routed)
    unverified = _one(_incident("failed", "started trail x but could not verify that it is logging"))
    assert policy.escalation_reason(unverified)
    assert policy.escalation_reason(_one(_incident("remediated", "restarted logging"))) is None
    assert policy.read_message(_incident("routed", handler=policy.HANDLER)) == []  # its own
    assert policy.read_message(json.dumps({"schema": policy.SCHEMA})) == []
    assert isinstance(policy.read_message("{"), str)
    assert isinstance(policy.read_message(None), str)


def _sweep(*outcomes: dict[str, str], kind: str = "trail") -> str:
    return json.dumps(
        {
            "schema": policy.SWEEP_SCHEMA,
            "account": "111122223333",
            "region": "eu-west-1",
            "drift": [{"kind": kind, "id": ORG_TRAIL, "outcomes": list(outcomes)}],
        }
    )


def test_a_members_sweep_escalates_its_routed_trails_and_the_centrals_own_never() -> None:
    routed = _one(_sweep({"action": "trail.reconcile", "status": "routed", "summary": "is NOT logging"}))
    assert routed.resource == ORG_TRAIL and routed.account == "111122223333"
    assert policy.escalation_reason(routed)
    repaired = _one(_sweep({"action": "trail.reconcile", "status": "remediated", "summary": "restarted"}))
    assert policy.escalation_reason(repaired) is None
    assert policy.read_message(_sweep({"action": "key.enable", "status": "routed"}, kind="key")) == []
    own = {"action": "central.backstop", "status": "failed", "summary": "could not verify"}
    assert policy.read_message(_sweep(own)) == []


def test_escalation_targets_only_a_listed_or_management_trail() -> None:
    report = _one(_incident("routed"))
    listed = [{"Name": "org-trail", "TrailARN": ORG_TRAIL}]
    assert policy.escalation_target(report, listed) == listed[0]
    assert policy.escalation_target(report, []) is None
    assert policy.names_org_trail(ORG_TRAIL, MANAGEMENT)
    assert not policy.names_org_trail("arn:aws:cloudtrail:us-east-1:111122223333:trail/x", MANAGEMENT)
    assert not policy.names_org_trail("org-trail", MANAGEMENT)


def test_an_org_trail_is_the_management_accounts_and_flagged() -> None:
    assert policy.is_org_trail({"TrailARN": ORG_TRAIL, "IsOrganizationTrail": True}, MANAGEMENT)
    assert not policy.is_org_trail({"TrailARN": ORG_TRAIL, "IsOrganizationTrail": False}, MANAGEMENT)
    other = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail"
    assert not policy.is_org_trail({"TrailARN": other, "IsOrganizationTrail": True}, MANAGEMENT)
    assert not policy.is_org_trail({"TrailARN": ORG_TRAIL, "IsOrganizationTrail": True}, None)


def test_the_gaps_of_an_org_trail_against_the_floor_and_a_recorded_state() -> None:
    good = {
        "Name": "org-trail",
        "TrailARN": ORG_TRAIL,
        "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
        "LogFileValidationEnabled": True,
        "CloudWatchLogsLogGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:g:*",
    }
    assert policy.trail_gaps(good) == []
    weak = {"Name": "org-trail", "TrailARN": ORG_TRAIL, "LogFileValidationEnabled": False}
    gaps = {g.field: g for g in policy.trail_gaps(weak)}
    assert set(gaps) == {"KmsKeyId", "LogFileValidationEnabled", "CloudWatchLogsLogGroupArn"}
    assert gaps["LogFileValidationEnabled"].fix == ("EnableLogFileValidation", True)
    assert gaps["KmsKeyId"].fix is None and gaps["CloudWatchLogsLogGroupArn"].fix is None
    # a recorded state without CloudWatch Logs does not ask for it
    recorded = {k: v for k, v in good.items() if k != "CloudWatchLogsLogGroupArn"}
    no_logs = {k: v for k, v in good.items() if k != "CloudWatchLogsLogGroupArn"}
    assert policy.trail_gaps(no_logs, recorded) == []


# ------------------------------------------------------------------------ one voice, the owner's repairs


def test_the_central_function_is_the_fallback_unless_the_trail_is_still_broken() -> None:
    assert policy.fallback("attempt", "attempted") == "unless-told"
    assert policy.fallback("tamper", "already-restored") == "unless-told"
    for status in ("remediated", "failed", "partial", "routed"):
        assert policy.fallback("tamper", status) == "tell"


LIVE = {
    "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/org",
    "S3BucketName": "org-logs",
    "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k-1",
    "LogFileValidationEnabled": True,
}


@pytest.mark.parametrize(
    ("restored", "request_params", "as_restored"),
    [
        ({"S3BucketName": "org-logs"}, {"name": "org", "s3BucketName": "org-logs"}, True),
        ({"S3BucketName": "org-logs", "KmsKeyId": "k-1"}, {"name": "org"}, True),  # an id reads back as ARN
        ({"EnableLogFileValidation": "True"}, {"name": "org", "enableLogFileValidation": True}, True),
        ({"S3BucketName": "attacker"}, {"name": "org", "s3BucketName": "attacker"}, False),
        ({"S3BucketName": "org-logs"}, {"name": "org", "s3KeyPrefix": "elsewhere"}, False),
        ({}, {"name": "org"}, False),
    ],
)
def test_an_update_is_judged_by_the_live_trail_against_the_reported_restoration(
    restored: dict[str, str], request_params: dict[str, object], as_restored: bool
) -> None:
    assert (policy.as_restored(LIVE, restored, request_params) is None) is as_restored


def test_the_restored_values_are_the_successful_update_trail_calls_parameters() -> None:
    remediation = {
        "calls": [
            {"operation": "GetTrailStatus", "params": {"Name": "org"}},
            {
                "operation": "UpdateTrail",
                "params": {"Name": "org", "S3BucketName": "org-logs"},
                "error": None,
            },
            {"operation": "UpdateTrail", "params": {"S3KeyPrefix": "x"}, "error": "AccessDenied"},
        ]
    }
    assert policy.restored_values(remediation) == {"S3BucketName": "org-logs"}
    assert policy.restored_values(None) == {}


def test_a_members_message_gives_its_event_id() -> None:
    doc = {
        "schema": policy.INCIDENT_SCHEMA,
        "incident": {"status": "attempted", "event": {"id": "e-1"}, "detected_by": {"handler": "api_call"}},
    }
    (report,) = policy.read_message(json.dumps(doc))  # type: ignore[misc]
    assert report.event_id == "e-1"
