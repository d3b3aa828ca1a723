"""The key family's conditions (``policy/techniques/key.py``): the key resolved through the inventory."""

from __future__ import annotations

from policy_support import PROTECTING

from trailguard.policy import Inventory, classify

# -- KMS, Lake, Lambda, SNS, detectors, findings ------------------------------------------------------


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
