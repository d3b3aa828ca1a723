"""The key family's conditions (``policy/techniques/key.py``). ``key.policy-change``: the AWS-documented
PutKeyPolicy record, its new policy rewritten by hand, judged against inventories that do and do not
name the key as a protected trail's; the key resolved through the inventory."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from policy_support import PROTECTING, UNRELATED

from trailguard.events import Record
from trailguard.policy import Inventory, classify
from trailguard.remediate.key import cloudtrail_access

RECORD = "tamper/kms_putkeypolicy_awsdocs.json"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-west-2:111122223333:key/{KEY_ID}"
TRAIL_ARN = "arn:aws:cloudtrail:us-west-2:111122223333:trail/docs-trail"  # PROTECTING's trail on this key

ROOT = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def cloudtrail(**changes: Any) -> dict[str, Any]:
    """CloudTrail's statement as the console writes it, with ``changes`` (None removes a field)."""
    statement: dict[str, Any] = {
        "Sid": "Allow CloudTrail to encrypt logs",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "kms:GenerateDataKey*",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"AWS:SourceArn": TRAIL_ARN},
            "StringLike": {
                "kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:111122223333:trail/*"
            },
        },
    }
    statement.update(changes)
    return {k: v for k, v in statement.items() if v is not None}


def deny(principal: Any, action: Any = "kms:GenerateDataKey*") -> dict[str, Any]:
    return {"Sid": "NoLogs", "Effect": "Deny", "Principal": principal, "Action": action, "Resource": "*"}


@pytest.fixture
def put(modified: Callable[..., Record]) -> Callable[..., Record]:
    """The real record with its ``policy`` parameter replaced (a policy dict, or raw text)."""

    def build(policy: Any, **params: Any) -> Record:
        text = (
            policy if isinstance(policy, str) else json.dumps({"Version": "2012-10-17", "Statement": policy})
        )
        original = json.loads(json.dumps(modified(RECORD).request_parameters))
        return modified(RECORD, params={**original, "policy": text, **params})

    return build


PROTECTED = Inventory.from_dict(PROTECTING)


def test_the_documented_record_drops_cloudtrail_and_is_tamper(modified: Callable[..., Record]) -> None:
    verdict = classify(modified(RECORD), PROTECTED)
    assert verdict.verdict == "tamper" and verdict.technique_id == "key.policy-change"
    assert verdict.resource == KEY_ARN
    assert (
        "docs-trail" in verdict.reason
        and "no longer lets cloudtrail.amazonaws.com use the key" in verdict.reason
    )


@pytest.mark.parametrize(
    ("statements", "reason"),
    [
        ([ROOT, cloudtrail(), deny({"Service": "cloudtrail.amazonaws.com"})], "explicitly denies CloudTrail"),
        ([ROOT, cloudtrail(), deny("*", "kms:*")], "explicitly denies CloudTrail"),
        (
            [ROOT, cloudtrail(), deny({"AWS": "*"}, ["kms:Encrypt", "kms:GenerateDataKey"])],
            "explicitly denies",
        ),
        ([ROOT, cloudtrail(Action="kms:Decrypt")], "no longer lets cloudtrail.amazonaws.com use the key"),
        (
            [ROOT, cloudtrail(Principal={"Service": "config.amazonaws.com"})],
            "no longer lets cloudtrail.amazonaws.com use the key",
        ),
        (
            [
                ROOT,
                cloudtrail(Condition={"StringEquals": {"aws:SourceArn": TRAIL_ARN.replace("docs", "other")}}),
            ],
            "no longer lets cloudtrail.amazonaws.com use the key",
        ),
        (
            [
                ROOT,
                cloudtrail(
                    Condition={"StringNotLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:*:trail/docs-*"}}
                ),
            ],
            "no longer lets cloudtrail.amazonaws.com use the key",
        ),
        ([ROOT, cloudtrail(Effect="Deny")], "explicitly denies"),
    ],
    ids=[
        "deny-cloudtrail",
        "deny-star",
        "deny-aws-star",
        "wrong-action",
        "other-service",
        "other-trail",
        "not-this-trail",
        "allow-turned-deny",
    ],
)
def test_a_policy_that_drops_or_denies_cloudtrail_is_tamper(
    put: Callable[..., Record], statements: list[Any], reason: str
) -> None:
    verdict = classify(put(statements), PROTECTED)
    assert verdict.verdict == "tamper", verdict.reason
    assert verdict.technique_id == "key.policy-change" and reason in verdict.reason


@pytest.mark.parametrize(
    "statements",
    [
        [ROOT, cloudtrail()],
        [cloudtrail(Condition=None, Action=["kms:GenerateDataKey", "kms:DescribeKey"])],
        [
            ROOT,
            cloudtrail(
                Action="kms:*", Condition={"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:*:trail/*"}}
            ),
        ],
        [ROOT, cloudtrail(Condition={"StringEquals": {"aws:SourceAccount": "111122223333"}})],
        [ROOT, cloudtrail(), deny({"AWS": "arn:aws:iam::111122223333:user/Alice"}, "kms:*")],
        [ROOT, cloudtrail(), deny({"Service": "cloudtrail.amazonaws.com"}, "kms:Decrypt")],
        [
            ROOT,
            cloudtrail(),
            {
                "Sid": "Audit",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/audit"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
            },
        ],
    ],
    ids=[
        "keeps",
        "no-condition",
        "wildcards",
        "source-account",
        "deny-someone-else",
        "deny-other-action",
        "adds-unrelated",
    ],
)
def test_a_policy_that_keeps_cloudtrails_grant_is_harmless(
    put: Callable[..., Record], statements: list[Any]
) -> None:
    verdict = classify(put(statements), PROTECTED)
    assert verdict.verdict == "benign", verdict.reason
    assert verdict.technique is None and "still lets CloudTrail use the key" in verdict.reason


@pytest.mark.parametrize(
    "policy",
    [
        "{not json",
        json.dumps([ROOT]),
        json.dumps({"Statement": [ROOT, cloudtrail(Condition={"Bool": {"aws:ViaAWSService": "true"}})]}),
    ],
    ids=["unparseable", "not-a-document", "unknown-condition"],
)
def test_a_policy_that_cannot_be_judged_is_unknown_and_treated_as_tampering(
    put: Callable[..., Record], policy: str
) -> None:
    verdict = classify(put(policy), PROTECTED)
    assert verdict.verdict == "tamper" and verdict.technique_id == "key.policy-change"
    assert "treated as tampering" in verdict.reason


def test_a_record_without_the_policy_is_unknown(put: Callable[..., Record]) -> None:
    verdict = classify(put("   "), PROTECTED)
    assert verdict.verdict == "tamper" and "does not show the new policy" in verdict.reason


def test_a_key_that_encrypts_no_protected_trail_is_harmless(modified: Callable[..., Record]) -> None:
    verdict = classify(modified(RECORD), Inventory.from_dict(UNRELATED))
    assert verdict.verdict == "benign" and verdict.technique is None
    assert "encrypts none of the protected trails" in verdict.reason
    verdict = classify(modified(RECORD), Inventory())
    assert verdict.verdict == "benign" and verdict.reason.startswith("No inventory names")


def test_every_trail_on_the_key_must_keep_its_grant() -> None:
    other = TRAIL_ARN.replace("docs-trail", "second-trail")
    policy = {"Statement": [ROOT, cloudtrail()]}
    assert cloudtrail_access(policy, [TRAIL_ARN])[0] == "granted"
    access, why = cloudtrail_access(policy, [TRAIL_ARN, other])
    assert access == "lost" and other in why
    assert cloudtrail_access(policy, [None])[0] == "unclear"  # a trail ARN condition, no trail ARN known
    assert cloudtrail_access({"Statement": [cloudtrail(Condition=None)]}, [None])[0] == "granted"


# -- the other key techniques: the key named by alias, or only in the record's resources -------------


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
