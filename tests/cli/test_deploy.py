"""``trailguard deploy`` as a person runs it: a separate process against a standalone moto server on
127.0.0.1 (the issue's "Done when": the profile's region, upgrades that keep what was set, overrides,
the dry run, refusing to protect nothing); and every failure's exit code (:mod:`trailguard.cli.exit`).

moto gaps met here, stated where they matter: moto lists executed change sets in ListChangeSets (AWS
drops them), and its change set for a parameter-only update lists no resource change.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from trailguard.cli import main
from trailguard.cli.exit import Exit

from .conftest import ENV, STACK, UNREACHABLE, server_client, server_trail, trailguard

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

BREAK_GLASS = "arn:aws:iam::123456789012:role/break-glass"


def _deploy(
    endpoint: str, *extra: str, region: str | None = "us-east-1", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    args = ["deploy", "--stack-name", STACK, "--endpoint-url", endpoint]
    if region:
        args += ["--region", region]
    return trailguard(*args, *extra, env=env)


def _function_env(endpoint: str, region: str = "us-east-1") -> dict[str, str]:
    config = server_client(endpoint, "lambda", region).get_function_configuration(
        FunctionName=f"{STACK}-api-call"
    )
    return dict(config["Environment"]["Variables"])


def _stack_parameters(endpoint: str, region: str = "us-east-1") -> dict[str, str]:
    (stack,) = server_client(endpoint, "cloudformation", region).describe_stacks(StackName=STACK)["Stacks"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def test_deploy_creates_then_redeploy_is_a_no_op(clean_endpoint: str) -> None:
    server_trail(clean_endpoint, "org-trail")
    server_trail(clean_endpoint, "audit-trail")
    args = (
        "--email",
        "security@example.com",
        "--allowed-principal-arn",
        BREAK_GLASS,
        "--protected-trail",
        "org-trail",
        "--protected-trail",
        "audit-trail",
    )
    first = _deploy(clean_endpoint, *args)
    assert first.returncode == 0, first.stderr
    # progress on stderr, the outputs (what a script parses) alone on stdout
    assert "CREATE_COMPLETE" in first.stderr and "CREATE_COMPLETE" not in first.stdout
    outputs = dict(line.split(None, 1) for line in first.stdout.splitlines())
    for key in ("TopicArn", "RoleArn", "ApiCallFunctionName", "DeadLetterQueueUrl"):
        assert key in outputs
    assert "subscription confirmation" in first.stderr
    assert "\033[" not in first.stderr  # no colour: stderr is not a terminal

    cfn = server_client(clean_endpoint, "cloudformation")
    (stack,) = cfn.describe_stacks(StackName=STACK)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    env = _function_env(clean_endpoint)
    assert env["TRAILGUARD_PROTECTED_TRAILS"] == "org-trail,audit-trail"
    assert env["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] == BREAK_GLASS

    second = _deploy(clean_endpoint, *args)
    assert second.returncode == 0, second.stderr
    assert "no changes" in second.stderr
    assert "UPDATE_COMPLETE" not in second.stderr

    third = _deploy(clean_endpoint, *args[:-2])  # one trail fewer: a real update
    assert third.returncode == 0, third.stderr
    assert "UPDATE_COMPLETE" in third.stderr
    assert _function_env(clean_endpoint)["TRAILGUARD_PROTECTED_TRAILS"] == "org-trail"


def test_deploy_with_a_profile_lands_in_the_profile_s_region(clean_endpoint: str, tmp_path: Path) -> None:
    server_trail(clean_endpoint, "eu-trail", "eu-west-1")
    config = tmp_path / "config"
    config.write_text("[profile eu]\nregion = eu-west-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[eu]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = {
        "PATH": ENV["PATH"],
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_EC2_METADATA_DISABLED": "true",
    }  # no region and no keys in the environment: both from the profile
    result = _deploy(clean_endpoint, "--profile", "eu", "--email", "a@example.com", region=None, env=env)
    assert result.returncode == 0, result.stderr
    assert "eu-west-1" in result.stderr
    (stack,) = server_client(clean_endpoint, "cloudformation", "eu-west-1").describe_stacks(StackName=STACK)[
        "Stacks"
    ]
    assert ":eu-west-1:" in stack["StackId"]
    assert server_client(clean_endpoint, "cloudformation", "us-east-1").list_stacks()["StackSummaries"] == []
    assert "eu-west-1" in _function_env(clean_endpoint, "eu-west-1")["TRAILGUARD_TOPIC_ARN"]


def test_no_region_anywhere_exits_2_saying_how_to_set_one() -> None:
    env = {k: v for k, v in ENV.items() if k != "AWS_DEFAULT_REGION"}
    result = trailguard(
        "deploy", "--stack-name", STACK, "--email", "a@b.co", "--endpoint-url", UNREACHABLE, env=env
    )
    assert result.returncode == Exit.USAGE, result.stderr
    assert "no AWS region is set" in result.stderr
    assert (
        "--region" in result.stderr
        and "AWS_REGION" in result.stderr
        and "aws configure set region" in (result.stderr)
    )


def test_an_upgrade_without_flags_keeps_the_allow_list_and_overrides_change_only_what_they_name(
    clean_endpoint: str,
) -> None:
    server_trail(clean_endpoint, "org-trail")
    first = _deploy(
        clean_endpoint,
        "--email",
        "security@example.com",
        "--allowed-principal-arn",
        BREAK_GLASS,
        "--protected-trail",
        "org-trail",
        "--parameter-overrides",
        "BackstopSchedule=rate(15 minutes)",
    )
    assert first.returncode == 0, first.stderr

    again = _deploy(clean_endpoint)  # no flags at all: an upgrade keeps everything
    assert again.returncode == 0, again.stderr
    env = _function_env(clean_endpoint)
    assert env["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] == BREAK_GLASS
    assert env["TRAILGUARD_PROTECTED_TRAILS"] == "org-trail"
    assert _stack_parameters(clean_endpoint)["BackstopSchedule"] == "rate(15 minutes)"

    override = _deploy(
        clean_endpoint, "--parameter-overrides", "BackstopSchedule=rate(1 hour)", "--output", "json"
    )
    assert override.returncode == 0, override.stderr
    document = json.loads(override.stdout)
    assert document["schema"] == "trailguard.deploy/1" and document["status"] == "updated"
    assert _stack_parameters(clean_endpoint)["BackstopSchedule"] == "rate(1 hour)"
    rule = server_client(clean_endpoint, "events").describe_rule(Name=f"{STACK}-backstop")
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    env = _function_env(clean_endpoint)
    assert env["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] == BREAK_GLASS
    assert env["TRAILGUARD_PROTECTED_TRAILS"] == "org-trail"
    topic = server_client(clean_endpoint, "sns").list_subscriptions()["Subscriptions"]
    assert [s["Endpoint"] for s in topic] == ["security@example.com"]


def test_a_dry_run_changes_nothing_and_leaves_no_change_set(clean_endpoint: str) -> None:
    server_trail(clean_endpoint, "org-trail")
    cfn = server_client(clean_endpoint, "cloudformation")
    create = _deploy(clean_endpoint, "--email", "security@example.com", "--dry-run")
    assert create.returncode == 0, create.stderr
    assert "AWS::Lambda::Function" in create.stderr and "+ trail" in create.stderr
    assert "nothing was changed" in create.stdout
    assert [s for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"] == []
    assert cfn.list_change_sets(StackName=STACK)["Summaries"] == []
    buckets = [b["Name"] for b in server_client(clean_endpoint, "s3").list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith("trailguard-artifacts-")]  # nothing uploaded

    assert _deploy(clean_endpoint, "--email", "security@example.com").returncode == 0
    before = _stack_parameters(clean_endpoint)
    executed = {c["ChangeSetName"] for c in cfn.list_change_sets(StackName=STACK)["Summaries"]}
    update = _deploy(
        clean_endpoint,
        "--no-execute-changeset",
        "--parameter-overrides",
        "BackstopSchedule=rate(2 hours)",
        "--output",
        "json",
    )
    assert update.returncode == 0, update.stderr
    document = json.loads(update.stdout)
    assert document["status"] == "dry-run" and document["change_set_type"] == "UPDATE"
    assert _stack_parameters(clean_endpoint) == before
    rule = server_client(clean_endpoint, "events").describe_rule(Name=f"{STACK}-backstop")
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    # moto keeps executed change sets listed (AWS does not): none but those is left
    assert {c["ChangeSetName"] for c in cfn.list_change_sets(StackName=STACK)["Summaries"]} == executed


def test_a_protected_trail_that_does_not_exist_exits_2_and_changes_nothing(clean_endpoint: str) -> None:
    server_trail(clean_endpoint, "org-trail")
    result = _deploy(clean_endpoint, "--email", "security@example.com", "--protected-trail", "no-such-trail")
    assert result.returncode == Exit.USAGE, result.stderr
    assert "no-such-trail" in result.stderr and "org-trail" in result.stderr
    assert server_client(clean_endpoint, "cloudformation").list_stacks()["StackSummaries"] == []
    buckets = [b["Name"] for b in server_client(clean_endpoint, "s3").list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith("trailguard-artifacts-")]


def test_an_account_without_trails_exits_1_unless_allowed(clean_endpoint: str) -> None:
    refused = _deploy(clean_endpoint, "--email", "security@example.com")
    assert refused.returncode == Exit.FAILED, refused.stderr
    assert "protect nothing" in refused.stderr and "--allow-no-trails" in refused.stderr
    assert server_client(clean_endpoint, "cloudformation").list_stacks()["StackSummaries"] == []
    allowed = _deploy(clean_endpoint, "--email", "security@example.com", "--allow-no-trails")
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("deploy", "--stack-name", "tg", "--email", "nope"),
        ("deploy", "--email", "security@example.com"),
        ("deploy", "--stack-name", "tg", "--email", "a@b.co", "--protected-trail", "a,b"),
        ("deploy", "--stack-name", "1-starts-with-digit", "--email", "a@b.co"),
        ("deploy", "--stack-name", "x" * 55, "--email", "a@b.co"),
        ("deploy", "--stack-name", "tg", "--parameter-overrides", "NoEquals"),
        ("deploy", "--stack-name", "tg", "--tags", "a=1", "a=2"),
        (
            "deploy",
            "--stack-name",
            "tg",
            "--protected-trail",
            "t",
            "--parameter-overrides",
            "ProtectedTrails=u",
        ),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = trailguard(*args, "--endpoint-url", UNREACHABLE)
    assert result.returncode == Exit.USAGE == 2, result.stderr
    assert "usage: trailguard deploy" in result.stderr or "trailguard deploy: " in result.stderr


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
