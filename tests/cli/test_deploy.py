"""``trailguard deploy`` as a person runs it: a separate process against a standalone moto server on
127.0.0.1; and every failure's exit code (:mod:`trailguard.cli.exit`)."""

from __future__ import annotations

from typing import Any

import pytest

from trailguard.cli import main
from trailguard.cli.exit import Exit

from .conftest import UNREACHABLE, trailguard

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]


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
        ("deploy", "--stack-name", "1-starts-with-digit", "--email", "a@b.co"),
        ("deploy", "--stack-name", "x" * 55, "--email", "a@b.co"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = trailguard(*args)
    assert result.returncode == Exit.USAGE == 2, result.stderr
    assert "usage: trailguard deploy" in result.stderr or "invalid value" in result.stderr


def test_deploy_failure_exits_1_with_what_to_do() -> None:
    result = trailguard(
        "deploy", "--stack-name", "tg", "--email", "security@example.com", "--profile", "no-such-profile"
    )
    assert result.returncode == Exit.FAILED == 1
    assert "no-such-profile" in result.stderr and "--profile" in result.stderr


def test_no_credentials_exits_1_with_what_to_do(
    no_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["deploy", "--stack-name", "tg", "--email", "a@b.co", "--endpoint-url", UNREACHABLE]
    assert main(argv) == Exit.FAILED
    err = capsys.readouterr().err
    assert err.startswith("trailguard deploy: finding the AWS account")
    assert "no AWS credentials found" in err and "aws configure" in err
