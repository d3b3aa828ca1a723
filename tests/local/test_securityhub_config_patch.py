"""Security Hub product integrations and automation rules in the local cloud
(``trailguard.local.securityhub_config_patch``), stand-ins for moto gaps (docs/local-cloud.md): AWS's
replies and errors, and their effect on the emulated GuardDuty finding (a disabled integration imports
nothing; an enabled rule rewrites the finding on arrival). The patch lives only while a cloud runs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from trailguard.local import guardduty_patch, securityhub_config_patch, securityhub_patch
from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration

GD_PRODUCT = "arn:aws:securityhub:us-east-1::product/aws/guardduty"
GD_SUB = "arn:aws:securityhub:us-east-1:123456789012:product-subscription/aws/guardduty"
HIDE = [{"Type": "FINDING_FIELDS_UPDATE", "FindingFieldsUpdate": {"Workflow": {"Status": "SUPPRESSED"}}}]
BY_PRODUCT = {"ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}]}


def _code(exc: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _gd_finding() -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": f"gd-{uuid.uuid4().hex[:8]}",
        "ProductArn": GD_PRODUCT,
        "ProductName": "GuardDuty",
        "CompanyName": "Amazon",
        "GeneratorId": "Stealth:IAMUser/CloudTrailLoggingDisabled",
        "AwsAccountId": "123456789012",
        "Types": ["TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled"],
        "CreatedAt": "2026-01-01T00:00:00.000Z",
        "UpdatedAt": "2026-01-01T00:00:00.000Z",
        "Severity": {"Label": "LOW"},
        "Title": "t",
        "Description": "d",
        "Resources": [
            {"Type": "AwsCloudTrailTrail", "Id": "arn:aws:cloudtrail:us-east-1:123456789012:trail/x"}
        ],
        "Workflow": {"Status": "NEW"},
    }


def test_the_patches_live_only_while_a_local_cloud_runs(tmp_path: Path) -> None:
    assert not securityhub_config_patch.installed() and not guardduty_patch.installed()
    with LocalCloud(outbox_dir=tmp_path / "outbox", finding_delay=None):
        assert securityhub_config_patch.installed() and guardduty_patch.installed()
    assert not securityhub_config_patch.installed() and not guardduty_patch.installed()


def test_product_integrations_behave_as_on_aws(cloud: LocalCloud) -> None:
    hub = cloud.client("securityhub")
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        hub.list_enabled_products_for_import()
    assert _code(denied) == "InvalidAccessException"  # not subscribed yet
    hub.enable_security_hub(EnableDefaultStandards=False)
    try:
        assert GD_SUB in hub.list_enabled_products_for_import()["ProductSubscriptions"]
        with pytest.raises(botocore.exceptions.ClientError) as twice:
            hub.enable_import_findings_for_product(ProductArn=GD_PRODUCT)
        assert _code(twice) == "ResourceConflictException"
        hub.disable_import_findings_for_product(ProductSubscriptionArn=GD_SUB)
        assert GD_SUB not in hub.list_enabled_products_for_import()["ProductSubscriptions"]
        with pytest.raises(botocore.exceptions.ClientError) as gone:
            hub.disable_import_findings_for_product(ProductSubscriptionArn=GD_SUB)
        assert _code(gone) == "ResourceNotFoundException"
        # a disabled integration imports nothing; enabled again, it does
        assert securityhub_patch.import_finding(_gd_finding()) is None
        assert (
            hub.enable_import_findings_for_product(ProductArn=GD_PRODUCT)["ProductSubscriptionArn"] == GD_SUB
        )
        assert securityhub_patch.import_finding(_gd_finding()) is not None
    finally:
        hub.disable_security_hub()


def test_automation_rules_are_kept_updated_and_applied_on_import(cloud: LocalCloud) -> None:
    hub = cloud.client("securityhub")
    hub.enable_security_hub(EnableDefaultStandards=False)
    try:
        arn = hub.create_automation_rule(
            RuleName="hush", RuleOrder=1, Description="d", Criteria=BY_PRODUCT, Actions=HIDE
        )["RuleArn"]
        (listed,) = hub.list_automation_rules()["AutomationRulesMetadata"]
        assert listed["RuleArn"] == arn and listed["RuleStatus"] == "ENABLED"
        stored = securityhub_patch.import_finding(_gd_finding())
        assert stored is not None and stored["Workflow"]["Status"] == "SUPPRESSED"

        reply = hub.batch_update_automation_rules(
            UpdateAutomationRulesRequestItems=[
                {"RuleArn": arn, "RuleStatus": "DISABLED"},
                {"RuleArn": arn + "x"},
            ]
        )
        assert reply["ProcessedAutomationRules"] == [arn]
        assert [u["RuleArn"] for u in reply["UnprocessedAutomationRules"]] == [arn + "x"]
        (rule,) = hub.batch_get_automation_rules(AutomationRulesArns=[arn])["Rules"]
        assert rule["RuleStatus"] == "DISABLED" and rule["Criteria"] == BY_PRODUCT
        stored = securityhub_patch.import_finding(_gd_finding())
        assert stored is not None and stored["Workflow"]["Status"] == "NEW"

        with pytest.raises(botocore.exceptions.ClientError) as bad:
            hub.create_automation_rule(
                RuleName="x", RuleOrder=5000, Description="d", Criteria={}, Actions=HIDE
            )
        assert _code(bad) == "InvalidInputException"
        assert hub.batch_delete_automation_rules(AutomationRulesArns=[arn])["ProcessedAutomationRules"] == [
            arn
        ]
    finally:
        hub.disable_security_hub()


def test_guardduty_lists_filters(cloud: LocalCloud) -> None:
    gd = cloud.client("guardduty")
    detector = gd.create_detector(Enable=True)["DetectorId"]
    try:
        for name in ("bbb", "aaa"):
            gd.create_filter(DetectorId=detector, Name=name, Action="NOOP", FindingCriteria={"Criterion": {}})
        assert gd.list_filters(DetectorId=detector)["FilterNames"] == ["bbb", "aaa"]
        with pytest.raises(botocore.exceptions.ClientError) as unknown:
            gd.list_filters(DetectorId="0" * 32)
        assert _code(unknown) == "BadRequestException"  # as GetDetector answers, on AWS too
    finally:
        gd.delete_detector(DetectorId=detector)
