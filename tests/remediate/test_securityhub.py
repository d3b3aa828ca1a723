"""The Security Hub repairs (``securityhub.enable_import``, ``securityhub.disable_rule``) against
in-process moto, from the event and from the backstop. moto lacks Security Hub's product integrations
and automation rules: the local cloud's stand-ins (``trailguard.local.securityhub_config_patch``,
docs/local-cloud.md) are installed on the in-process backend, so every call is a real moto request."""

from __future__ import annotations

import boto3

from trailguard import sweep
from trailguard.baseline.capture import Clients
from trailguard.resources import automation as automation_kind
from trailguard.resources import product as product_kind

from .detection_support import ACCOUNT, HIDE, REGION, TYPE_CRITERIA, patched
from .detection_support import ctx as _ctx
from .detection_support import event as _event
from .detection_support import run as _run

__all__ = ["patched"]


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


def test_the_backstop_re_enables_the_integration_recorded_in_the_baseline(patched: dict[str, str]) -> None:
    hub = boto3.client("securityhub", region_name=REGION)
    hub.enable_security_hub(EnableDefaultStandards=False)
    [(ident, baseline)] = product_kind.discover(Clients(REGION), "test")
    assert ident == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default"
    sub = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product-subscription/aws/guardduty"
    assert sub in baseline["ProductSubscriptions"]
    hub.disable_import_findings_for_product(ProductSubscriptionArn=sub)

    (outcome,) = sweep.reconcile(_ctx(), "product", ident, baseline)

    assert outcome.status == "remediated", outcome.summary
    assert sub in hub.list_enabled_products_for_import()["ProductSubscriptions"]


def test_the_backstop_does_not_enable_an_integration_that_was_off_at_baseline(
    patched: dict[str, str],
) -> None:
    hub = boto3.client("securityhub", region_name=REGION)
    hub.enable_security_hub(EnableDefaultStandards=False)
    sub = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product-subscription/aws/guardduty"
    hub.disable_import_findings_for_product(ProductSubscriptionArn=sub)
    [(ident, baseline)] = product_kind.discover(Clients(REGION), "test")

    assert sweep.reconcile(_ctx(), "product", ident, baseline) == []
    assert sub not in hub.list_enabled_products_for_import()["ProductSubscriptions"]


def test_the_backstop_disables_a_suppressing_rule_and_leaves_others(patched: dict[str, str]) -> None:
    hub = boto3.client("securityhub", region_name=REGION)
    hub.enable_security_hub(EnableDefaultStandards=False)
    note = [
        {"Type": "FINDING_FIELDS_UPDATE", "FindingFieldsUpdate": {"Note": {"Text": "t", "UpdatedBy": "u"}}}
    ]
    keep = hub.create_automation_rule(
        RuleName="tag", RuleOrder=2, Description="x", Criteria=TYPE_CRITERIA, Actions=note
    )["RuleArn"]
    [(ident, baseline)] = automation_kind.discover(Clients(REGION), "test")
    assert [r["RuleArn"] for r in baseline["Rules"]] == [keep]
    hush = hub.create_automation_rule(
        RuleName="hush", RuleOrder=1, Description="x", Criteria=TYPE_CRITERIA, Actions=HIDE
    )["RuleArn"]

    (outcome,) = sweep.reconcile(_ctx(), "automation", ident, baseline)

    assert outcome.status == "remediated", outcome.summary
    rules = {
        r["RuleArn"]: r["RuleStatus"]
        for r in hub.batch_get_automation_rules(AutomationRulesArns=[keep, hush])["Rules"]
    }
    assert rules == {keep: "ENABLED", hush: "DISABLED"}
