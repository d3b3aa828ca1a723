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


def live_after_the_call(**changes):
    """The inventory ``trailguard.inventory`` builds when TEST-trail's baseline is not laid over it: its
    entry is the live trail, which already shows the call's values (switches left out, as it does)."""
    data = copy.deepcopy(PROTECTING)
    for trail in data["trails"]:
        if trail["Name"] == "TEST-trail":
            trail.update(changes)
            for switch in ("IsMultiRegionTrail", "IncludeGlobalServiceEvents", "LogFileValidationEnabled"):
                trail.pop(switch, None)
    return data


@pytest.mark.parametrize(
    ("changes", "live"),
    [
        ({"s3BucketName": "attacker-bucket"}, {"S3BucketName": "attacker-bucket"}),
        ({"s3KeyPrefix": "elsewhere"}, {"S3KeyPrefix": "elsewhere"}),
        ({"kmsKeyId": ""}, {}),  # the live trail has no key any more
        ({"snsTopicName": "arn:aws:sns:us-west-2:0123456789012:t"}, {"SnsTopicName": "t"}),
        ({"cloudWatchLogsLogGroupArn": "arn:aws:logs:x"}, {"CloudWatchLogsLogGroupArn": "arn:aws:logs:x"}),
    ],
)
@pytest.mark.parametrize("ref", [TRAIL_ARN, "TEST-trail"])
def test_update_trail_redirect_with_a_tampered_baseline_is_tamper(changes, live, ref):
    """Issue 9: a trail baseline that fails verification reads as absent, so the live trail (already
    redirected) stands in; before the fix the redirect "kept its baseline" and was benign."""
    data = live_after_the_call(**live)
    data["tampered_trails"] = [TRAIL_ARN]
    record = rebuild({**raw_copy(UPDATE), "requestParameters": {**BASE, "name": ref, **changes}})
    verdict = classify(record, Inventory.from_dict(data))
    assert verdict.verdict == "tamper", verdict.reason
    assert verdict.technique_id == "trail.update-degrade"
    assert verdict.resource == TRAIL_ARN
    assert "its recorded baseline failed verification" in verdict.reason
    (prop,) = changes
    assert (f"{prop} set to {changes[prop]}" if changes[prop] else f"{prop} removed") in verdict.reason


def test_update_trail_redirect_when_baselines_are_unavailable_is_tamper():
    """The state table could not be read (live trails) or the trails not listed (no trail list)."""
    for data in (live_after_the_call(S3BucketName="attacker-bucket"), {}):
        data["baselines_unavailable"] = True
        params = {"name": TRAIL_ARN, "s3BucketName": "attacker-bucket"}
        verdict = classify(
            rebuild({**raw_copy(UPDATE), "requestParameters": params}), Inventory.from_dict(data)
        )
        assert verdict.verdict == "tamper", verdict.reason
        assert "could not compare it with a recorded baseline" in verdict.reason


def test_update_trail_doubt_is_per_trail_and_only_about_destinations():
    """Another trail's tampered baseline changes nothing here; a doubtful baseline does not make an update
    that sets no destination and turns nothing off tampering."""
    data = live_after_the_call(S3BucketName="attacker-bucket")
    data["tampered_trails"] = ["arn:aws:cloudtrail:us-west-2:0123456789012:trail/test-trail"]
    params = {"name": TRAIL_ARN, "s3BucketName": "attacker-bucket"}
    record = rebuild({**raw_copy(UPDATE), "requestParameters": params})
    assert classify(record, Inventory.from_dict(data)).verdict == "benign"
    data["tampered_trails"] = [TRAIL_ARN]
    params = {"name": TRAIL_ARN, "enableLogFileValidation": True, "isMultiRegionTrail": True}
    record = rebuild({**raw_copy(UPDATE), "requestParameters": params})
    assert classify(record, Inventory.from_dict(data)).verdict == "benign"


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
