"""Trail repairs back to the baseline, driven through the real handlers with envelopes built from the
real tamper records (tests/data/events/tamper) made to name the moto trail.

moto quirks met here (docs/local-cloud.md): describe_trails ignores trailNameList and delete_trail by
ARN does nothing, so the attack deletes by name and the repair reads the full trail list.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

import envelopes
import history_support
from aws_support import TABLE, stack_allowing
from permissions_support import assert_declared, assert_granted, recorded_calls
from selector_attacks import RED_TEAM_SELECTORS
from trailguard import handlers
from worlds import REGION
from worlds import ConfiguredTrail as World

ADVANCED_SELECTORS = World.ADVANCED_SELECTORS
BASIC_SELECTORS = World.BASIC_SELECTORS
BUCKET, OTHER_BUCKET, TRAIL = World.BUCKET, World.OTHER_BUCKET, World.TRAIL
api_call_envelope, finding_envelope = World.api_call_envelope, World.finding_envelope

pytestmark = pytest.mark.integration

ATTACKER = "arn:aws:iam::0123456789012:user/Alice"  # the principal of the UpdateTrail sample record (sic)


def _incident(result: dict[str, Any]) -> dict[str, Any]:
    (incident,) = result["incidents"]
    return incident


def _assert_matches_baseline(world: World) -> None:
    trail = world.trail()
    assert trail is not None, "the trail does not exist"
    assert trail["S3BucketName"] == BUCKET and trail["S3KeyPrefix"] == "audit"
    assert trail["KmsKeyId"] == world.key_arn
    assert trail["IsMultiRegionTrail"] is True and trail["IncludeGlobalServiceEvents"] is True
    assert trail["LogFileValidationEnabled"] is True
    assert trail["CloudWatchLogsLogGroupArn"] == world.log_group_arn
    assert trail["CloudWatchLogsRoleArn"] == world.logs_role_arn
    tags = world.cloudtrail.list_tags(ResourceIdList=[world.trail_arn])["ResourceTagList"][0]["TagsList"]
    assert {(t["Key"], t["Value"]) for t in tags} >= {("owner", "security"), ("tier", "critical")}


__all__ = ["recorded_calls"]  # the shared fixture, imported for the tests below


@pytest.fixture
def aws_region() -> str:
    """The configured trail lives in us-east-1 (tests/remediate's own stack in us-west-2)."""
    return REGION


def test_deleted_trail_is_recreated_with_full_configuration_and_logging(
    world: World, recorded_calls: set[str]
) -> None:
    world.cloudtrail.delete_trail(Name=TRAIL)
    assert world.trail() is None
    event = api_call_envelope("cloudtrail_deletetrail_stratus.json", {"name": world.trail_arn})

    incident = _incident(world.invoke(handlers.api_call, event))

    assert incident["technique"] == "trail.delete" and incident["status"] == "remediated", incident
    _assert_matches_baseline(world)
    assert world.selectors()["EventSelectors"] == BASIC_SELECTORS
    assert world.is_logging()
    (message,) = world.messages()
    remediation = message["incident"]["remediation"]
    operations = [c["operation"] for c in remediation["calls"]]
    assert "CreateTrail" in operations and "StartLogging" in operations
    assert remediation["verified"] is True and "recreated trail org-audit" in remediation["summary"]
    assert_declared(remediation["action"], remediation["calls"])
    assert_granted(recorded_calls)

    again = _incident(world.invoke(handlers.api_call, event))  # a redelivered event changes nothing
    assert again["status"] == "already-restored"


@pytest.mark.parametrize(
    ("change", "params"),
    [
        ({"S3BucketName": OTHER_BUCKET}, {"s3BucketName": OTHER_BUCKET}),
        ({"EnableLogFileValidation": False}, {"enableLogFileValidation": False}),
        ({"IsMultiRegionTrail": False}, {"isMultiRegionTrail": False}),
        ({"KmsKeyId": ""}, {"kmsKeyId": ""}),
    ],
    ids=["bucket", "validation", "multi-region", "kms-removed"],
)
def test_weakening_update_is_restored(
    world: World, recorded_calls: set[str], change: dict[str, Any], params: dict[str, Any]
) -> None:
    world.cloudtrail.update_trail(Name=world.trail_arn, **change)
    event = api_call_envelope(
        "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json", {"name": world.trail_arn, **params}
    )

    incident = _incident(world.invoke(handlers.api_call, event))

    assert incident["technique"] == "trail.update-degrade" and incident["status"] == "remediated", incident
    _assert_matches_baseline(world)
    (message,) = world.messages()
    remediation = message["incident"]["remediation"]
    assert [c["operation"] for c in remediation["calls"]].count("UpdateTrail") == 1
    assert_declared(remediation["action"], remediation["calls"])
    assert_granted(recorded_calls)


def test_basic_selectors_dropping_management_events_are_restored(world: World) -> None:
    dropped = [{"ReadWriteType": "All", "IncludeManagementEvents": False}]
    world.cloudtrail.put_event_selectors(TrailName=world.trail_arn, EventSelectors=dropped)
    event = api_call_envelope(
        "cloudtrail_puteventselectors_no_mgmt_events_stratus.json",
        {"trailName": TRAIL, "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}]},
    )

    incident = _incident(world.invoke(handlers.api_call, event))

    assert incident["technique"] == "trail.selectors-degrade" and incident["status"] == "remediated", incident
    assert world.selectors()["EventSelectors"] == BASIC_SELECTORS


def test_advanced_selectors_dropping_management_events_are_restored(world: World) -> None:
    world.cloudtrail.put_event_selectors(TrailName=world.trail_arn, AdvancedEventSelectors=ADVANCED_SELECTORS)
    assert world.record_baselines().ok  # the baseline now holds advanced selectors
    data_only = [
        {
            "Name": "data",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            ],
        }
    ]
    world.cloudtrail.put_event_selectors(TrailName=world.trail_arn, AdvancedEventSelectors=data_only)
    event = api_call_envelope(
        "cloudtrail_puteventselectors_no_mgmt_events_stratus.json",
        {
            "trailName": world.trail_arn,
            "advancedEventSelectors": [
                {"name": "data", "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}
            ],
        },
    )

    incident = _incident(world.invoke(handlers.api_call, event))

    assert incident["status"] == "remediated", incident
    assert world.selectors()["AdvancedEventSelectors"] == ADVANCED_SELECTORS


def test_finding_reconciles_every_drift_against_the_baseline(world: World) -> None:
    world.cloudtrail.update_trail(
        Name=world.trail_arn, EnableLogFileValidation=False, S3KeyPrefix="elsewhere"
    )
    world.cloudtrail.put_event_selectors(
        TrailName=world.trail_arn,
        EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}],
    )
    world.cloudtrail.stop_logging(Name=world.trail_arn)

    incident = _incident(world.invoke(handlers.finding, finding_envelope(world.trail_arn)))

    assert incident["status"] == "remediated", incident
    _assert_matches_baseline(world)
    assert world.selectors()["EventSelectors"] == BASIC_SELECTORS
    assert world.is_logging()
    (message,) = world.messages()
    assert_declared("trail.reconcile", message["incident"]["remediation"]["calls"])
    summary = message["incident"]["remediation"]["summary"]
    assert "LogFileValidationEnabled" in summary and "S3KeyPrefix" in summary and "event selectors" in summary


def test_finding_recreates_a_deleted_trail(world: World) -> None:
    world.cloudtrail.delete_trail(Name=TRAIL)
    incident = _incident(world.invoke(handlers.finding, finding_envelope(world.trail_arn)))
    assert incident["status"] == "remediated", incident
    _assert_matches_baseline(world)
    assert world.is_logging()


@pytest.mark.parametrize("technique", ["delete", "update", "selectors"])
def test_without_a_baseline_the_repair_is_escalated_not_guessed(unrecorded: World, technique: str) -> None:
    world = unrecorded
    if technique == "delete":
        world.cloudtrail.delete_trail(Name=TRAIL)
        event = api_call_envelope("cloudtrail_deletetrail_stratus.json", {"name": world.trail_arn})
    elif technique == "update":
        world.cloudtrail.update_trail(Name=world.trail_arn, EnableLogFileValidation=False)
        event = api_call_envelope(
            "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json",
            {"name": world.trail_arn, "enableLogFileValidation": False},
        )
    else:
        event = api_call_envelope(
            "cloudtrail_puteventselectors_no_mgmt_events_stratus.json",
            {
                "trailName": TRAIL,
                "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}],
            },
        )

    incident = _incident(world.invoke(handlers.api_call, event))

    assert incident["status"] == "failed" and incident["action_required"] is True
    (message,) = world.messages()
    assert message["_sns_subject"].startswith("[ACTION REQUIRED]")
    assert "no baseline recorded" in message["text"] and "trailguard baseline record" in message["text"]
    assert message["incident"]["remediation"]["calls"] == []  # nothing was changed on a guess
    if technique == "delete":
        assert world.trail() is None


def test_finding_without_a_baseline_still_restarts_logging_and_says_what_was_not_checked(
    unrecorded: World,
) -> None:
    unrecorded.cloudtrail.stop_logging(Name=unrecorded.trail_arn)
    incident = _incident(unrecorded.invoke(handlers.finding, finding_envelope(unrecorded.trail_arn)))
    assert incident["status"] == "remediated"
    assert unrecorded.is_logging()
    (message,) = unrecorded.messages()
    assert "no baseline recorded for trail org-audit" in message["incident"]["remediation"]["summary"]


def test_allowed_principal_change_becomes_the_new_baseline(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once CloudTrail's history confirms the event (moto has no LookupEvents: botocore's Stubber answers
    it, ``history_support``)."""
    world.cloudtrail.update_trail(Name=world.trail_arn, S3BucketName=OTHER_BUCKET)
    event = api_call_envelope(
        "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json",
        {"name": world.trail_arn, "s3BucketName": OTHER_BUCKET},
    )
    assert event["detail"]["userIdentity"]["arn"] == ATTACKER
    history_support.holds(monkeypatch, event["detail"])

    allow = stack_allowing(ATTACKER, REGION)  # the allow-list is the stack's parameter, not the environment
    incident = _incident(world.invoke(handlers.api_call, event, TRAILGUARD_STACK_NAME=allow))

    assert incident["verdict"] == "allowed"
    trail = world.trail()
    assert trail is not None and trail["S3BucketName"] == OTHER_BUCKET  # not reverted
    baseline = world.baselines.get("trail", world.trail_arn)
    assert baseline is not None and baseline["S3BucketName"] == OTHER_BUCKET
    assert baseline["_meta"]["source"] == "allowed-change"
    (message,) = world.messages()
    assert f"recorded the new state of trail {world.trail_arn} as its baseline" in message["text"].lower()
    assert not [c for c in message["incident"]["remediation"]["calls"] if c["operation"] == "UpdateTrail"]

    # the new baseline is what a later weakening is judged and repaired against
    world.cloudtrail.update_trail(Name=world.trail_arn, S3BucketName=BUCKET)
    back = api_call_envelope(
        "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json",
        {"name": world.trail_arn, "s3BucketName": BUCKET},
    )
    incident = _incident(world.invoke(handlers.api_call, back))
    assert incident["verdict"] == "tamper" and incident["status"] == "remediated"
    trail = world.trail()
    assert trail is not None and trail["S3BucketName"] == OTHER_BUCKET


def test_update_that_keeps_the_baseline_is_benign(world: World) -> None:
    """The policy compares with the baseline, not the (already updated) live trail."""
    event = api_call_envelope(
        "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json",
        {"name": world.trail_arn, "s3BucketName": BUCKET, "enableLogFileValidation": True},
    )
    assert world.invoke(handlers.api_call, event)["incidents"] == []


def test_after_the_state_table_is_deleted_a_logging_trail_is_not_reported_failed(world: World) -> None:
    """Issue 9 item 17: with the table gone, the StopLogging repair still works and the GuardDuty finding
    that follows finds the trail logging: no "REPAIR FAILED" for what is not failed."""
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=TABLE)
    world.cloudtrail.stop_logging(Name=world.trail_arn)
    stop = api_call_envelope("cloudtrail_stoplogging_stratus.json", {"name": world.trail_arn})

    assert _incident(world.invoke(handlers.api_call, stop))["status"] == "remediated"
    finding = _incident(world.invoke(handlers.finding, finding_envelope(world.trail_arn)))

    assert finding["status"] == "already-restored" and finding["action_required"] is False, finding
    assert world.is_logging()
    subjects = [m["subject"] for m in world.messages()]
    assert not any("FAILED" in s for s in subjects), subjects


@pytest.mark.parametrize("handler", ["api_call", "finding"])
def test_a_trail_of_another_account_is_not_protected(world: World, handler: str) -> None:
    """Issue 9 item 10: a call or finding naming a trail ARN of another account (an organization
    trail's home account, or a forged record) is not a protected trail here: no repair, no alert."""
    foreign = "arn:aws:cloudtrail:us-east-1:999988887777:trail/org-audit-elsewhere"
    if handler == "api_call":
        result = world.invoke(
            handlers.api_call, api_call_envelope("cloudtrail_stoplogging_stratus.json", {"name": foreign})
        )
    else:
        result = world.invoke(handlers.finding, finding_envelope(foreign))

    assert result["incidents"] == [], result
    assert world.messages() == []


def test_update_changing_several_properties_is_restored_in_all_and_each_is_listed(
    world: World, recorded_calls: set[str]
) -> None:
    """Issue 10: one UpdateTrail that moves the bucket, adds nothing, drops the prefix, changes the SNS
    topic and turns validation off is restored in every property, and the message lists each one
    before -> after."""
    sns = boto3.client("sns", region_name=REGION)
    sns.create_topic(Name="attacker-topic")
    world.cloudtrail.update_trail(
        Name=world.trail_arn,
        S3BucketName=OTHER_BUCKET,
        S3KeyPrefix="",
        SnsTopicName="attacker-topic",
        EnableLogFileValidation=False,
    )
    params = {
        "name": world.trail_arn,
        "s3BucketName": OTHER_BUCKET,
        "s3KeyPrefix": "",
        "snsTopicName": "attacker-topic",
        "enableLogFileValidation": False,
    }
    event = api_call_envelope("cloudtrail_updatetrail_disable_logfilevalidation_elastic.json", params)

    incident = _incident(world.invoke(handlers.api_call, event))

    assert incident["status"] == "remediated", incident
    _assert_matches_baseline(world)
    assert not world.trail().get("SnsTopicName")
    (message,) = world.messages()
    summary = message["incident"]["remediation"]["summary"]
    for change in (
        f"S3BucketName {OTHER_BUCKET} -> {BUCKET}",
        "S3KeyPrefix none -> audit",
        "SnsTopicName attacker-topic -> none",
        "LogFileValidationEnabled false -> true",
    ):
        assert change in summary, summary
    assert_granted(recorded_calls)


@pytest.mark.parametrize(
    ("params", "change"),
    [
        ({"s3KeyPrefix": "elsewhere"}, {"S3KeyPrefix": "elsewhere"}),
        ({"s3KeyPrefix": ""}, {"S3KeyPrefix": ""}),
        ({"snsTopicName": "attacker-topic"}, {"SnsTopicName": "attacker-topic"}),
    ],
    ids=["prefix-changed", "prefix-removed", "sns-topic"],
)
def test_any_change_to_where_logs_go_is_a_redirect_on_the_event_path(
    world: World, params: dict[str, Any], change: dict[str, Any]
) -> None:
    boto3.client("sns", region_name=REGION).create_topic(Name="attacker-topic")
    world.cloudtrail.update_trail(Name=world.trail_arn, **change)
    event = api_call_envelope(
        "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json", {"name": world.trail_arn, **params}
    )

    incident = _incident(world.invoke(handlers.api_call, event))

    assert incident["technique"] == "trail.update-degrade" and incident["status"] == "remediated", incident
    _assert_matches_baseline(world)
    assert not world.trail().get("SnsTopicName")


@pytest.mark.parametrize("variant", sorted(RED_TEAM_SELECTORS))
@pytest.mark.parametrize("baseline", ["basic", "advanced"])
def test_red_team_advanced_selectors_are_restored_exactly(world: World, variant: str, baseline: str) -> None:
    """Issue 10: the three advanced-selector variants of the red team, each restored to the baseline's
    selectors exactly (classic or advanced), verified by GetEventSelectors. In-process moto keeps the
    advanced selectors beside classic ones put afterwards (AWS replaces them): the moto fixture applies
    the local cloud's patch (``trailguard.local.cloudtrail_patch``), so a classic baseline is judged
    against AWS's behaviour; without it the three classic-baseline cases fail."""
    if baseline == "advanced":
        world.cloudtrail.put_event_selectors(
            TrailName=world.trail_arn, AdvancedEventSelectors=ADVANCED_SELECTORS
        )
        assert world.record_baselines().ok
    attack = RED_TEAM_SELECTORS[variant]
    world.cloudtrail.put_event_selectors(TrailName=world.trail_arn, AdvancedEventSelectors=attack)
    event = api_call_envelope(
        "cloudtrail_puteventselectors_no_mgmt_events_stratus.json",
        {"trailName": world.trail_arn, "advancedEventSelectors": envelopes.event_spelling(attack)},
    )

    incident = _incident(world.invoke(handlers.api_call, event))

    assert incident["technique"] == "trail.selectors-degrade", incident
    assert incident["status"] == "remediated", incident
    if baseline == "advanced":
        assert world.selectors()["AdvancedEventSelectors"] == ADVANCED_SELECTORS
        assert not world.selectors()["EventSelectors"]
    else:
        assert world.selectors()["EventSelectors"] == BASIC_SELECTORS
        assert not world.selectors()["AdvancedEventSelectors"]
    (message,) = world.messages()
    summary = message["incident"]["remediation"]["summary"]
    before = {
        "data-only": "no management events",
        "exclude-kms-rdsdata": "NotEquals kms.amazonaws.com",
        "read-only": "management reads only",
    }[variant]
    assert f"advanced [{attack[0]['Name']}: " in summary and before in summary, summary  # before -> after
    assert "-> advanced [" in summary if baseline == "advanced" else "-> classic [" in summary
