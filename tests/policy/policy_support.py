"""Inventories and record builders shared by the policy tests (imported as ``policy_support``).

``PROTECTING`` makes every context-dependent record of tests/data/events protected (its trail, bucket,
key or guard resource is listed); ``UNRELATED`` is a realistic inventory in which none of them is.
Hand-built records start from copies of the real ones, so they keep real CloudTrail's shape.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import corpus
from trailguard.events import Record, iter_path, records_from_object

EVENTS_DIR = corpus.EVENTS


def _trail(name: str, account: str, region: str = "us-west-2", **extra: Any) -> dict[str, Any]:
    """A trail as DescribeTrails returns it in trailList."""
    entry: dict[str, Any] = {
        "Name": name,
        "S3BucketName": f"{name.lower()}-logs",
        "IncludeGlobalServiceEvents": True,
        "IsMultiRegionTrail": True,
        "HomeRegion": region,
        "TrailARN": f"arn:aws:cloudtrail:{region}:{account}:trail/{name}",
        "LogFileValidationEnabled": True,
        "HasCustomEventSelectors": False,
        "HasInsightSelectors": False,
        "IsOrganizationTrail": False,
    }
    entry.update(extra)
    return entry


GUARD_ROLE = "arn:aws:iam::123456789012:role/trailguard-remediation"
BREAK_GLASS = "arn:aws:iam::123456789012:role/break-glass"

# The classify output keys, in order, as detection-policy.md documents them (the tests' own copy of the
# contract, deliberately not imported from the code under test).
OUTPUT_KEYS = [
    "source",
    "index",
    "event_id",
    "event_name",
    "verdict",
    "technique",
    "resource",
    "principal",
    "reason",
]

PROTECTING: dict[str, Any] = {
    "account": "123456789012",
    "trails": [
        _trail("test-trail", "0123456789012", S3BucketName="test-cloudtrail-bucket"),
        _trail("TEST-trail", "0123456789012", S3BucketName="test-cloudtrail-bucket"),
        _trail("stratus-red-team-cloudtraild-trail-kvrwohmiai", "847129010505"),
        _trail(
            "example-trail",
            "123456789012",
            S3BucketName="example-bucket",
            KmsKeyId="arn:aws:kms:us-west-2:123456789012:key/1",
        ),
        _trail("sample-cloudtrail-name", "111122223333", S3BucketName="sample-cloudtrail-bucket-name"),
        _trail("stratus-red-team-ctes-trail-khlvciwdor", "958312252124"),
        _trail("stratus-red-team-ct-stop-trail-buykxbqejv", "143434273843"),
        _trail("management-events", "111111111111"),
        _trail("myTrail2", "123456789012"),
        _trail("sampleguardtrail", "10987654321", region="us-east-1"),
        _trail("GeneratedFindingCloudTrailName", "123456789012"),
        _trail(
            "docs-trail",
            "111122223333",
            S3BucketName="myawsbucket",
            KmsKeyId="arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            CloudWatchLogsLogGroupArn="arn:aws:logs:us-west-2:111122223333:log-group:CloudTrail/DefaultLogGroup:*",
            CloudWatchLogsRoleArn="arn:aws:iam::111122223333:role/CloudTrail_CloudWatchLogs_Role",
        ),
        _trail(
            "elastic-trail",
            "1010101010101",
            KmsKeyId="arn:aws:kms:us-east-1:1010101010101:key/65479477-67d5-4b84-b71c-d540f7a8f31f",
        ),
        _trail("grimoire-trail", "000000000", KmsKeyId="27d7cd14-7557-4509-a438-15fbf1e8db11"),
        _trail(
            "hsm-trail",
            "111122223333",
            KmsKeyId="arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
        ),
        _trail(
            "replica-trail",
            "111122223333",
            KmsKeyId="arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        ),
    ],
    "event_data_stores": [
        {
            "EventDataStoreArn": "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/"
            "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE",
            "Name": "org-lake",
            "Status": "ENABLED",
        }
    ],
    "guard": {
        "role_arns": [GUARD_ROLE],
        "rule_names": ["DailyLambdaFunction"],
        "function_names": ["basic-node-task"],
        "topic_arns": ["arn:aws:sns:us-east-1:123456789012:trailguard-alerts"],
    },
    "allowed_principal_arns": [BREAK_GLASS],
}

UNRELATED: dict[str, Any] = {
    "account": "123456789012",
    "trails": [
        _trail(
            "org-trail",
            "123456789012",
            S3BucketName="org-trail-logs",
            KmsKeyId="arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        )
    ],
    "event_data_stores": [
        {
            "EventDataStoreArn": "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/other-store-id",
            "Name": "other-store",
        }
    ],
    "guard": {
        "role_arns": [GUARD_ROLE],
        "rule_names": ["trailguard-api-calls"],
        "function_names": ["trailguard-remediate"],
        "topic_arns": ["arn:aws:sns:us-east-1:123456789012:trailguard-alerts"],
    },
}


manifest = corpus.manifest  # every row of MANIFEST.tsv (``manifest(kind, ...)``: those kinds only)


def expected_verdict(row: Mapping[str, str]) -> str:
    """The manifest's judgement in the policy's words: failed-tamper records are attempts."""
    verdict = row["expected_verdict"]
    return "attempt" if verdict == "failed-tamper" else verdict


def load(relpath: str) -> Record:
    """The one record a corpus file holds."""
    records = [r for r in iter_path(EVENTS_DIR / relpath)]
    assert len(records) == 1 and isinstance(records[0], Record), relpath
    return records[0]


def raw_copy(relpath: str) -> dict[str, Any]:
    """A deep copy of a corpus record's raw dict (the CloudTrail record, the finding), to modify."""
    return copy.deepcopy(dict(load(relpath).raw))


def rebuild(raw: Mapping[str, Any]) -> Record:
    (record,) = records_from_object(json.loads(json.dumps(raw)))
    return record
