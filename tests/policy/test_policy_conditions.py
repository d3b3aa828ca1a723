"""The context-dependent conditions, on real records modified by hand."""

from __future__ import annotations

import copy

import pytest
from policy_support import PROTECTING, raw_copy, rebuild

from trailguard.policy import Inventory, classify

UPDATE = "tamper/cloudtrail_updatetrail_disable_logfilevalidation_elastic.json"
SELECTORS = "tamper/cloudtrail_puteventselectors_no_mgmt_events_stratus.json"
LIFECYCLE = "tamper/s3_putbucketlifecycle_1day_expiry_trail_bucket_panther.json"
STOP = "tamper/cloudtrail_stoplogging_stratus.json"
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
        ({"enableLogFileValidation": True, "kmsKeyId": ""}, "benign"),
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


# -- PutBucketLifecycle --------------------------------------------------------------------------------


def lifecycle(rule, bucket="sample-cloudtrail-bucket-name"):
    raw = raw_copy(LIFECYCLE)
    raw["requestParameters"]["bucketName"] = bucket
    raw["requestParameters"]["LifecycleConfiguration"]["Rule"] = rule
    return rebuild(raw)


def rule(**fields):
    base = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("lifecycle_rule", "expected"),
    [
        (rule(), "tamper"),
        (rule(Expiration={"Days": 365}), "benign"),
        (rule(Expiration={"Days": 364}), "tamper"),
        (rule(Expiration={"Days": "7"}), "tamper"),
        (rule(Status="Disabled"), "benign"),
        (rule(Filter={"Prefix": "AWSLogs/"}), "tamper"),
        (rule(Filter={"Prefix": "AWSLogs/111122223333/CloudTrail/"}), "tamper"),
        (rule(Filter={"Prefix": "tmp/"}), "benign"),
        (rule(Filter={"Tag": {"Key": "k", "Value": "v"}}), "benign"),
        (rule(Filter={"And": {"Prefix": "", "Tags": [{"Key": "k", "Value": "v"}]}}), "benign"),
        (rule(Filter={"And": {"Prefix": "AWSLogs"}}), "tamper"),
        (rule(Filter=None, Prefix="AWSLogs/"), "tamper"),
        (rule(Expiration={"Date": "2030-01-01T00:00:00Z"}), "tamper"),
        (rule(Expiration={"Days": 400}, NoncurrentVersionExpiration={"NoncurrentDays": 1}), "tamper"),
        (rule(Expiration={"ExpiredObjectDeleteMarker": True}), "benign"),
        ([rule(Filter={"Prefix": "tmp/"}), rule(ID="second")], "tamper"),
    ],
)
def test_lifecycle_retention_floor(lifecycle_rule, expected):
    verdict = classify(lifecycle(lifecycle_rule), Inventory.from_dict(PROTECTING))
    assert verdict.verdict == expected, verdict.reason


def test_lifecycle_respects_the_trail_key_prefix():
    data = copy.deepcopy(PROTECTING)
    for trail in data["trails"]:
        if trail["Name"] == "sample-cloudtrail-name":
            trail["S3KeyPrefix"] = "trails/main"
    inv = Inventory.from_dict(data)
    assert classify(lifecycle(rule(Filter={"Prefix": "AWSLogs/"})), inv).verdict == "benign"
    assert classify(lifecycle(rule(Filter={"Prefix": "trails/"})), inv).verdict == "tamper"


def test_lifecycle_floor_is_configurable():
    inv = Inventory.from_dict({**PROTECTING, "retention_days": 20})
    assert classify(lifecycle(rule()), inv).verdict == "benign"
    assert classify(lifecycle(rule(Expiration={"Days": 10})), inv).verdict == "tamper"


def test_lifecycle_on_another_bucket_is_benign():
    verdict = classify(lifecycle(rule(), bucket="scratch"), Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "benign"
    assert verdict.resource == "scratch"


# -- KMS, Lake, Lambda, SNS, detectors, findings ------------------------------------------------------


def test_key_named_by_alias_resolves_through_the_inventory(modified):
    data = {**PROTECTING, "kms_aliases": {"alias/trail-key": "1234abcd-12ab-34cd-56ef-1234567890ab"}}
    record = modified("tamper/kms_disablekey_awsdocs.json", params={"keyId": "alias/trail-key"})
    assert classify(record, Inventory.from_dict(data)).verdict == "tamper"
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == "benign"


def test_key_named_only_in_resources_when_parameters_are_null(modified):
    record = modified(
        "failed-tamper/kms_disablekey_notfound_panther.json",
        params=None,
        resources=[{"ARN": "arn:aws:kms:us-west-2:123456789012:key/1", "type": "AWS::KMS::Key"}],
    )
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "attempt"
    assert verdict.resource == "arn:aws:kms:us-west-2:123456789012:key/1"


STORE_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"


@pytest.mark.parametrize("event_name", ["StopEventDataStoreIngestion", "DeleteEventDataStore"])
@pytest.mark.parametrize("ref", [STORE_ARN, "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE", "org-lake"])
def test_lake_store_by_arn_id_or_name(modified, event_name, ref):
    record = modified(STOP, params={"eventDataStore": ref}, eventName=event_name)
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "tamper"
    assert verdict.technique_id == {"StopEventDataStoreIngestion": "lake.stop-ingestion"}.get(
        event_name, "lake.delete"
    )
    assert verdict.resource == STORE_ARN
    other = modified(STOP, params={"eventDataStore": "someone-elses"}, eventName=event_name)
    assert classify(other, Inventory.from_dict(PROTECTING)).verdict == "benign"
    assert classify(other, Inventory()).verdict == "tamper"


LAMBDA = "tamper/lambda_deletefunction_panther.json"
FN = "basic-node-task"
GDS = "guardduty.amazonaws.com"


@pytest.mark.parametrize(
    ("event_name", "params", "expected"),
    [
        ("PutFunctionConcurrency20171031", {"functionName": FN, "reservedConcurrentExecutions": 0}, "tamper"),
        ("PutFunctionConcurrency20171031", {"functionName": FN, "reservedConcurrentExecutions": 5}, "benign"),
        ("UpdateFunctionCode20150331v2", {"functionName": FN}, "tamper"),
        ("UpdateFunctionConfiguration20150331v2", {"functionName": FN}, "tamper"),
        ("RemovePermission20150331v2", {"functionName": FN, "statementId": "s"}, "tamper"),
        ("DeleteFunction20150331", {"functionName": f"arn:aws:lambda:us-west-2:9:function:{FN}"}, "tamper"),
        ("DeleteFunction20150331", {"functionName": FN + ":live"}, "tamper"),
        ("DeleteFunction20150331", {"functionName": "other-task"}, "benign"),
        ("GetFunction20150331v2", {"functionName": FN}, "benign"),
    ],
)  # fmt: skip
def test_guard_function_calls_with_api_version_suffixes(modified, event_name, params, expected):
    verdict = classify(modified(LAMBDA, params=params, eventName=event_name), Inventory.from_dict(PROTECTING))
    assert verdict.verdict == expected, verdict.reason
    if expected == "tamper":
        assert verdict.technique_id == "guard.function"


TOPIC = "arn:aws:sns:us-east-1:123456789012:trailguard-alerts"


@pytest.mark.parametrize(
    ("event_name", "params", "expected"),
    [
        ("DeleteTopic", {"topicArn": TOPIC}, "tamper"),
        ("Unsubscribe", {"subscriptionArn": TOPIC + ":0d7b2ad2-5e4b-4c1b-9b0a-1c8f2e2d1a11"}, "tamper"),
        ("SetTopicAttributes", {"topicArn": TOPIC, "attributeName": "Policy"}, "tamper"),
        ("RemovePermission", {"topicArn": TOPIC, "label": "x"}, "tamper"),
        ("DeleteTopic", {"topicArn": TOPIC + "-other"}, "benign"),
    ],
)
def test_guard_topic(modified, event_name, params, expected):
    record = modified(LAMBDA, params=params, eventName=event_name, eventSource="sns.amazonaws.com")
    verdict = classify(record, Inventory.from_dict(PROTECTING))
    assert verdict.verdict == expected, verdict.reason
    assert verdict.technique_id == ("guard.topic" if expected == "tamper" else None)


@pytest.mark.parametrize(
    ("event_name", "params", "expected"),
    [
        ("DisableRule", {"name": "DailyLambdaFunction"}, "tamper"),
        ("RemoveTargets", {"rule": "DailyLambdaFunction", "ids": ["1"]}, "tamper"),
        ("PutRule", {"name": "DailyLambdaFunction", "state": "DISABLED"}, "tamper"),
        ("PutTargets", {"rule": "DailyLambdaFunction", "targets": [{"id": "1", "arn": "x"}]}, "tamper"),
        ("PutTargets", {"rule": "other-rule", "targets": [{"id": "1", "arn": "x"}]}, "benign"),
        ("EnableRule", {"name": "DailyLambdaFunction"}, "benign"),
    ],
)
def test_guard_rule(modified, event_name, params, expected):
    record = modified("tamper/events_deleterule_elastic.json", params=params, eventName=event_name)
    assert classify(record, Inventory.from_dict(PROTECTING)).verdict == expected


def _put_targets(rule: str) -> dict:
    """A PutTargets record as CloudTrail writes it, modelled on events_deleterule_elastic.json: the
    rule's target pointed at someone else's function."""
    raw = raw_copy("tamper/events_deleterule_elastic.json")
    raw.update(
        eventName="PutTargets",
        eventID="5b1f0a36-7d0e-4f55-9c0b-2a3e7c1d9f21",
        requestID="9e0c2f4a-3b7d-4d61-8a5e-1f2b3c4d5e6f",
        requestParameters={
            "rule": rule,
            "targets": [{"id": "api-call", "arn": "arn:aws:lambda:us-east-1:000000000:function:loot"}],
        },
        responseElements={"failedEntryCount": 0, "failedEntries": []},
    )
    raw["userAgent"] = raw["userAgent"].replace("events.delete-rule", "events.put-targets")
    return raw


def test_put_targets_on_a_guard_rule_is_tamper_and_on_another_rule_benign():
    inventory = Inventory.from_dict(PROTECTING)
    verdict = classify(rebuild(_put_targets("DailyLambdaFunction")), inventory)
    assert (verdict.verdict, verdict.technique_id, verdict.resource) == (
        "tamper",
        "guard.rule",
        "DailyLambdaFunction",
    )
    assert verdict.reason == (
        "The PutTargets call retargets trailguard's EventBridge rule DailyLambdaFunction."
    )
    other = classify(rebuild(_put_targets("nightly-report")), inventory)
    assert (other.verdict, other.technique_id, other.resource) == ("benign", None, "nightly-report")
    assert other.reason == "Rule nightly-report is not one of trailguard's rules."


@pytest.mark.parametrize(
    ("source", "event_name", "params", "expected"),
    [
        (GDS, "UpdateDetector", {"detectorId": "d", "enable": False}, "tamper"),
        (GDS, "UpdateDetector", {"detectorId": "d", "enable": True}, "benign"),
        (GDS, "UpdateDetector", {"detectorId": "d", "findingPublishingFrequency": "SIX_HOURS"}, "benign"),
        ("securityhub.amazonaws.com", "DisableSecurityHub", None, "tamper"),
        (GDS, "DisableSecurityHub", None, "benign"),
    ],
)  # fmt: skip
def test_guard_detector_without_inventory(modified, source, event_name, params, expected):
    record = modified(
        "tamper/guardduty_deletedetector_elastic.json",
        params=params,
        eventName=event_name,
        eventSource=source,
    )
    verdict = classify(record, Inventory())
    assert verdict.verdict == expected, verdict.reason


SH = "findings/securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json"
GD = "findings/guardduty_finding_cloudtrailloggingdisabled_deletetrail_stixshifter.json"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "tamper"),
        ({"RecordState": "ARCHIVED"}, "benign"),
        ({"Workflow": {"Status": "RESOLVED"}}, "benign"),
        ({"Workflow": {"Status": "SUPPRESSED"}}, "benign"),
        ({"WorkflowState": "RESOLVED"}, "benign"),
        ({"Workflow": {"Status": "NOTIFIED"}}, "tamper"),
    ],
)
def test_security_hub_finding_states(changes, expected):
    raw = {**raw_copy(SH), **changes}
    assert classify(rebuild(raw), Inventory()).verdict == expected


def test_finding_trail_from_newer_product_field_prefix_and_from_title():
    raw = raw_copy(SH)
    fields = raw["ProductFields"]
    old_key = "action/awsApiCallAction/affectedResources/AWS::CloudTrail::Trail"
    fields["aws/guardduty/service/" + old_key] = "arn:aws:cloudtrail:us-east-1:1:trail/myTrail2"
    del fields[old_key]
    verdict = classify(rebuild(raw), Inventory.from_dict(PROTECTING))
    assert verdict.verdict == "tamper"
    assert verdict.resource == "arn:aws:cloudtrail:us-west-2:123456789012:trail/myTrail2"
    del fields["aws/guardduty/service/" + old_key]
    verdict = classify(rebuild(raw), Inventory())
    assert verdict.resource == "arn:aws:cloudtrail:us-east-1:123456789012:trail/test-trail"  # from the title


def test_finding_without_a_trail_still_counts():
    raw = raw_copy(SH)
    raw["Title"] = raw["Description"] = "CloudTrail logging was disabled."
    del raw["ProductFields"]["action/awsApiCallAction/affectedResources/AWS::CloudTrail::Trail"]
    verdict = classify(rebuild(raw), Inventory.from_dict(PROTECTING))
    assert (verdict.verdict, verdict.resource) == ("tamper", None)


def test_archived_guardduty_finding_is_benign():
    raw = raw_copy(GD)
    raw["Service"]["Archived"] = True
    assert classify(rebuild(raw), Inventory()).verdict == "benign"
