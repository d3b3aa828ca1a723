"""CloudTrail Lake repairs. moto does not implement CloudTrail Lake (event data stores), so every Lake
call is answered by botocore's ``Stubber`` on trailguard's own CloudTrail client, which also checks the
exact parameters and order of the calls; SNS, SQS and DynamoDB around the handler run on moto. No public
record of these calls is stored, so the events are the real StopLogging record with the Lake call's
name and parameters."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from trailguard import aws, remediate
from trailguard.config import Config
from trailguard.events import records_from_object
from trailguard.inventory import build
from trailguard.policy import TECHNIQUES, Inventory, classify
from trailguard.remediate import Context, Outcome

from .conftest import ACCOUNT, REGION, Stack, remediation_of, tamper_event

STORE = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:eventdatastore/5f7b1e2c-3d4a-4b6c-8e9f-0a1b2c3d4e5f"
RECORD = "cloudtrail_stoplogging_stratus.json"


def _event(event_name: str) -> dict[str, Any]:
    event = tamper_event(RECORD, {"eventDataStore": STORE}, event_name=event_name)
    event["detail"]["requestParameters"].pop("name", None)
    return event


def _store(status: str) -> dict[str, Any]:
    return {"EventDataStoreArn": STORE, "Name": "org-lake", "Status": status}


def _get(stubber: Stubber, status: str) -> None:
    stubber.add_response("get_event_data_store", _store(status), {"EventDataStore": STORE})


@pytest.fixture
def offline(moto_aws: dict[str, str]) -> dict[str, str]:
    """Fake credentials and moto behind everything, for the action-level tests."""
    return moto_aws


def _stubbed(env: dict[str, str] | None = None) -> Stubber:
    """A Stubber on the very client trailguard's actions get from ``aws.client`` (it is cached)."""
    if env is None:
        client = aws.client("cloudtrail", REGION)
    else:
        with aws.using_environ(env):
            client = aws.client("cloudtrail", REGION)
    stubber = Stubber(client)
    stubber.activate()
    return stubber


def _run(event_name: str) -> Outcome:
    """The action for one event, classified as the handler does for Lake calls (no store inventory:
    every store counts as protected)."""
    (record,) = records_from_object(_event(event_name))
    verdict = classify(record, Inventory())
    assert verdict.verdict == "tamper"
    ctx = Context(build(Config(), REGION, []), verify_delay=0.0, sleep=lambda _: None)
    return remediate.remediate(ctx, verdict)


# -- through the handler ---------------------------------------------------------------------------


def test_stopped_ingestion_is_restarted_through_the_handler(stack: Stack) -> None:
    trails = boto3.client("cloudtrail", region_name=REGION).describe_trails(includeShadowTrails=True)
    stubber = _stubbed(stack.env)
    # The handler's inventory lists the trails on the same client first: answered with moto's own list.
    stubber.add_response("describe_trails", {"trailList": trails["trailList"]}, {"includeShadowTrails": True})
    _get(stubber, "STOPPED_INGESTION")
    stubber.add_response("start_event_data_store_ingestion", {}, {"EventDataStore": STORE})
    _get(stubber, "ENABLED")

    result = stack.invoke(_event("StopEventDataStoreIngestion"))

    stubber.assert_no_pending_responses()
    assert result["skipped"] == []
    (incident,) = result["incidents"]
    assert incident["technique"] == "lake.stop-ingestion"
    assert incident["status"] == "remediated" and incident["verified"] is True
    (message,) = stack.messages()
    assert "5f7b1e2c-3d4a-4b6c-8e9f-0a1b2c3d4e5f" in message["text"]
    outcome = remediation_of(message)
    assert [c["operation"] for c in outcome["calls"]] == [
        "GetEventDataStore",
        "StartEventDataStoreIngestion",
        "GetEventDataStore",
    ]
    assert outcome["calls"][-1]["result"] == "Status ENABLED"


# -- the actions -------------------------------------------------------------------------------------


def test_ingestion_already_running_changes_nothing(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    _get(stubber, "ENABLED")

    outcome = _run("StopEventDataStoreIngestion")

    stubber.assert_no_pending_responses()  # no StartEventDataStoreIngestion was queued, none was made
    assert outcome.status == "already-restored" and outcome.verified is True
    assert [c.operation for c in outcome.calls] == ["GetEventDataStore"]


def test_ingestion_still_starting_is_checked_again(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    _get(stubber, "STOPPED_INGESTION")
    stubber.add_response("start_event_data_store_ingestion", {}, {"EventDataStore": STORE})
    _get(stubber, "STARTING_INGESTION")
    _get(stubber, "ENABLED")

    outcome = _run("StopEventDataStoreIngestion")

    stubber.assert_no_pending_responses()
    assert outcome.status == "remediated" and outcome.verified is True


def test_ingestion_that_never_reports_enabled_is_not_called_repaired(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    _get(stubber, "STOPPED_INGESTION")
    stubber.add_response("start_event_data_store_ingestion", {}, {"EventDataStore": STORE})
    for _ in range(remediate.VERIFY_ATTEMPTS):
        _get(stubber, "STOPPED_INGESTION")

    outcome = _run("StopEventDataStoreIngestion")

    stubber.assert_no_pending_responses()  # every verification attempt was made
    assert outcome.status == "failed" and outcome.verified is False
    assert "still STOPPED_INGESTION" in outcome.summary


def test_refused_start_fails_with_the_error(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    _get(stubber, "STOPPED_INGESTION")
    stubber.add_client_error(
        "start_event_data_store_ingestion",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform cloudtrail:StartEventDataStoreIngestion",
        http_status_code=400,
    )

    outcome = _run("StopEventDataStoreIngestion")

    assert outcome.status == "failed" and outcome.verified is False
    assert outcome.errors == [
        "AccessDeniedException: not authorized to perform cloudtrail:StartEventDataStoreIngestion"
    ]
    assert outcome.calls[-1].operation == "StartEventDataStoreIngestion" and outcome.calls[-1].error
    assert "AccessDeniedException" in outcome.summary


def test_deleted_store_is_restored(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    _get(stubber, "PENDING_DELETION")
    stubber.add_response("restore_event_data_store", _store("ENABLED"), {"EventDataStore": STORE})
    _get(stubber, "ENABLED")

    outcome = _run("DeleteEventDataStore")

    stubber.assert_no_pending_responses()
    assert outcome.action == "lake.restore"
    assert outcome.status == "remediated" and outcome.verified is True
    assert [c.operation for c in outcome.calls] == [
        "GetEventDataStore",
        "RestoreEventDataStore",
        "GetEventDataStore",
    ]


def test_restored_store_is_not_restored_twice(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    _get(stubber, "ENABLED")

    outcome = _run("DeleteEventDataStore")

    stubber.assert_no_pending_responses()
    assert outcome.status == "already-restored"


def test_store_past_the_window_is_escalated(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    stubber.add_client_error(
        "get_event_data_store",
        service_error_code="EventDataStoreNotFoundException",
        service_message=f"The specified event data store {STORE} was not found.",
        http_status_code=400,
    )

    outcome = _run("DeleteEventDataStore")

    assert outcome.status == "failed"
    assert outcome.errors[0].startswith("EventDataStoreNotFoundException")
    assert "7-day window" in outcome.summary


# -- lake.update-degrade (Stubber: moto has no CloudTrail Lake) ----------------------------------------

BASELINE_SETTINGS = {
    "EventDataStoreArn": STORE,
    "Name": "org-lake",
    "Status": "ENABLED",
    "RetentionPeriod": 2557,
    "TerminationProtectionEnabled": True,
    "MultiRegionEnabled": True,
    "AdvancedEventSelectors": [
        {"Name": "all management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
    ],
}


def _restore(baseline: dict[str, Any] | None) -> Outcome:
    technique = TECHNIQUES["lake.update-degrade"]
    ctx = Context(build(Config(), REGION, []), verify_delay=0.0, sleep=lambda _: None)
    return remediate.repair(ctx, technique, remediate.RepairRequest(technique.kind, STORE, "t", baseline))


def test_a_weakened_store_gets_every_baseline_setting_back(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    weakened = {**BASELINE_SETTINGS, "RetentionPeriod": 7, "TerminationProtectionEnabled": False}
    stubber.add_response("get_event_data_store", weakened, {"EventDataStore": STORE})
    stubber.add_response(
        "update_event_data_store",
        {},
        {"EventDataStore": STORE, "RetentionPeriod": 2557, "TerminationProtectionEnabled": True},
    )
    stubber.add_response("get_event_data_store", BASELINE_SETTINGS, {"EventDataStore": STORE})

    outcome = _restore(BASELINE_SETTINGS)

    stubber.assert_no_pending_responses()
    assert outcome.status == "remediated" and outcome.verified is True, outcome.summary
    assert "RetentionPeriod" in outcome.summary and "7 -> 2557" in outcome.summary
    assert "TerminationProtectionEnabled" in outcome.summary and "False -> True" in outcome.summary


def test_an_update_that_does_not_hold_is_escalated(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    weakened = {**BASELINE_SETTINGS, "RetentionPeriod": 7}
    stubber.add_response("get_event_data_store", weakened, {"EventDataStore": STORE})
    stubber.add_response("update_event_data_store", {}, {"EventDataStore": STORE, "RetentionPeriod": 2557})
    for _ in range(3):  # every read-back still shows the cut
        stubber.add_response("get_event_data_store", weakened, {"EventDataStore": STORE})

    outcome = _restore(BASELINE_SETTINGS)

    assert outcome.status == "failed" and outcome.verified is False
    assert "STILL OFF: RetentionPeriod is 7, baseline 2557" in outcome.summary


def test_without_a_baseline_nothing_is_restored_and_it_says_why(offline: dict[str, str]) -> None:
    stubber = _stubbed()
    outcome = _restore(None)
    stubber.assert_no_pending_responses()
    assert outcome.status == "failed" and "no baseline is recorded" in outcome.summary
