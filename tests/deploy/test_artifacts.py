"""``trailguard.deploy.artifacts``: the bucket deploy uploads the zip to is private, encrypted and
versioned, and the zip is stored under its content hash (moto in-process, through a real deploy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trailguard import aws, deploy
from trailguard.deploy import artifacts
from trailguard.deploy.package import Package

from .conftest import STACK

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_artifact_bucket_is_private_encrypted_versioned_and_content_addressed(
    moto_aws: dict[str, str],
) -> None:
    lines: list[str] = []
    deploy.deploy(STACK, "security@example.com", progress=lines.append, poll_seconds=0.01)
    s3 = aws.client("s3")
    bucket = deploy.artifact_bucket_name("123456789012", "us-east-1")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert re.fullmatch(r"trailguard/lambda-[0-9a-f]{64}\.zip", key)
    function = aws.client("lambda").get_function(FunctionName=f"{STACK}-api-call")
    assert function["Configuration"]["CodeSize"] == s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    assert any(line == f"creating artifact bucket {bucket}" for line in lines)


def test_a_bucket_of_another_account_is_refused(moto_aws: dict[str, str]) -> None:
    class S3:
        def head_bucket(self, **kwargs: object) -> None:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadBucket")

    with pytest.raises(deploy.DeployError, match="exists but this account cannot use it"):
        artifacts.ensure_artifact_bucket(S3(), "taken", "us-east-1", lambda _: None)


@pytest.mark.parametrize(
    ("prefix", "under"), [("trailguard", "trailguard/"), ("/builds/tg/", "builds/tg/"), ("", ""), ("/", "")]
)
def test_keys_go_under_the_prefix_and_an_empty_one_is_the_bucket_top(prefix: str, under: str) -> None:
    pkg = Package(zip_path=Path("z.zip"), template_path=Path("t.yaml"), code_sha256="ab12")
    assert artifacts.code_key(pkg, prefix) == f"{under}lambda-ab12.zip"
