"""The detection-chain repairs against in-process moto: ``guardduty.remove_suppression`` and the two
Security Hub actions. moto lacks GuardDuty ``ListFilters`` and Security Hub's product integrations and
automation rules; these tests install the local cloud's stand-ins for them
(``trailguard.local.guardduty_patch``, ``securityhub_config_patch``; docs/local-cloud.md) on the
in-process backend, so the calls are real moto requests parsed by botocore."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from trailguard.config import Config
from trailguard.events import records_from_object
from trailguard.inventory import build
from trailguard.local import guardduty_patch, securityhub_config_patch
from trailguard.policy import TECHNIQUES, Inventory, classify
from trailguard.remediate import Context, Outcome, RepairRequest, remediate, repair

from .conftest import ACCOUNT, REGION

ARCHIVE_TRAIL_DISABLED = {"Criterion": {"type": {"Eq": ["Stealth:IAMUser/CloudTrailLoggingDisabled"]}}}
HIDE = [{"Type": "FINDING_FIELDS_UPDATE", "FindingFieldsUpdate": {"Workflow": {"Status": "SUPPRESSED"}}}]
TYPE_CRITERIA = {
    "Type": [
        {"Value": "TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled", "Comparison": "EQUALS"}
    ]
}


@pytest.fixture
def patched(moto_aws: dict[str, str]) -> Iterator[dict[str, str]]:
    guardduty_patch.install()
    securityhub_config_patch.install()
    try:
        yield moto_aws
    finally:
        securityhub_config_patch.uninstall()
        guardduty_patch.uninstall()


def _ctx() -> Context:
    return Context(build(Config(), REGION, []), verify_delay=0.0, sleep=lambda _: None)


def _event(source: str, name: str, params: dict[str, Any], response: Any = None) -> Any:
    detail = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/attacker",
            "accountId": ACCOUNT,
        },
        "eventTime": "2026-12-01T00:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "127.0.0.1",
        "requestParameters": params,
        "responseElements": response,
        "eventID": "0f0e0d0c-0000-4000-8000-000000000001",
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    (record,) = records_from_object(detail)
    return record


def _run(record: Any) -> Outcome:
    verdict = classify(record, Inventory())
    assert verdict.verdict == "tamper", verdict.reason
    return remediate(_ctx(), verdict)


def test_a_new_suppression_filter_is_deleted(patched: dict[str, str]) -> None:
    gd = boto3.client("guardduty", region_name=REGION)
    detector = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_filter(
        DetectorId=detector, Name="quiet", Action="ARCHIVE", FindingCriteria=ARCHIVE_TRAIL_DISABLED
    )
    outcome = _run(
        _event(
            "guardduty.amazonaws.com",
            "CreateFilter",
            {
                "detectorId": detector,
                "name": "quiet",
                "action": "ARCHIVE",
                "findingCriteria": {
                    "criterion": {"type": {"eq": ["Stealth:IAMUser/CloudTrailLoggingDisabled"]}}
                },
            },
        )
    )
    assert outcome.status == "remediated" and outcome.verified, outcome.summary
    assert gd.list_filters(DetectorId=detector)["FilterNames"] == []
    assert [c.operation for c in outcome.calls] == ["GetFilter", "DeleteFilter", "GetFilter"]
    # again: nothing left to do
    again = _run(
        _event(
            "guardduty.amazonaws.com",
            "CreateFilter",
            {"detectorId": detector, "name": "quiet", "action": "ARCHIVE"},
        )
    )
    assert again.status == "already-restored"


def test_an_updated_filter_goes_back_to_its_baseline(patched: dict[str, str]) -> None:
    gd = boto3.client("guardduty", region_name=REGION)
    detector = gd.create_detector(Enable=True)["DetectorId"]
    noise = {"Criterion": {"type": {"Eq": ["Recon:EC2/PortProbeUnprotectedPort"]}}}
    gd.create_filter(DetectorId=detector, Name="noise", Action="ARCHIVE", FindingCriteria=noise, Rank=1)
    baseline = {
        "DetectorId": detector,
        "Region": REGION,
        "Filters": {"noise": {"Action": "ARCHIVE", "Rank": 1, "FindingCriteria": noise}},
    }
    gd.update_filter(DetectorId=detector, FilterName="noise", FindingCriteria=ARCHIVE_TRAIL_DISABLED)
    technique = TECHNIQUES["guardduty.suppression"]
    outcome = repair(_ctx(), technique, RepairRequest(technique.kind, detector, "sweep", baseline))
    assert outcome.status == "remediated", outcome.summary
    assert gd.get_filter(DetectorId=detector, FilterName="noise")["FindingCriteria"] == noise
    assert "UpdateFilter" in [c.operation for c in outcome.calls]


def test_guardduty_import_is_enabled_again(patched: dict[str, str]) -> None:
    hub = boto3.client("securityhub", region_name=REGION)
    hub.enable_security_hub(EnableDefaultStandards=False)
    sub = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product-subscription/aws/guardduty"
    hub.disable_import_findings_for_product(ProductSubscriptionArn=sub)
    outcome = _run(
        _event(
            "securityhub.amazonaws.com", "DisableImportFindingsForProduct", {"ProductSubscriptionArn": sub}
        )
    )
    assert outcome.status == "remediated" and outcome.verified, outcome.summary
    assert sub in hub.list_enabled_products_for_import()["ProductSubscriptions"]


def test_a_suppressing_automation_rule_is_disabled(patched: dict[str, str]) -> None:
    hub = boto3.client("securityhub", region_name=REGION)
    hub.enable_security_hub(EnableDefaultStandards=False)
    arn = hub.create_automation_rule(
        RuleName="hush", RuleOrder=1, Description="x", Criteria=TYPE_CRITERIA, Actions=HIDE
    )["RuleArn"]
    outcome = _run(
        _event(
            "securityhub.amazonaws.com",
            "CreateAutomationRule",
            {"RuleName": "hush", "Criteria": TYPE_CRITERIA, "Actions": HIDE},
            {"RuleArn": arn},
        )
    )
    assert outcome.status == "remediated" and outcome.verified, outcome.summary
    (rule,) = hub.batch_get_automation_rules(AutomationRulesArns=[arn])["Rules"]
    assert rule["RuleStatus"] == "DISABLED"
