"""The guard family's conditions (``policy/techniques/guard.py``): trailguard's own function, topic, rules
and the GuardDuty detector, on real records modified by hand."""

from __future__ import annotations

import pytest
from policy_support import PROTECTING, raw_copy, rebuild

from trailguard.policy import Inventory, classify

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
