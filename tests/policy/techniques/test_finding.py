"""The finding family's conditions (``policy/techniques/finding.py``): GuardDuty and Security Hub
findings of a disabled trail."""

from __future__ import annotations

import pytest
from policy_support import PROTECTING, raw_copy, rebuild

from trailguard.policy import Inventory, classify

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
    fields["aws/guardduty/service/" + old_key] = "arn:aws:cloudtrail:us-east-1:123456789012:trail/myTrail2"
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
