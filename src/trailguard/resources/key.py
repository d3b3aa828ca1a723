"""KMS keys (a trail's encryption key): ids are key ids; references may be ids, key ARNs or aliases."""

from __future__ import annotations

from typing import Any

from trailguard.aws import region_of_arn as region_of
from trailguard.resources.base import Clients, Kind, arn_resource, meta


def parse_ref(ref: str) -> tuple[str, str]:
    """A KMS key reference as (kind, value): ("key", id) or ("alias", name), whatever form it was in."""
    ref = ref.strip()
    resource = arn_resource(ref)
    if resource.startswith("key/"):
        return "key", resource[4:]
    if resource.startswith("alias/"):
        return "alias", resource[6:]
    return "key", resource


def key_id(ref: str) -> str:
    """``id`` of ``id`` or ``arn:...:key/id``; aliases are returned as given (DescribeKey resolves them)."""
    if ref.startswith("arn:") and ":key/" in ref:
        return ref.split(":key/", 1)[1]
    return ref


def cloudtrail_key_policy(account: str, trail_arns: list[str]) -> dict[str, Any]:
    """The key policy CloudTrail documents for a trail key: the account's IAM delegation, CloudTrail
    encrypting for exactly ``trail_arns`` (``aws:SourceArn``, and the account's trails as encryption
    context), and CloudTrail describing the key. What the local cloud gives its trail key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Allow CloudTrail to encrypt logs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": sorted(trail_arns)},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account}:trail/*"
                    },
                },
            },
            {
                "Sid": "Allow CloudTrail to describe key",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
            },
        ],
    }


def capture_key(ref: str, clients: Clients, source: str, region: str | None = None) -> dict[str, Any]:
    """The trail key's state, aliases and key policy (its JSON text, as ``key.policy-change`` puts it
    back); ``ref`` may be an id, key ARN, alias or alias ARN, and is read in its ARN's region, else
    ``region`` (the trail's home region), else the clients' region. A policy that cannot be read is a
    note, not a failure: the key's state is still worth keeping."""
    region = region_of(ref) or region or clients.region
    kms = clients("kms", region)
    metadata = kms.describe_key(KeyId=ref)["KeyMetadata"]
    aliases = kms.list_aliases(KeyId=metadata["KeyId"]).get("Aliases") or []
    notes: list[str] = []
    try:
        policy = kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default").get("Policy")
    except Exception as exc:
        policy = None
        notes.append(f"GetKeyPolicy: {type(exc).__name__}: {exc}")
    return {
        "KeyId": metadata["KeyId"],
        "Arn": metadata.get("Arn"),
        "KeyState": metadata.get("KeyState"),
        "Enabled": metadata.get("Enabled"),
        "KeyManager": metadata.get("KeyManager"),
        "Region": region,
        "Aliases": sorted(str(a["AliasName"]) for a in aliases if a.get("AliasName")),
        "KeyPolicy": policy,
        "_meta": meta(source, notes),
    }


KIND = Kind(
    name="key",
    noun="KMS key",
    sweep_order=40,
    securityhub_type="AwsKmsKey",
    ident=key_id,
    gone_codes=frozenset({"NotFoundException"}),
    summary_fields=("KeyState", "Aliases"),
    iam_actions=("kms:*",),
    iam_reason="Trail KMS keys of the account.",
    iam_resources=("arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*",),
    capture=capture_key,
    baseline_order=3,
    id_field="KeyId",
)
