"""Shared by the detection-chain repair tests (tests/remediate/test_guardduty.py, test_securityhub.py):
in-process moto with the local cloud's stand-ins installed. moto lacks GuardDuty ``ListFilters`` and
Security Hub's product integrations and automation rules; the fixture installs the local cloud's
stand-ins (``trailguard.local.guardduty_patch``, ``securityhub_config_patch``; docs/local-cloud.md) on
the in-process backend, so the calls are real moto requests parsed by botocore."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aws_support import ACCOUNT
from trailguard.config import Config
from trailguard.events import records_from_object
from trailguard.inventory import build
from trailguard.local import guardduty_patch, securityhub_config_patch
from trailguard.policy import Inventory, classify
from trailguard.remediate import Context, Outcome, remediate

REGION = "us-west-2"  # the remediate tests' region (tests/remediate/conftest.py)

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


def ctx() -> Context:
    return Context(build(Config(), REGION, []), verify_delay=0.0, sleep=lambda _: None)


def event(source: str, name: str, params: dict[str, Any], response: Any = None) -> Any:
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


def run(record: Any) -> Outcome:
    verdict = classify(record, Inventory())
    assert verdict.verdict == "tamper", verdict.reason
    return remediate(ctx(), verdict)
