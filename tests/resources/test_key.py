"""KMS keys: every reference form reads as a key id or an alias."""

from __future__ import annotations

from trailguard.remediate.key import cloudtrail_access
from trailguard.resources import key

ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def test_parse_ref_every_form() -> None:
    assert key.parse_ref(ID) == ("key", ID)
    assert key.parse_ref(f"arn:aws:kms:us-east-1:1:key/{ID}") == ("key", ID)
    assert key.parse_ref("alias/trail") == ("alias", "trail")
    assert key.parse_ref("arn:aws:kms:us-east-1:1:alias/trail") == ("alias", "trail")


def test_key_id_keeps_aliases() -> None:
    assert key.key_id(f"arn:aws:kms:us-east-1:1:key/{ID}") == ID
    assert key.key_id("alias/trail") == "alias/trail"


def test_kind_facts() -> None:
    assert key.KIND.noun == "KMS key" and key.KIND.label(ID) == f"KMS key {ID}"
    assert key.KIND.ident(f"arn:aws:kms:us-east-1:1:key/{ID}") == ID
    assert key.KIND.stored_id("alias/trail", {"KeyId": ID}) == ID
    assert key.KIND.is_gone("NotFoundException")
    assert key.KIND.summary_fields == ("KeyState", "Aliases")


def test_the_documented_cloudtrail_key_policy_grants_its_trails_and_no_other() -> None:
    """The policy the local cloud gives its trail key is one the key.policy-change reader accepts for
    the trails it names, and only for those."""
    mine = "arn:aws:cloudtrail:us-east-1:123456789012:trail/mine"
    other = "arn:aws:cloudtrail:us-east-1:123456789012:trail/other"
    policy = key.cloudtrail_key_policy("123456789012", [mine])
    assert cloudtrail_access(policy, [mine])[0] == "granted"
    assert cloudtrail_access(policy, [other])[0] == "lost"
