"""``trailguard.deploy.deploy`` (``deploy/rollout.py``) creates the real stack on moto (in-process),
updates it, and treats an unchanged redeploy as a no-op; bad input and missing credentials give
messages a person can act on.

moto gaps met here, each worked around in the product or stated in the test: moto's CloudFormation
skips AWS::SQS::QueuePolicy (nothing refers to it), and does not evaluate Outputs when it executes a
change set (``deploy`` then derives them from the stack's resources; AWS always reports them).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aws_support import fake_credentials
from trailguard import aws, deploy

from .conftest import STACK

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

OUTPUT_KEYS = {
    "TopicArn",
    "RoleArn",
    "StateTableName",
    "StateKeyArn",
    "ApiCallRuleName",
    "FindingRuleName",
    "GuardRuleName",
    "BackstopRuleName",
    "ApiCallFunctionName",
    "FindingFunctionName",
    "DeadLetterQueueUrl",
}
ALLOWED = "arn:aws:iam::123456789012:role/break-glass,arn:aws:iam::123456789012:role/pipeline"


def _deploy(lines: list[str], email: str = "security@example.com", **parameters: str) -> dict[str, str]:
    return deploy.deploy(
        STACK, email, parameters=parameters or None, progress=lines.append, poll_seconds=0.01
    )


def test_creates_the_stack_and_wires_it(moto_aws: dict[str, str], rule_pattern: Any) -> None:
    lines: list[str] = []
    out = _deploy(lines, AllowedPrincipalArns=ALLOWED, ProtectedTrails="org-trail")
    assert set(out) == OUTPUT_KEYS
    assert any("CREATE_COMPLETE" in line for line in lines)
    assert out["ApiCallFunctionName"] == f"{STACK}-api-call"
    assert out["FindingFunctionName"] == f"{STACK}-finding"
    assert out["ApiCallRuleName"] == f"{STACK}-api-calls"
    assert out["FindingRuleName"] == f"{STACK}-findings"

    lam = aws.client("lambda")
    for fn, handler in (("ApiCallFunctionName", "api_call"), ("FindingFunctionName", "finding")):
        config = lam.get_function_configuration(FunctionName=out[fn])
        assert config["Handler"] == f"trailguard.handlers.{handler}"
        assert config["Runtime"] == "python3.12"
        assert config["Role"] == out["RoleArn"]
        assert config["Environment"]["Variables"] == {
            "TRAILGUARD_TOPIC_ARN": out["TopicArn"],
            "TRAILGUARD_STATE_TABLE": out["StateTableName"],
            "TRAILGUARD_GUARD_ROLE_ARNS": out["RoleArn"],
            "TRAILGUARD_RULE_NAMES": (
                f"{STACK}-api-calls,{STACK}-findings,{STACK}-guard-calls,{STACK}-backstop"
            ),
            "TRAILGUARD_FUNCTION_NAMES": f"{STACK}-api-call,{STACK}-finding",
            "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": ALLOWED,
            "TRAILGUARD_PROTECTED_TRAILS": "org-trail",
            "TRAILGUARD_SECURITY_HUB": "true",
            "TRAILGUARD_STATE_KEY": out["StateKeyArn"],
        }
        policy = json.loads(lam.get_policy(FunctionName=out[fn])["Policy"])
        statements = policy["Statement"]
        # the finding function is invoked by the findings, guard-calls and backstop rules
        assert len(statements) == (1 if handler == "api_call" else 3)
        assert all(s["Principal"] == {"Service": "events.amazonaws.com"} for s in statements)

    events = aws.client("events")
    for rule, logical_id, fn in (
        ("ApiCallRuleName", "ApiCallRule", "ApiCallFunctionName"),
        ("FindingRuleName", "FindingRule", "FindingFunctionName"),
        ("GuardRuleName", "GuardCallsRule", "FindingFunctionName"),
    ):
        described = events.describe_rule(Name=out[rule])
        assert described["State"] == "ENABLED"
        assert json.loads(described["EventPattern"]) == rule_pattern(logical_id)
        (target,) = events.list_targets_by_rule(Rule=out[rule])["Targets"]
        assert target["Arn"].endswith(f":function:{out[fn]}")
        assert target["DeadLetterConfig"]["Arn"].endswith(out["DeadLetterQueueUrl"].rsplit("/", 1)[1])
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0

    subs = aws.client("sns").list_subscriptions_by_topic(TopicArn=out["TopicArn"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "security@example.com")]
    table = aws.client("dynamodb").describe_table(TableName=out["StateTableName"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    attrs = aws.client("sqs").get_queue_attributes(QueueUrl=out["DeadLetterQueueUrl"], AttributeNames=["All"])
    assert attrs["Attributes"]["MessageRetentionPeriod"] == "1209600"
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{STACK}-")["logGroups"]
    assert {g["logGroupName"] for g in groups} == {
        f"/aws/lambda/{STACK}-api-call",
        f"/aws/lambda/{STACK}-finding",
    }
    assert {g.get("retentionInDays") for g in groups} == {365}


def test_redeploy_unchanged_is_a_no_op_and_a_change_is_an_update(moto_aws: dict[str, str]) -> None:
    first: list[str] = []
    created = _deploy(first)
    again: list[str] = []
    assert _deploy(again) == created
    assert any("no changes" in line for line in again)
    assert any("already uploaded" in line for line in again)
    assert not any("UPDATE_COMPLETE" in line for line in again)

    changed: list[str] = []
    updated = _deploy(changed, ProtectedTrails="org-trail,audit-trail")
    assert any("UPDATE_COMPLETE" in line for line in changed)
    assert updated["ApiCallFunctionName"] == created["ApiCallFunctionName"]
    env = aws.client("lambda").get_function_configuration(FunctionName=updated["ApiCallFunctionName"])
    assert env["Environment"]["Variables"]["TRAILGUARD_PROTECTED_TRAILS"] == "org-trail,audit-trail"


@pytest.mark.parametrize(
    ("stack_name", "email", "needle"),
    [
        ("1-starts-with-digit", "security@example.com", "invalid stack name"),
        ("under_score", "security@example.com", "invalid stack name"),
        ("x" * 55, "security@example.com", "at most 54"),
        ("ok-name", "not-an-email", "invalid email"),
    ],
)
def test_bad_input_is_refused_before_any_call(
    monkeypatch: pytest.MonkeyPatch, stack_name: str, email: str, needle: str
) -> None:
    def no_clients(*args: object, **kwargs: object) -> object:
        raise AssertionError("no AWS client may be made for bad input")

    fake_credentials(monkeypatch)
    monkeypatch.setattr(aws, "client", no_clients)
    with pytest.raises(deploy.InputError, match=needle):
        deploy.deploy(stack_name, email, progress=lambda _: None)


def test_missing_credentials_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    aws.clear_cache()
    with pytest.raises(deploy.DeployError, match=r"no AWS credentials.*aws configure") as raised:
        deploy.deploy(
            STACK, "security@example.com", endpoint_url="http://127.0.0.1:9", progress=lambda _: None
        )
    assert not isinstance(raised.value, deploy.InputError)  # the CLI's exit 1, not a usage error
    aws.clear_cache()
