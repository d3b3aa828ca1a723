"""The detection-chain conditions (pure): which filters and automation rules hide the trail-disabled
finding, and which product integration carries it. Records are constructed in CloudTrail's shape (no
public record of these calls was found); the local cloud's recorder writes the same shape."""

from __future__ import annotations

from typing import Any

import pytest

from trailguard.events import records_from_object
from trailguard.policy import Inventory, classify

GD_TYPE = "Stealth:IAMUser/CloudTrailLoggingDisabled"


def _verdict(source: str, name: str, params: dict[str, Any]) -> Any:
    (record,) = records_from_object(
        {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "arn": "arn:aws:iam::123456789012:user/a",
                "accountId": "123456789012",
            },
            "eventTime": "2026-12-01T00:00:00Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "requestParameters": params,
            "eventID": "1",
            "eventType": "AwsApiCall",
            "recipientAccountId": "123456789012",
        }
    )
    return classify(record, Inventory())


@pytest.mark.parametrize(
    ("action", "criterion", "verdict"),
    [
        ("ARCHIVE", {"type": {"eq": [GD_TYPE]}}, "tamper"),
        ("ARCHIVE", {"severity": {"lte": 4}}, "tamper"),
        ("ARCHIVE", {}, "tamper"),
        ("ARCHIVE", {"type": {"eq": ["Recon:EC2/PortProbeUnprotectedPort"]}}, "benign"),
        ("ARCHIVE", {"type": {"neq": [GD_TYPE]}}, "benign"),
        ("ARCHIVE", {"severity": {"gte": 7}}, "benign"),
        ("NOOP", {"type": {"eq": [GD_TYPE]}}, "benign"),
    ],
)
def test_guardduty_filters(action: str, criterion: dict[str, Any], verdict: str) -> None:
    found = _verdict(
        "guardduty.amazonaws.com",
        "CreateFilter",
        {"detectorId": "d1", "name": "f", "action": action, "findingCriteria": {"criterion": criterion}},
    )
    assert found.verdict == verdict, found.reason
    if verdict == "tamper":
        assert found.technique_id == "guardduty.suppression"
        assert found.resource == "arn:aws:guardduty:us-east-1:123456789012:detector/d1/filter/f"


@pytest.mark.parametrize(("product", "verdict"), [("aws/guardduty", "tamper"), ("aws/macie", "benign")])
def test_product_integrations(product: str, verdict: str) -> None:
    arn = f"arn:aws:securityhub:us-east-1:123456789012:product-subscription/{product}"
    found = _verdict(
        "securityhub.amazonaws.com", "DisableImportFindingsForProduct", {"ProductSubscriptionArn": arn}
    )
    assert found.verdict == verdict
    assert verdict == "benign" or found.technique_id == "securityhub.import-disabled"


HIDE = [{"Type": "FINDING_FIELDS_UPDATE", "FindingFieldsUpdate": {"Workflow": {"Status": "SUPPRESSED"}}}]
NOTE = [{"Type": "FINDING_FIELDS_UPDATE", "FindingFieldsUpdate": {"Note": {"Text": "x", "UpdatedBy": "y"}}}]


@pytest.mark.parametrize(
    ("criteria", "actions", "verdict"),
    [
        (
            {
                "Type": [
                    {
                        "Value": "TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled",
                        "Comparison": "EQUALS",
                    }
                ]
            },
            HIDE,
            "tamper",
        ),
        ({"ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}]}, HIDE, "tamper"),
        ({"GeneratorId": [{"Value": "trailguard/", "Comparison": "PREFIX"}]}, HIDE, "tamper"),
        ({"ProductName": [{"Value": "Inspector", "Comparison": "EQUALS"}]}, HIDE, "benign"),
        ({"ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}]}, NOTE, "benign"),
    ],
)
def test_automation_rules(criteria: dict[str, Any], actions: list[Any], verdict: str) -> None:
    found = _verdict(
        "securityhub.amazonaws.com",
        "CreateAutomationRule",
        {"RuleName": "r", "RuleOrder": 1, "Criteria": criteria, "Actions": actions},
    )
    assert found.verdict == verdict, found.reason


def test_a_rule_not_in_security_hubs_spelling_is_never_read_as_harmless() -> None:
    """CloudTrail writes Security Hub's parameters as sent (PascalCase); a record spelled otherwise shows
    no criteria or actions, so the rule is judged as one that may hide the finding (fail closed)."""
    found = _verdict(
        "securityhub.amazonaws.com",
        "CreateAutomationRule",
        {
            "ruleName": "r",
            "criteria": {"productName": [{"value": "Inspector", "comparison": "EQUALS"}]},
            "actions": [{"type": "FINDING_FIELDS_UPDATE", "findingFieldsUpdate": {"note": {"text": "x"}}}],
        },
    )
    assert found.verdict == "tamper"
    assert "without saying all of its criteria" in found.reason


@pytest.mark.parametrize(
    ("params", "verdict"),
    [
        ({"retentionPeriod": 7}, "tamper"),
        ({"terminationProtectionEnabled": False}, "tamper"),
        ({"multiRegionEnabled": False}, "tamper"),
        ({"multiRegionEnabled": True, "terminationProtectionEnabled": True}, "benign"),
        (
            {
                "advancedEventSelectors": [
                    {"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}
                ]
            },
            "tamper",
        ),
        (
            {
                "advancedEventSelectors": [
                    {"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}
                ]
            },
            "benign",
        ),
        ({"retentionPeriod": 2557}, "benign"),
    ],
)
def test_lake_updates(params: dict[str, Any], verdict: str) -> None:
    store = "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/abc"
    found = _verdict("cloudtrail.amazonaws.com", "UpdateEventDataStore", {"eventDataStore": store, **params})
    assert found.verdict == verdict, found.reason
