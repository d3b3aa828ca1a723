"""Fixtures of the CLI tests: the command as a person runs it (a separate process against a moto
server on 127.0.0.1), the real stack deployed on in-process moto, and an environment without
credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from aws_support import Account, fake_credentials, moto_server, reset_moto_server
from trailguard import aws

ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/trailguard-test-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/trailguard-test-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
STACK = "tg-cli"
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens there: a call would fail, no call must be needed


def trailguard(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m trailguard ARGS`` in a clean environment with fake credentials (``env``: instead)."""
    return subprocess.run(
        [sys.executable, "-m", "trailguard", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV if env is None else env,
        input=stdin if stdin is not None else "",
        check=False,
    )


def server_client(endpoint: str, service: str, region: str = "us-east-1") -> Any:
    """A boto3 client of the moto server, as the tests read it."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def server_trail(endpoint: str, name: str, region: str = "us-east-1") -> str:
    """A logging trail (and its bucket) on the moto server; its ARN."""
    s3 = server_client(endpoint, "s3", region)
    bucket = f"{name}-logs-{region}"
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    cloudtrail = server_client(endpoint, "cloudtrail", region)
    arn = str(cloudtrail.create_trail(Name=name, S3BucketName=bucket)["TrailARN"])
    cloudtrail.start_logging(Name=arn)
    return arn


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A standalone moto server on 127.0.0.1 (module-wide); :func:`clean_endpoint` resets it."""
    with moto_server() as url:
        yield url


@pytest.fixture
def clean_endpoint(endpoint: str) -> str:
    return reset_moto_server(endpoint)


@pytest.fixture
def deployed(account: Account) -> dict[str, str]:
    """The real stack ``tg-cli`` deployed on in-process moto (baselines recorded); its outputs."""
    return account.deploy(STACK)


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No credentials anywhere botocore looks (environment, files, instance or container metadata)."""
    fake_credentials(monkeypatch)
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    aws.clear_cache()
    yield
    aws.clear_cache()
