"""KMS keys: every reference form reads as a key id or an alias."""

from __future__ import annotations

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
