"""Authenticated state on moto's KMS (GenerateMac / VerifyMac with a real HMAC_256 key) and DynamoDB:
records are signed bound to their (pk, sk), and a record rewritten, moved, unsigned or signed with another
key reads as absent and is reported as tampered."""

from __future__ import annotations

import boto3
import pytest

from aws_support import REGION, TABLE
from trailguard.baseline import Baselines
from trailguard.integrity import MAC_ATTRIBUTE, TAMPERED, Mac, SignedStore, message
from trailguard.state import StateStore

pytestmark = pytest.mark.integration


def hmac_key() -> str:
    kms = boto3.client("kms", region_name=REGION)
    return str(kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"])


def raw_item(pk: str, sk: str) -> dict:
    return boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}
    )["Item"]


def put_raw(item: dict) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=TABLE, Item=item)


def test_message_binds_the_key_and_the_exact_text() -> None:
    base = message("baseline#trail", "arn:a", '{"S3BucketName": "logs"}')
    assert len(base) == 32
    assert base != message("baseline#trail", "arn:b", '{"S3BucketName": "logs"}')
    assert base != message("baseline#bucket", "arn:a", '{"S3BucketName": "logs"}')
    assert base != message("baseline#trail", "arn:a", '{"S3BucketName": "evil"}')
    # the framing is unambiguous: moving characters between the parts changes the message
    assert message("a#", "b", "c") != message("a", "#b", "c")


def test_signed_records_round_trip_and_carry_a_mac(store: StateStore) -> None:
    signed = SignedStore(store, Mac(hmac_key(), REGION))
    signed.put("baseline#trail", "arn:t", {"S3BucketName": "logs", "n": 1.5})
    assert signed.get("baseline#trail", "arn:t") == {"S3BucketName": "logs", "n": 1.5}
    assert signed.query("baseline#trail") == {"arn:t": {"S3BucketName": "logs", "n": 1.5}}
    assert raw_item("baseline#trail", "arn:t")[MAC_ATTRIBUTE]["S"]
    assert signed.tampered == []


def test_rewritten_moved_unsigned_and_foreign_records_are_tampered(store: StateStore) -> None:
    mac = Mac(hmac_key(), REGION)
    signed = SignedStore(store, mac)
    signed.put("baseline#trail", "arn:good", {"S3BucketName": "logs"})
    signed.put("baseline#trail", "arn:edited", {"S3BucketName": "logs"})
    # 1. the document rewritten, the MAC kept
    item = raw_item("baseline#trail", "arn:edited")
    item["doc"] = {"S": item["doc"]["S"].replace("logs", "attacker-bucket")}
    put_raw(item)
    # 2. a valid record moved to another resource's key
    moved = raw_item("baseline#trail", "arn:good") | {"sk": {"S": "arn:moved"}}
    put_raw(moved)
    # 3. a record with no MAC at all (one PutItem)
    put_raw({"pk": {"S": "baseline#trail"}, "sk": {"S": "arn:new"}, "doc": {"S": '{"S3BucketName": "x"}'}})
    # 4. a record signed with the attacker's own HMAC key
    SignedStore(store, Mac(hmac_key(), REGION)).put("baseline#trail", "arn:foreign", {"S3BucketName": "x"})

    assert signed.query("baseline#trail") == {"arn:good": {"S3BucketName": "logs"}}
    reasons = {t.sk: t.reason for t in signed.tampered}
    assert reasons == {
        "arn:edited": "its MAC does not match its key and content",
        "arn:moved": "its MAC does not match its key and content",
        "arn:new": "it carries no MAC",
        "arn:foreign": "its MAC does not match its key and content",
    }
    assert all(t.text().startswith(TAMPERED) and t.sk in t.text() for t in signed.tampered)
    assert signed.get("baseline#trail", "arn:edited") is None
    assert len(signed.tampered) == 4  # each item reported once


def test_a_garbled_mac_is_tampered_not_an_error(store: StateStore) -> None:
    signed = SignedStore(store, Mac(hmac_key(), REGION))
    signed.put("config", "stack", {"a": 1})
    item = raw_item("config", "stack")
    item[MAC_ATTRIBUTE] = {"S": "not base64 !!"}
    put_raw(item)
    assert signed.get("config", "stack") is None
    assert signed.tampered[0].reason == "its MAC does not match its key and content"


def test_kms_unreachable_is_unverifiable_not_tampered(store: StateStore) -> None:
    signed = SignedStore(store, Mac(hmac_key(), REGION))
    signed.put("config", "stack", {"a": 1})
    broken = SignedStore(store, Mac(f"arn:aws:kms:{REGION}:123456789012:key/0000-missing", REGION))
    assert broken.get("config", "stack") is None
    assert broken.tampered[0].unverifiable is True
    assert "could not be verified" in broken.tampered[0].text()


def test_baselines_read_only_what_verifies(store: StateStore) -> None:
    baselines = Baselines(store, Mac(hmac_key(), REGION))
    baselines.put("bucket", "logs", {"Name": "logs"})
    baselines.put("bucket", "other", {"Name": "other"})
    item = raw_item("baseline#bucket", "other")
    item["doc"] = {"S": '{"Name": "attacker"}'}
    put_raw(item)
    fresh = Baselines(store, baselines.mac)
    assert fresh.of_kind("bucket") == {"logs": {"Name": "logs"}}
    assert fresh.get("bucket", "other") is None
    assert fresh.is_tampered("bucket", "other") and not fresh.is_tampered("bucket", "logs")
    assert [t.sk for t in fresh.tampered] == ["other"]
    # without a key nothing is verified (a stack deployed before the state key existed)
    assert Baselines(store).get("bucket", "other") == {"Name": "attacker"}


def test_a_derivation_that_failed_in_another_thread_is_made_again_by_the_signer(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The init's derivation refused (KMS throttled): a signature waiting for it asks KMS itself and
    signs; nothing is written unsigned and no one waits past the failure."""
    import threading

    from trailguard.integrity import DerivedMac

    DerivedMac.forget()
    mac = DerivedMac(hmac_key(), REGION)
    real = DerivedMac._derive
    started, release = threading.Event(), threading.Event()

    def refused_once(self: DerivedMac, slot: tuple[str, str], nonce: str) -> bytes:
        if threading.current_thread().name == "init":
            started.set()
            release.wait(5)
            raise RuntimeError("ThrottlingException")
        return real(self, slot, nonce)

    monkeypatch.setattr(DerivedMac, "_derive", refused_once)
    errors: list[BaseException] = []

    def init() -> None:
        try:
            mac.prepare()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=init, name="init")
    thread.start()
    started.wait(5)
    threading.Timer(0.2, release.set).start()
    signed = SignedStore(store, mac)
    signed.put("bursts", "x", {"a": 1})
    thread.join(5)
    assert [str(e) for e in errors] == ["ThrottlingException"]
    assert signed.get("bursts", "x") == {"a": 1}
    assert raw_item("bursts", "x")[MAC_ATTRIBUTE]["S"].startswith("k1.")
    DerivedMac.forget()
