"""The trail family's context-dependent conditions (``policy/techniques/trail.py``: UpdateTrail,
PutEventSelectors), on real records modified by hand."""

from __future__ import annotations

import copy

import pytest
from policy_support import PROTECTING, raw_copy, rebuild

from trailguard.policy import Inventory, classify

UPDATE = "tamper/cloudtrail_updatetrail_disable_logfilevalidation_elastic.json"
SELECTORS = "tamper/cloudtrail_puteventselectors_no_mgmt_events_stratus.json"
TRAIL_ARN = "arn:aws:cloudtrail:us-west-2:0123456789012:trail/TEST-trail"


def inventory(**trail_changes):
    """PROTECTING, with the TEST-trail baseline changed."""
    data = copy.deepcopy(PROTECTING)
    for trail in data["trails"]:
        if trail["Name"] == "TEST-trail":
            trail.update(trail_changes)
    return Inventory.from_dict(data)


BASE = {"name": TRAIL_ARN, "s3BucketName": "test-cloudtrail-bucket", "isMultiRegionTrail": True}

# -- UpdateTrail ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "baseline", "expected"),
    [
        ({"enableLogFileValidation": True}, {}, "benign"),
        ({"enableLogFileValidation": False}, {}, "tamper"),
        ({"enableLogFileValidation": False}, {"LogFileValidationEnabled": False}, "benign"),
        ({"enableLogFileValidation": "false"}, {}, "tamper"),
        ({"s3BucketName": "attacker-bucket"}, {}, "tamper"),
        ({"s3KeyPrefix": "elsewhere"}, {}, "tamper"),
        ({"s3KeyPrefix": "/logs/"}, {"S3KeyPrefix": "logs"}, "benign"),
        ({"kmsKeyId": ""}, {}, "benign"),
        ({"kmsKeyId": ""}, {"KmsKeyId": "arn:aws:kms:us-west-2:0123456789012:key/k1"}, "tamper"),
        ({"kmsKeyId": "k1"}, {"KmsKeyId": "arn:aws:kms:us-west-2:0123456789012:key/k1"}, "benign"),
        ({"kmsKeyId": "k2"}, {"KmsKeyId": "arn:aws:kms:us-west-2:0123456789012:key/k1"}, "tamper"),
        ({"isMultiRegionTrail": False}, {}, "tamper"),
        ({"includeGlobalServiceEvents": False}, {}, "tamper"),
        ({"isOrganizationTrail": False}, {"IsOrganizationTrail": True}, "tamper"),
        ({"isOrganizationTrail": False}, {}, "benign"),
        ({"cloudWatchLogsLogGroupArn": ""}, {"CloudWatchLogsLogGroupArn": "arn:aws:logs:x"}, "tamper"),
        ({"cloudWatchLogsRoleArn": "arn:aws:iam::1:role/other"}, {"CloudWatchLogsRoleArn": "r"}, "tamper"),
        ({"snsTopicName": ""}, {}, "benign"),
    ],
)
def test_update_trail_against_baseline(changes, baseline, expected):
    record = rebuild({**raw_copy(UPDATE), "requestParameters": {**BASE, **changes}})
    verdict = classify(record, inventory(**baseline))
    assert verdict.verdict == expected, verdict.reason
    assert verdict.resource == TRAIL_ARN


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"isMultiRegionTrail": False}, "tamper"),
        ({"includeGlobalServiceEvents": False}, "tamper"),
        ({"enableLogFileValidation": False}, "tamper"),
        ({"isOrganizationTrail": False}, "tamper"),
        ({"enableLogFileValidation": True, "kmsKeyId": ""}, "tamper"),  # removing the key always weakens
        ({"cloudWatchLogsLogGroupArn": "", "cloudWatchLogsRoleArn": ""}, "tamper"),
        ({"s3KeyPrefix": "elsewhere"}, "benign"),
        ({"s3BucketName": "some-bucket"}, "benign"),
    ],
)
def test_update_trail_without_baseline_counts_weakening_values(changes, expected):
    record = rebuild({**raw_copy(UPDATE), "requestParameters": {"name": TRAIL_ARN, **changes}})
    verdict = classify(record, Inventory())
    assert verdict.verdict == expected, verdict.reason


def test_update_trail_reason_lists_every_weakening():
    params = {**BASE, "s3BucketName": "attacker", "enableLogFileValidation": False}
    verdict = classify(rebuild({**raw_copy(UPDATE), "requestParameters": params}), inventory())
    assert "s3BucketName changed from test-cloudtrail-bucket to attacker" in verdict.reason
    assert "enableLogFileValidation set to false" in verdict.reason


def test_update_trail_with_only_a_name_is_harmless_when_it_succeeds():
    record = rebuild({**raw_copy(UPDATE), "requestParameters": {"name": TRAIL_ARN}})
    assert classify(record, inventory()).verdict == "benign"


def test_failed_update_with_null_parameters_is_an_attempt():
    record = rebuild({**raw_copy(UPDATE), "requestParameters": None, "errorCode": "AccessDenied"})
    verdict = classify(record, inventory())
    assert verdict.verdict == "attempt"
    assert verdict.technique_id == "trail.update-degrade"
    assert verdict.resource is None


# -- PutEventSelectors ---------------------------------------------------------------------------------


def selectors(**params):
    return rebuild({**raw_copy(SELECTORS), "requestParameters": params})


def basic(**fields):
    selector = {"readWriteType": "All", "includeManagementEvents": True, "dataResources": []}
    selector.update(fields)
    return selector


def advanced(*fields):
    return {"name": "s", "fieldSelectors": list(fields)}


MGMT = {"field": "eventCategory", "equals": ["Management"]}
TRAIL = "stratus-red-team-ctes-trail-khlvciwdor"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"eventSelectors": [basic()]}, "benign"),
        ({"eventSelectors": [basic(readWriteType="ReadOnly")]}, "tamper"),
        ({"eventSelectors": [basic(readWriteType="WriteOnly")]}, "tamper"),
        (
            {"eventSelectors": [basic(readWriteType="WriteOnly"), basic(readWriteType="ReadOnly")]},
            "benign",
        ),
        ({"eventSelectors": [basic(includeManagementEvents=False)]}, "tamper"),
        ({"eventSelectors": [basic(excludeManagementEventSources=["kms.amazonaws.com"])]}, "tamper"),
        ({"eventSelectors": []}, "tamper"),
        ({"advancedEventSelectors": [advanced(MGMT)]}, "benign"),
        ({"advancedEventSelectors": [advanced(MGMT, {"field": "readOnly", "equals": ["true"]})]}, "tamper"),
        (
            {
                "advancedEventSelectors": [
                    advanced(MGMT, {"field": "readOnly", "equals": ["true"]}),
                    advanced(MGMT, {"field": "readOnly", "equals": ["false"]}),
                ]
            },
            "benign",
        ),
        (
            {
                "advancedEventSelectors": [
                    advanced(MGMT, {"field": "eventSource", "notEquals": ["kms.amazonaws.com"]})
                ]
            },
            "tamper",
        ),
        (
            {"advancedEventSelectors": [advanced({"field": "eventCategory", "equals": ["Data"]})]},
            "tamper",
        ),
    ],
)
def test_event_selector_coverage(params, expected):
    verdict = classify(selectors(trailName=TRAIL, **params), Inventory())
    assert verdict.verdict == expected, verdict.reason


def test_selectors_matching_a_baseline_without_management_events_are_benign():
    data = copy.deepcopy(PROTECTING)
    for trail in data["trails"]:
        if trail["Name"] == TRAIL:
            trail["EventSelectors"] = [basic(includeManagementEvents=False)]
    record = selectors(trailName=TRAIL, eventSelectors=[basic(includeManagementEvents=False)])
    assert classify(record, Inventory.from_dict(data)).verdict == "benign"
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == "tamper"
