"""``trailguard.deploy.deploy`` (``deploy/rollout.py``) creates the real stack on moto (in-process),
updates it, and treats an unchanged redeploy as a no-op; bad input and missing credentials give
messages a person can act on.

moto gaps met here, each worked around in the product or stated in the test: moto's CloudFormation
skips AWS::SQS::QueuePolicy (nothing refers to it), and does not evaluate Outputs when it executes a
change set (``deploy`` then derives them from the stack's resources; AWS always reports them).
"""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest

from aws_support import Account, fake_credentials
from trailguard import aws, deploy
from trailguard.baseline.deployed import read_deployed
from trailguard.config import Config

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
    "FailedInvocationQueueUrl",
    "GuardKeyArn",
}
ALLOWED = "arn:aws:iam::123456789012:role/break-glass,arn:aws:iam::123456789012:role/pipeline"


def _deploy(lines: list[str], email: str = "security@example.com", **parameters: str) -> dict[str, str]:
    return deploy.deploy(
        STACK, email, parameters=parameters or None, progress=lines.append, poll_seconds=0.01
    )


def test_creates_the_stack_and_wires_it(account: Account, rule_pattern: Any) -> None:
    account.trail("org-trail", account.bucket("org-trail-logs"))
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
        variables = dict(config["Environment"]["Variables"])
        assert variables == {
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
            "TRAILGUARD_STACK_NAME": STACK,
            "TRAILGUARD_QUEUE_URLS": f"{out['DeadLetterQueueUrl']},{out['FailedInvocationQueueUrl']}",
            "TRAILGUARD_STATE_KEY": out["StateKeyArn"],
            "TRAILGUARD_ORG_TRAIL_ROLE": "owner",
        }
        # the queues a rule repair may target: the same two, as ARNs
        dead, failed = (arn.split(":")[-1] for arn in Config.from_env(variables).queue_arns)
        assert dead.startswith(f"{STACK}-DeadLetterQueue") and failed.startswith(f"{STACK}-FailedInvocation")
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


def test_redeploy_unchanged_is_a_no_op_and_a_change_is_an_update(account: Account) -> None:
    logs = account.bucket("trail-logs")
    account.trail("org-trail", logs)
    account.trail("audit-trail", logs)
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
        ("x" * 53, "security@example.com", "at most 52"),
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


def _env(function: str) -> dict[str, str]:
    config = aws.client("lambda").get_function_configuration(FunctionName=function)
    return dict(config["Environment"]["Variables"])


def _parameters(stack: str = STACK) -> dict[str, str]:
    (described,) = aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}


def test_an_update_without_flags_keeps_every_previous_value(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    _deploy(
        [],
        AllowedPrincipalArns="arn:aws:iam::123456789012:role/break-glass",
        ProtectedTrails="org-trail",
        BackstopSchedule="rate(15 minutes)",
    )
    lines: list[str] = []
    result = deploy.apply(STACK, progress=lines.append, poll_seconds=0.01)  # no email, no parameters
    assert result.status == "unchanged", lines
    assert result.change_set == ""  # nothing to change: no change set was made
    sent = {p["ParameterKey"]: p for p in result.parameters}
    for name in ("SecurityContactEmail", "BackstopSchedule"):
        assert sent[name] == {"ParameterKey": name, "UsePreviousValue": True}
    # the lists as the functions enforce them (moto cannot reuse a list parameter's previous value)
    assert sent["AllowedPrincipalArns"]["ParameterValue"] == "arn:aws:iam::123456789012:role/break-glass"
    assert sent["ProtectedTrails"]["ParameterValue"] == "org-trail"
    env = _env(f"{STACK}-api-call")
    assert env["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] == "arn:aws:iam::123456789012:role/break-glass"
    assert env["TRAILGUARD_PROTECTED_TRAILS"] == "org-trail"
    assert _parameters()["BackstopSchedule"] == "rate(15 minutes)"
    # re-recorded with the kept values: the signed config item still names the alert email
    recorded = read_deployed(Config.from_env(env), account.region)
    assert recorded.status == "verified"
    assert recorded.alert_endpoints == (("email", "security@example.com"),)


def test_parameter_overrides_change_only_what_they_name(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    _deploy([], AllowedPrincipalArns=ALLOWED, ProtectedTrails="org-trail")
    lines: list[str] = []
    result = deploy.apply(
        STACK, parameters={"BackstopSchedule": "rate(10 minutes)"}, progress=lines.append, poll_seconds=0.01
    )
    assert result.status == "updated", lines
    assert _parameters()["BackstopSchedule"] == "rate(10 minutes)"
    rule = aws.client("events").describe_rule(Name=f"{STACK}-backstop")
    assert rule["ScheduleExpression"] == "rate(10 minutes)"
    env = _env(f"{STACK}-finding")
    assert env["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] == ALLOWED
    assert env["TRAILGUARD_PROTECTED_TRAILS"] == "org-trail"
    subs = aws.client("sns").list_subscriptions_by_topic(TopicArn=result.outputs["TopicArn"])["Subscriptions"]
    assert [s["Endpoint"] for s in subs] == ["security@example.com"]


def test_an_empty_override_clears_a_list(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    _deploy([], AllowedPrincipalArns="arn:aws:iam::123456789012:role/break-glass")
    deploy.apply(STACK, parameters={"AllowedPrincipalArns": ""}, progress=lambda _: None, poll_seconds=0.01)
    assert _env(f"{STACK}-api-call")["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] == ""


@pytest.mark.parametrize(
    ("parameters", "needle"),
    [
        ({"NoSuchParameter": "x"}, "unknown parameter NoSuchParameter"),
        ({"CodeS3Key": "x.zip"}, "--s3-bucket"),
    ],
)
def test_a_parameter_the_template_does_not_take_is_refused_before_any_change(
    account: Account, parameters: dict[str, str], needle: str
) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    with pytest.raises(deploy.InputError, match=needle):
        deploy.apply(STACK, "security@example.com", parameters=parameters, progress=lambda _: None)
    assert aws.client("cloudformation").list_stacks()["StackSummaries"] == []


def test_creating_needs_an_email(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    with pytest.raises(deploy.InputError, match="--email is required"):
        deploy.apply(STACK, progress=lambda _: None)


def _nothing_deployed() -> None:
    cfn = aws.client("cloudformation")
    assert [s for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"] == []
    buckets = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith("trailguard-artifacts-")]


def test_a_protected_trail_that_does_not_exist_is_refused_before_any_change(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    with pytest.raises(deploy.InputError, match=r"--protected-trail org-trial: no such trail.*org-trail"):
        deploy.apply(
            STACK,
            "security@example.com",
            parameters={"ProtectedTrails": "org-trial"},
            progress=lambda _: None,
        )
    _nothing_deployed()


def test_protecting_no_trail_is_refused_unless_allowed(account: Account) -> None:
    with pytest.raises(deploy.DeployError, match=r"would protect nothing.*--allow-no-trails") as raised:
        deploy.apply(STACK, "security@example.com", require_trails=True, progress=lambda _: None)
    assert not isinstance(raised.value, deploy.InputError)  # exit 1: the command ran, the account lacks
    _nothing_deployed()
    result = deploy.apply(
        STACK, "security@example.com", require_trails=False, progress=lambda _: None, poll_seconds=0.01
    )
    assert result.status == "created" and result.protected_trails == []


def test_a_dry_run_create_prints_the_change_set_and_leaves_nothing(account: Account) -> None:
    arn = account.trail("org-trail", account.bucket("trail-logs"))
    lines: list[str] = []
    result = deploy.apply(
        STACK, "security@example.com", dry_run=True, progress=lines.append, poll_seconds=0.01
    )
    assert result.status == "dry-run" and result.change_set_type == "CREATE"
    assert {"AlertTopic", "StateTable", "ApiCallFunction"} <= {c["logical_id"] for c in result.changes}
    assert any("AlertTopic" in line and "AWS::SNS::Topic" in line for line in lines)
    assert ("add", "trail", arn) in {(c.action, c.kind, c.ident) for c in result.baseline_changes}
    assert any(line.startswith("  + trail") for line in lines)
    assert any("nothing was changed" in line for line in lines)
    _nothing_deployed()


def test_a_dry_run_update_changes_nothing_and_leaves_no_change_set(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    _deploy([], ProtectedTrails="org-trail")
    cfn = aws.client("cloudformation")
    before = _parameters()
    lines: list[str] = []
    result = deploy.apply(
        STACK,
        parameters={"BackstopSchedule": "rate(1 hour)"},
        dry_run=True,
        progress=lines.append,
        poll_seconds=0.01,
    )
    assert result.status == "dry-run" and result.change_set_type == "UPDATE"
    # moto lists no resource change for a parameter-only update (AWS lists BackstopRule's Modify): the
    # change set is still made, described and deleted, and the parameter sent is printed
    assert "  parameter BackstopSchedule = 'rate(1 hour)'" in lines
    assert any(line.startswith("change set:") for line in lines)
    assert _parameters() == before
    assert aws.client("events").describe_rule(Name=f"{STACK}-backstop")["ScheduleExpression"] == (
        "rate(5 minutes)"
    )
    # moto keeps executed change sets in its list (AWS does not): the dry run's own is gone
    listed = {c["ChangeSetName"] for c in cfn.list_change_sets(StackName=STACK)["Summaries"]}
    assert result.change_set and result.change_set not in listed
    (described,) = cfn.describe_stacks(StackName=STACK)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE"


def test_re_recording_on_update_first_shows_how_the_baseline_changes(account: Account) -> None:
    arn = account.trail("org-trail", account.bucket("trail-logs"), EnableLogFileValidation=True)
    _deploy([], ProtectedTrails="org-trail")
    aws.client("cloudtrail").update_trail(Name=arn, EnableLogFileValidation=False)
    lines: list[str] = []
    result = deploy.apply(STACK, progress=lines.append, poll_seconds=0.01)
    (change,) = [c for c in result.baseline_changes if c.kind == "trail"]
    assert change.action == "change" and "LogFileValidationEnabled" in change.fields
    shown = next(i for i, line in enumerate(lines) if "LogFileValidationEnabled: true -> false" in line)
    recorded = next(i for i, line in enumerate(lines) if line.startswith("recorded baselines"))
    assert shown < recorded


def test_tags_role_and_artifact_location_are_passed_on(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    account.bucket("my-artifacts")
    role = account.role("cfn-deployer")
    result = deploy.apply(
        STACK,
        "security@example.com",
        tags={"team": "secops", "cost-centre": "42"},
        role_arn=role,
        s3_bucket="my-artifacts",
        s3_prefix="builds/trailguard",
        progress=lambda _: None,
        poll_seconds=0.01,
    )
    bucket, key = result.code.removeprefix("s3://").split("/", 1)
    assert bucket == "my-artifacts" and key.startswith("builds/trailguard/lambda-")
    aws.client("s3").head_object(Bucket=bucket, Key=key)
    sent = {p["ParameterKey"]: p.get("ParameterValue") for p in result.parameters}
    assert (sent["CodeS3Bucket"], sent["CodeS3Key"]) == (bucket, key)
    (described,) = aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {
        "trailguard": "true",
        "team": "secops",
        "cost-centre": "42",
    }
    assert described["RoleARN"] == role
    names = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    assert not [n for n in names if n.startswith("trailguard-artifacts-")]


def test_a_named_artifact_bucket_must_exist(account: Account) -> None:
    account.trail("org-trail", account.bucket("trail-logs"))
    with pytest.raises(deploy.InputError, match="--s3-bucket no-such-bucket does not exist"):
        deploy.apply(STACK, "security@example.com", s3_bucket="no-such-bucket", progress=lambda _: None)


def test_a_template_over_the_inline_limit_is_read_from_s3(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CloudFormation takes at most 51,200 bytes inline: a larger template is uploaded beside the code and
    passed as TemplateURL (the limit is lowered here; moto reads the URL from its own S3)."""
    from trailguard.deploy import rollout

    account.trail("org-trail", account.bucket("trail-logs"))
    monkeypatch.setattr(rollout, "TEMPLATE_BODY_LIMIT", 1000)
    lines: list[str] = []
    with pytest.raises(deploy.InputError, match="does not exist yet: deploy once"):
        deploy.apply(STACK, "a@example.com", dry_run=True, progress=lines.append, poll_seconds=0.01)
    result = deploy.apply(STACK, "a@example.com", progress=lines.append, poll_seconds=0.01)
    assert result.status == "created"
    bucket = result.code.removeprefix("s3://").split("/", 1)[0]
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("trailguard/template-") and k.endswith(".yaml") for k in keys)
    assert any("too large to send inline" in line for line in lines)


def test_an_upgrade_whose_kept_trail_is_gone_says_where_the_name_came_from(account: Account) -> None:
    arn = account.trail("org-trail", account.bucket("trail-logs"))
    account.trail("other-trail", account.bucket("other-logs"))
    _deploy([], ProtectedTrails="org-trail")
    aws.client("cloudtrail").delete_trail(Name="org-trail")
    assert arn not in {t["TrailARN"] for t in aws.client("cloudtrail").describe_trails()["trailList"]}
    with pytest.raises(deploy.InputError, match=r"kept from stack tg-test \(was it deleted\?"):
        deploy.apply(STACK, progress=lambda _: None, poll_seconds=0.01)
    assert _env(f"{STACK}-api-call")["TRAILGUARD_PROTECTED_TRAILS"] == "org-trail"  # nothing changed


def _remediation_statements(role_arn: str) -> dict[str, dict[str, Any]]:
    """The deployed role's Remediation policy as IAM holds it, by Sid. (boto3 gives AWS's document as a
    dict; moto's CloudFormation stores the resolved policy as Python's text of the dict, read back here.)"""
    document = aws.client("iam").get_role_policy(
        RoleName=role_arn.rsplit("/", 1)[-1], PolicyName="Remediation"
    )["PolicyDocument"]
    if isinstance(document, str):
        document = ast.literal_eval(document)
    return {str(s["Sid"]): s for s in document["Statement"]}


def _listed(value: Any) -> list[str]:
    return sorted(value if isinstance(value, list) else [value])


def test_the_deployed_role_names_exactly_the_protected_trail_its_bucket_and_delivery_role(
    account: Account,
) -> None:
    delivery = account.role("trail-to-logs")
    group = account.log_group("trail-logs")
    trail = account.trail(
        "org-trail",
        account.bucket("org-trail-logs"),
        CloudWatchLogsLogGroupArn=group,
        CloudWatchLogsRoleArn=delivery,
    )
    account.trail("other-trail", account.bucket("other-logs"))
    out = _deploy([], ProtectedTrails="org-trail")
    parameters = _parameters()
    assert parameters["ProtectedBuckets"] == "arn:aws:s3:::org-trail-logs"
    assert parameters["TrailLogsRoleArns"] == delivery
    assert parameters["ProtectedTrailArns"] == trail
    statements = _remediation_statements(out["RoleArn"])
    assert _listed(statements["Bucket"]["Resource"]) == [
        "arn:aws:s3:::org-trail-logs",
        "arn:aws:s3:::org-trail-logs/*",
    ]
    assert _listed(statements["Role"]["Resource"]) == [delivery]
    assert statements["Role"]["Condition"] == {
        "StringEqualsIfExists": {"iam:PassedToService": "cloudtrail.amazonaws.com"}
    }
    assert _listed(statements["Trail"]["Resource"]) == [trail]


def test_protecting_every_trail_keeps_every_trail_but_names_their_buckets(account: Account) -> None:
    account.trail("org-trail", account.bucket("org-trail-logs"))
    out = _deploy([])
    statements = _remediation_statements(out["RoleArn"])
    assert _listed(statements["Bucket"]["Resource"]) == [
        "arn:aws:s3:::org-trail-logs",
        "arn:aws:s3:::org-trail-logs/*",
    ]
    assert _listed(statements["Trail"]["Resource"]) == ["arn:aws:cloudtrail:*:123456789012:trail/*"]
    # no trail delivers to CloudWatch Logs: no role at all (a placeholder name): a delivery role gained
    # later is escalated until the next deploy names it
    assert _listed(statements["Role"]["Resource"]) == ["arn:aws:iam::123456789012:role/tg-test-no-role"]
