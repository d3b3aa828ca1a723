"""The Security Hub (ASFF) finding view (``trailguard.events.securityhub``) over the real findings, the
``ProductFields`` GuardDuty flattens its API call into, and the states that make a finding inactive."""

from __future__ import annotations

from typing import Any

import pytest

import envelopes
from corpus import EVENTS, column, ids, load, manifest
from trailguard.events import (
    TRAIL_DISABLED_ASFF_TYPE,
    SecurityHubFinding,
    iter_path,
    records_from_object,
)

ROWS = manifest("securityhub-finding")
TRAIL_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail"


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_each_real_finding_reads_as_its_manifest_says(row):
    records = list(iter_path(EVENTS / row["file"]))
    assert records and all(isinstance(r, SecurityHubFinding) for r in records)
    envelope = load(row["file"])
    finding_type = row["eventSource"].removeprefix("securityhub:")
    for record, raw in zip(records, envelope["detail"]["findings"], strict=True):
        assert record.kind == "securityhub"
        assert record.raw == raw and record.envelope == envelope
        assert finding_type in record.finding_types
        assert record.is_trail_disabled_finding is (finding_type == TRAIL_DISABLED_ASFF_TYPE)
        assert record.event_name == column(row, "eventName")
        assert record.event_id == raw["Id"]
        assert record.account_id == raw["AwsAccountId"]
        assert record.region == (raw.get("Region") or envelope["region"])
        assert record.event_time == raw["LastObservedAt"]
        assert record.finding_active
        # what only CloudTrail records have
        assert record.request_parameters == {} and record.error_code is None and not record.failed


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_the_shared_builder_makes_the_envelope_security_hub_sends(row):
    """``envelopes.securityhub`` puts the findings where the real envelope has them, with the same
    answers; the detail-type says which kind of delivery it was."""
    real = load(row["file"])
    findings = real["detail"]["findings"]
    built = envelopes.securityhub(
        *findings, custom_action=real["detail-type"] == envelopes.SECURITYHUB_CUSTOM_ACTION
    )
    assert built["detail-type"] == real["detail-type"] and built["source"] == real["source"]
    assert built["detail"]["findings"] == real["detail"]["findings"]
    assert [r.raw for r in records_from_object(built)] == [r.raw for r in records_from_object(real)]


def test_a_trail_disabled_finding_names_the_call_the_trail_and_the_caller_address():
    (row,) = [r for r in ROWS if r["eventSource"] == f"securityhub:{TRAIL_DISABLED_ASFF_TYPE}"]
    (record,) = iter_path(EVENTS / row["file"])
    assert record.event_name == "StopLogging" and record.event_source == "cloudtrail.amazonaws.com"
    assert record.finding_trail and record.finding_trail.startswith("arn:aws:cloudtrail:")
    assert record.source_ip


def _finding(**changes: Any) -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": "f-1",
        "Types": [TRAIL_DISABLED_ASFF_TYPE],
        "AwsAccountId": "123456789012",
        "Title": "A CloudTrail trail was disabled.",
        "ProductFields": {},
        **changes,
    }


@pytest.mark.parametrize(
    "prefix", ["", "aws/guardduty/service/", "aws/guardduty/service/some/newer/"], ids=["bare", "v1", "newer"]
)
def test_product_fields_are_read_whatever_their_prefix(prefix):
    call = prefix + "action/awsApiCallAction/"
    record = SecurityHubFinding(
        _finding(
            ProductFields={
                call + "api": "DeleteTrail",
                call + "serviceName": "cloudtrail.amazonaws.com",
                call + "remoteIpDetails/ipAddressV4": "198.51.100.1",
                call + "affectedResources/AWS::CloudTrail::Trail": TRAIL_ARN,
            }
        )
    )
    assert record.event_name == "DeleteTrail"
    assert record.event_source == "cloudtrail.amazonaws.com"
    assert record.source_ip == "198.51.100.1"
    assert record.finding_trail == TRAIL_ARN


@pytest.mark.parametrize(
    ("changes", "trail"),
    [
        ({"Title": f"AWS CloudTrail trail {TRAIL_ARN} was disabled."}, TRAIL_ARN),
        ({"Description": "AWS CloudTrail trail org-trail was disabled by bob."}, "org-trail"),
        ({"ProductFields": {"x/affectedResources/AWS::CloudTrail::Trail": ""}}, None),
        ({}, None),
    ],
)
def test_the_trail_falls_back_to_the_title_then_the_description(changes, trail):
    assert SecurityHubFinding(_finding(**changes)).finding_trail == trail


@pytest.mark.parametrize(
    ("changes", "active"),
    [
        ({}, True),
        ({"RecordState": "ACTIVE", "Workflow": {"Status": "NEW"}}, True),
        ({"RecordState": "ARCHIVED"}, False),
        ({"Workflow": {"Status": "RESOLVED"}}, False),
        ({"Workflow": {"Status": "suppressed"}}, False),
        ({"WorkflowState": "RESOLVED"}, False),
        ({"Workflow": {"Status": "NOTIFIED"}, "WorkflowState": "RESOLVED"}, True),  # Workflow wins
        ({"ProductFields": {"archived": "true"}}, False),
        ({"ProductFields": {"aws/guardduty/service/archived": "TRUE"}}, False),
        ({"ProductFields": {"archived": "false"}}, True),
    ],
)
def test_finding_states(changes, active):
    assert SecurityHubFinding(_finding(**changes)).finding_active is active


def test_types_are_several_and_only_a_list_counts():
    assert SecurityHubFinding(_finding(Types=["a", "b"])).finding_types == ("a", "b")
    assert SecurityHubFinding(_finding(Types="a")).finding_types == ()


def test_the_envelope_fills_region_and_account_only_when_the_finding_lacks_them():
    envelope = {"region": "eu-west-1", "account": "999999999999"}
    assert SecurityHubFinding(_finding(), envelope=envelope).region == "eu-west-1"
    assert SecurityHubFinding(_finding(Region="us-east-2"), envelope=envelope).region == "us-east-2"
    assert SecurityHubFinding(_finding(), envelope=envelope).account_id == "123456789012"
    assert SecurityHubFinding(_finding(AwsAccountId=None), envelope=envelope).account_id == "999999999999"


def test_event_time_is_last_observed_then_updated():
    assert SecurityHubFinding(_finding(LastObservedAt="T1", UpdatedAt="T2")).event_time == "T1"
    assert SecurityHubFinding(_finding(UpdatedAt="T2")).event_time == "T2"


def test_a_finding_names_no_principal():
    """ASFF carries the caller only inside resource details; trailguard reports it as unknown."""
    record = SecurityHubFinding(_finding())
    assert (record.principal_arn, record.principal_name, record.principal_type, record.user_agent) == (
        None,
    ) * 4


def test_a_finding_version_is_its_providers_update_and_its_workflow() -> None:
    base = {"SchemaVersion": "2018-10-08", "Types": ["x"], "Id": "f", "UpdatedAt": "2024-05-01T03:00:00Z"}
    finding = SecurityHubFinding(base)
    assert finding.finding_version == "2024-05-01T03:00:00Z NEW" and not finding.answered_by_trailguard
    answered = {**base, "Workflow": {"Status": "NOTIFIED"},
                "UserDefinedFields": {"trailguard/answered": "2024-05-01T03:00:00Z NOTIFIED"}}  # fmt: skip
    assert SecurityHubFinding(answered).answered_by_trailguard  # trailguard's own update coming back
    reopened = {**answered, "Workflow": {"Status": "NEW"}}
    assert not SecurityHubFinding(reopened).answered_by_trailguard  # someone's workflow change
    updated = {**answered, "UpdatedAt": "2024-05-01T04:00:00Z"}
    assert not SecurityHubFinding(updated).answered_by_trailguard  # its provider reported again
    assert SecurityHubFinding({"SchemaVersion": "1", "Types": []}).finding_version is None
