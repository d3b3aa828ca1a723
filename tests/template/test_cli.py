"""``trailguard package`` and ``trailguard deploy --endpoint-url`` as a person runs them: a separate
process against a standalone moto server on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/trailguard-test-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/trailguard-test-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def trailguard(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trailguard", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        check=False,
    )


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def clean_endpoint(endpoint: str) -> str:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return endpoint


def test_package_writes_the_zip_and_template(tmp_path: Path) -> None:
    result = trailguard("package", "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "trailguard-lambda.zip").is_file()
    assert (tmp_path / "out" / "trailguard.yaml").is_file()
    assert "sha256" in result.stdout


def test_deploy_creates_then_redeploy_is_a_no_op(clean_endpoint: str) -> None:
    import boto3

    args = (
        "deploy",
        "--stack-name",
        "tg-cli",
        "--email",
        "security@example.com",
        "--endpoint-url",
        clean_endpoint,
        "--region",
        "us-east-1",
        "--allowed-principal-arn",
        "arn:aws:iam::123456789012:role/break-glass",
        "--protected-trail",
        "org-trail",
        "--protected-trail",
        "audit-trail",
    )
    first = trailguard(*args)
    assert first.returncode == 0, first.stderr
    assert "CREATE_COMPLETE" in first.stdout
    for key in ("TopicArn", "RoleArn", "ApiCallFunctionName", "DeadLetterQueueUrl"):
        assert key in first.stdout
    assert "confirm" in first.stdout.lower() or "subscription" in first.stdout.lower()

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=clean_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    cfn = client("cloudformation")
    (stack,) = cfn.describe_stacks(StackName="tg-cli")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    # moto echoes CommaDelimitedList parameters as a Python list's repr; the functions see the real value.
    env = client("lambda").get_function_configuration(FunctionName="tg-cli-api-call")["Environment"]
    assert env["Variables"]["TRAILGUARD_PROTECTED_TRAILS"] == "org-trail,audit-trail"
    assert (
        env["Variables"]["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] == "arn:aws:iam::123456789012:role/break-glass"
    )

    second = trailguard(*args)
    assert second.returncode == 0, second.stderr
    assert "no changes" in second.stdout
    assert "CREATE_COMPLETE" not in second.stdout and "UPDATE_COMPLETE" not in second.stdout
    (after,) = cfn.describe_stacks(StackName="tg-cli")["Stacks"]
    assert after["StackStatus"] == "CREATE_COMPLETE"

    third = trailguard(*args[:-2])  # one trail fewer: a real update
    assert third.returncode == 0, third.stderr
    assert "UPDATE_COMPLETE" in third.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("deploy", "--stack-name", "tg", "--email", "nope"),
        ("deploy", "--email", "security@example.com"),
        ("deploy", "--stack-name", "tg", "--email", "a@b.co", "--protected-trail", "a,b"),
        ("package",),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = trailguard(*args)
    assert result.returncode == 2, result.stderr


def test_deploy_failure_exits_1_with_what_to_do() -> None:
    result = trailguard(
        "deploy", "--stack-name", "tg", "--email", "security@example.com", "--profile", "no-such-profile"
    )
    assert result.returncode == 1
    assert "no-such-profile" in result.stderr and "--profile" in result.stderr
