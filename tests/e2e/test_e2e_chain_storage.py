"""The trail's delivery chain on the local cloud, end to end: ``trailguard emulator`` as a subprocess (one
for the module), the real AWS CLI as the IAM user ``attacker`` against the trail's KMS key, its
CloudWatch Logs group and its S3 bucket (the world of ``trailguard.local.world``: key prefix, log group
with 365-day retention, versioned SSE-S3 bucket behind a public access block, S3 data events on the
bucket). For each attack: the resource is back at its baseline and the outbox holds a REPAIRED email
naming the call, the resource and the attacker, both within :data:`BOUND` seconds of the CLI returning.

No test puts anything back itself: that is the product's job, and the next test starts from it. Two
attacks of one technique on one resource within five minutes are one burst: the second is repaired,
and its email folded into the first's (``notify.ledger``); the test then reads the repair from the
emulator's invocation journal instead."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from emulator_support import ATTACKER, aws_cli, root_client, running_emulator
from emulator_support import eventually as _eventually

pytestmark = pytest.mark.e2e

ROOT_KEY = {"access_key_id": "AKIAE2ECHAINSTORAGE1", "secret_access_key": "e2e"}
BOUND = float(os.environ.get("TRAILGUARD_E2E_BOUND", "2.0"))
"""Seconds from the attack's return to the repair, and to the email (issue 10: within 2 seconds; a
loaded shared machine may set ``TRAILGUARD_E2E_BOUND`` higher)."""
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str) -> T:
    return _eventually(probe, BOUND, what, interval=0.02, retry_errors=True)


@dataclass
class Emulator:
    ready: dict[str, Any]
    outbox: Path
    seen: set[str] = field(default_factory=set)
    journal_at: int = 0

    @property
    def trail(self) -> dict[str, str]:
        trail: dict[str, str] = self.ready["trail"]
        return trail

    def client(self, service: str) -> Any:
        return root_client(self.ready, service, ROOT_KEY)

    def attack(self, *args: str) -> None:
        result = aws_cli(self.ready, self.ready["attacker"], *args)
        assert result.returncode == 0, result.stderr

    def mark(self) -> None:
        self.seen = {p.name for p in self.outbox.glob("*.json")}
        self.journal_at = len(self._journal())

    def _journal(self) -> list[dict[str, Any]]:
        path = Path(self.ready["invocations"])
        return (
            [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if path.exists()
            else []
        )

    def attacks(self, event_name: str) -> set[str]:
        """The event ids of the attacker's ``event_name`` calls the recorder journalled."""
        path = Path(self.ready["records"])
        lines = path.read_text().splitlines() if path.exists() else []
        records = [json.loads(line)["detail"] for line in lines if line.strip()]
        return {
            str(r["eventID"])
            for r in records
            if r["eventName"] == event_name and r["userIdentity"].get("arn") == ATTACKER
        }

    def incidents(self, technique: str, event_ids: set[str]) -> list[dict[str, Any]]:
        """The incidents of ``technique`` the functions reported about the calls ``event_ids``."""
        found = []
        for invocation in self._journal():
            for incident in (invocation.get("result") or {}).get("incidents") or []:
                if incident.get("technique") == technique and incident.get("event_id") in event_ids:
                    found.append(incident)
        return found

    def email(self, *needles: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            for path in sorted(self.outbox.glob("*.json")):
                if path.name not in self.seen:
                    email: dict[str, Any] = json.loads(path.read_text())
                    if all(n in f"{email['subject']}\n{email['body']}" for n in needles):
                        return email
            return None

        return eventually(probe, f"an email naming {needles}")

    def repaired_email(self, event: str, resource: str, technique: str) -> dict[str, Any]:
        email = self.email(event, resource, ATTACKER, technique)
        assert email["subject"].startswith("[trailguard] REPAIRED"), email["subject"]
        return email


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running_emulator(tmp_path_factory.mktemp("chain-storage")) as run:
        yield Emulator(run.ready, run.outbox)
    assert run.process.returncode == 0, run.log.read_text()


@pytest.fixture
def e(emu: Emulator) -> Emulator:
    """The module's emulator once the previous test's invocations have finished (the journal has not
    grown for half a second, at most 10 s), with the outbox and the journal marked."""
    deadline, size, stable = time.monotonic() + 10, -1, 0.0
    while time.monotonic() < deadline and stable < 0.5:
        now = len(emu._journal())
        stable = stable + 0.1 if now == size else 0.0
        size = now
        time.sleep(0.1)
    emu.mark()
    return emu


def test_the_ready_file_names_the_whole_chain(emu: Emulator) -> None:
    trail = emu.trail
    assert trail["key_prefix"] == "audit"
    assert trail["log_group"] == f"/aws/cloudtrail/{trail['name']}"
    assert trail["delivery_role"] and trail["delivery_role_arn"].endswith(f"role/{trail['delivery_role']}")
    (live,) = [
        t for t in emu.client("cloudtrail").describe_trails()["trailList"] if t["Name"] == trail["name"]
    ]
    assert live["S3KeyPrefix"] == "audit" and live["CloudWatchLogsLogGroupArn"] == trail["log_group_arn"]
    assert live["CloudWatchLogsRoleArn"] == trail["delivery_role_arn"]
    s3 = emu.client("s3")
    assert s3.get_bucket_versioning(Bucket=trail["bucket"])["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=trail["bucket"])["PublicAccessBlockConfiguration"].values())


# ----------------------------------------------------------------------------------------- the key


def _key_id(e: Emulator) -> str:
    return e.trail["kms_key_id"].rsplit("/", 1)[-1]


def _key_policy(e: Emulator) -> Any:
    return json.loads(e.client("kms").get_key_policy(KeyId=_key_id(e), PolicyName="default")["Policy"])


def test_a_key_policy_denying_cloudtrail_is_repaired(e: Emulator) -> None:
    """The red team's second variant: CloudTrail's statements kept, an explicit Deny added."""
    baseline = _key_policy(e)
    denied = {
        **baseline,
        "Statement": [
            *baseline["Statement"],
            {
                "Sid": "NoMoreLogs",
                "Effect": "Deny",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
            },
        ],
    }
    e.attack("kms", "put-key-policy", "--key-id", _key_id(e), "--policy-name", "default",
             "--policy", json.dumps(denied))  # fmt: skip
    eventually(lambda: _key_policy(e) == baseline, "the baseline key policy back")
    email = e.repaired_email("PutKeyPolicy", _key_id(e), "key.policy-change")
    assert "explicitly denies CloudTrail" in email["body"]


def test_a_key_policy_dropping_cloudtrail_is_repaired_in_the_same_burst(e: Emulator) -> None:
    """The first variant, seconds after the second on the same key: repaired, its email folded into
    the burst the Deny opened."""
    baseline = _key_policy(e)
    root = [s for s in baseline["Statement"] if "AWS" in (s.get("Principal") or {})]
    earlier = e.attacks("PutKeyPolicy")
    e.attack("kms", "put-key-policy", "--key-id", _key_id(e), "--policy-name", "default",
             "--policy", json.dumps({"Version": "2012-10-17", "Statement": root}))  # fmt: skip
    eventually(lambda: _key_policy(e) == baseline, "the baseline key policy back")
    (incident,) = eventually(
        lambda: e.incidents("key.policy-change", e.attacks("PutKeyPolicy") - earlier), "the incident"
    )
    assert incident["status"] == "remediated" and incident["verdict"] == "tamper"
    assert incident["notification"]["action"] == "suppress"  # folded into the Deny's burst


# ---------------------------------------------------------------------------------- CloudWatch Logs


def _group(e: Emulator) -> dict[str, Any] | None:
    name = e.trail["log_group"]
    groups = e.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next((g for g in groups if g["logGroupName"] == name), None)


def test_a_cut_retention_is_put_back(e: Emulator) -> None:
    e.attack(
        "logs", "put-retention-policy", "--log-group-name", e.trail["log_group"], "--retention-in-days", "1"
    )
    eventually(lambda: (_group(e) or {}).get("retentionInDays") == 365, "the 365-day retention back")
    e.repaired_email("PutRetentionPolicy", e.trail["log_group"], "logs.retention-cut")


def test_a_deleted_log_group_is_recreated(e: Emulator) -> None:
    before = _group(e)
    assert before is not None and before["kmsKeyId"] == e.trail["kms_key_id"]
    e.attack("logs", "delete-log-group", "--log-group-name", e.trail["log_group"])

    def recreated() -> bool:
        group = _group(e)
        return bool(
            group and group.get("retentionInDays") == 365 and group.get("kmsKeyId") == before["kmsKeyId"]
        )

    eventually(recreated, "the group re-created with its retention and key")
    email = e.repaired_email("DeleteLogGroup", e.trail["log_group"], "logs.group-delete")
    assert "only the deleted group held are lost" in email["body"]


# -------------------------------------------------------------------------------------- the bucket


def test_suspended_versioning_is_enabled_again(e: Emulator) -> None:
    bucket = e.trail["bucket"]
    e.attack(
        "s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Suspended"
    )
    s3 = e.client("s3")
    eventually(lambda: s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled", "versioning back")
    e.repaired_email("PutBucketVersioning", bucket, "bucket.versioning-suspend")


def _block(e: Emulator) -> dict[str, bool] | None:
    try:
        found: dict[str, bool] = e.client("s3").get_public_access_block(Bucket=e.trail["bucket"])[
            "PublicAccessBlockConfiguration"
        ]
    except Exception:
        return None
    return found


def _public_grants(e: Emulator) -> list[str]:
    grants = e.client("s3").get_bucket_acl(Bucket=e.trail["bucket"])["Grants"]
    return [g["Permission"] for g in grants if "AllUsers" in str(g["Grantee"].get("URI"))]


def test_a_deleted_public_access_block_is_put_back(e: Emulator) -> None:
    e.attack("s3api", "delete-public-access-block", "--bucket", e.trail["bucket"])
    eventually(lambda: _block(e) and all(_block(e).values()), "the public access block back")  # type: ignore[union-attr]
    e.repaired_email("DeleteBucketPublicAccessBlock", e.trail["bucket"], "bucket.public-access")


def test_a_public_read_acl_is_removed(e: Emulator) -> None:
    """Same technique on the same bucket seconds later: repaired, its email folded into the burst."""
    e.attack("s3api", "put-bucket-acl", "--bucket", e.trail["bucket"], "--acl", "public-read")
    eventually(lambda: not _public_grants(e), "the public grant removed")
    (incident,) = eventually(
        lambda: e.incidents("bucket.public-access", e.attacks("PutBucketAcl")), "the incident"
    )
    assert incident["status"] == "remediated" and incident["notification"]["action"] == "suppress"


def test_deleted_default_encryption_is_put_back(e: Emulator) -> None:
    bucket = e.trail["bucket"]
    s3 = e.client("s3")
    e.attack("s3api", "delete-bucket-encryption", "--bucket", bucket)

    def restored() -> bool:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        return bool(rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256")

    eventually(restored, "the baseline default encryption back")
    e.repaired_email("DeleteBucketEncryption", bucket, "bucket.encryption-change")


def test_a_deleted_log_file_comes_back(e: Emulator) -> None:
    """A log file CloudTrail would have delivered (the local cloud delivers none, so the test writes one
    as the account), deleted by the attacker: S3 data events record the call, and removing the delete
    marker brings the file back."""
    bucket, account, region = e.trail["bucket"], e.ready["account"], e.ready["region"]
    name = f"{account}_CloudTrail_{region}_20261201T1200Z_e2e.json.gz"
    key = f"audit/AWSLogs/{account}/CloudTrail/{region}/2026/12/01/{name}"
    s3 = e.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"Records": []}')
    time.sleep(0.3)
    e.mark()
    e.attack("s3api", "delete-object", "--bucket", bucket, "--key", key)

    def back() -> bool:
        s3.head_object(Bucket=bucket, Key=key)
        return True

    eventually(back, "the log file back")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"Records": []}'
    e.repaired_email("DeleteObject", bucket, "bucket.objects-delete")
