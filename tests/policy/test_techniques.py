"""The technique declarations: complete, unambiguous, self-describing, and the package stays pure."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from trailguard.policy import TECHNIQUES, Inventory, Technique, classify, required_permissions
from trailguard.policy.techniques import BY_EVENT, base_event_name, technique_for_call

IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$")


def test_every_technique_is_registered_under_its_id():
    """The docs list exactly the registry (tests/policy/test_techniques_doc.py); here the registry itself."""
    assert TECHNIQUES
    assert all(TECHNIQUES[key].id == key for key in TECHNIQUES)
    assert all(re.fullmatch(r"[a-z]+\.[a-z-]+", key) for key in TECHNIQUES)


def test_each_event_maps_to_at_most_one_technique_unless_both_share_it():
    seen: dict[tuple[str, str], Technique] = {}
    for technique in TECHNIQUES.values():
        for trigger in technique.triggers:
            if trigger in seen:
                assert technique.shares_calls and seen[trigger].shares_calls, (
                    f"{trigger} in {seen[trigger].id} and {technique.id}"
                )
                continue
            seen[trigger] = technique
    assert {k: t.id for k, t in seen.items()} == {trigger: t.id for trigger, t in BY_EVENT.items()}


@pytest.mark.parametrize("technique", TECHNIQUES.values(), ids=list(TECHNIQUES))
def test_declaration_is_complete(technique: Technique):
    assert re.fullmatch(r"T\d{4}(\.\d{3})?", technique.mitre)
    assert technique.title and technique.verification.endswith(".")
    assert re.fullmatch(r"[a-z]+\.[a-z_]+", technique.remediation)
    assert technique.event_source.endswith(".amazonaws.com")
    assert technique.event_names or technique.finding_types
    for action in technique.permissions:
        assert IAM_ACTION.match(action), action
        assert "*" not in action
    assert technique.permissions or technique.remediation == "notify.only"


def test_s3_permissions_use_iam_names_not_api_names():
    actions = required_permissions()
    assert {"s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration", "s3:GetBucketPolicy"} <= actions
    assert "s3:PutBucketLifecycleConfiguration" not in actions
    assert "s3:GetBucketLifecycleConfiguration" not in actions


def test_required_permissions_cover_techniques_and_runtime():
    from trailguard.permissions import RUNTIME_PERMISSIONS

    actions = required_permissions()
    assert actions >= RUNTIME_PERMISSIONS
    for technique in TECHNIQUES.values():
        assert set(technique.permissions) <= actions
    assert {
        "cloudtrail:StartLogging",
        "cloudtrail:GetTrailStatus",
        "kms:EnableKey",
        "kms:CancelKeyDeletion",
    } <= actions
    assert all(IAM_ACTION.match(a) for a in actions)


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("PutFunctionConcurrency20171031", "PutFunctionConcurrency"),
        ("UpdateFunctionConfiguration20150331v2", "UpdateFunctionConfiguration"),
        ("DeleteFunction20150331", "DeleteFunction"),
        ("DeleteFunction", "DeleteFunction"),
        ("StopLogging", "StopLogging"),
    ],
)
def test_base_event_name(name, base):
    assert base_event_name(name) == base


def test_lookup_is_by_source_and_name():
    assert technique_for_call("sns.amazonaws.com", "RemovePermission") is TECHNIQUES["guard.topic"]
    assert (
        technique_for_call("lambda.amazonaws.com", "RemovePermission20150331v2")
        is TECHNIQUES["guard.function"]
    )
    assert technique_for_call("ec2.amazonaws.com", "StopLogging") is None
    assert technique_for_call(None, "StopLogging") is None


def test_policy_package_imports_no_aws_sdk():
    code = (
        "import sys, trailguard.policy, trailguard.policy.techniques;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


CT = "cloudtrail.amazonaws.com"


def call(name: str, params: object, source: str = CT, **extra: object) -> dict[str, object]:
    return {"eventName": name, "eventSource": source, "requestParameters": params, **extra}


MESSY = [
    call("StopLogging", None),
    call("StopLogging", "odd"),
    call("StopLogging", {"name": 7}),
    call(
        "UpdateTrail",
        {"name": "t", "s3BucketName": ["x"], "isMultiRegionTrail": "maybe", "kmsKeyId": {"a": 1}},
    ),
    call("PutEventSelectors", {"trailName": "t", "eventSelectors": [None, 3, {"readWriteType": None}]}),
    call("PutEventSelectors", {"trailName": "t", "advancedEventSelectors": [{"fieldSelectors": "x"}, 1]}),
    call(
        "PutBucketLifecycle",
        {
            "bucketName": "test-cloudtrail-bucket",
            "LifecycleConfiguration": {"Rule": [None, {"Expiration": "soon"}]},
        },
        "s3.amazonaws.com",
    ),
    call("PutFunctionConcurrency20171031", {"functionName": "f", "reservedConcurrentExecutions": "zero"}),
    {"eventName": 12, "eventSource": None, "userIdentity": "nobody", "errorCode": {"x": 1}},
    call("DisableKey", None, "kms.amazonaws.com", resources="none"),
]


@pytest.mark.parametrize("raw", MESSY)
def test_classify_is_total_on_messy_records(raw):
    from policy_support import PROTECTING, rebuild

    for inventory in (Inventory(), Inventory.from_dict(PROTECTING)):
        verdict = classify(rebuild(raw), inventory)
        assert verdict.verdict in ("tamper", "attempt", "allowed", "benign")
        assert verdict.reason


def test_inventory_from_messy_dict_does_not_raise():
    inv = Inventory.from_dict(
        {"trails": "x", "guard": [], "allowed_principal_arns": 5, "retention_days": "9"}
    )
    assert inv.trails == () and inv.guard.role_arns == () and inv.retention_days == 365
    assert Inventory.from_dict(None) == Inventory()
    assert not Inventory().knows_trails and Inventory.from_dict({"trails": []}).knows_trails
