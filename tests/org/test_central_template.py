"""The central stack's template (``src/trailguard/data/central.yaml``): what it says, checked as written
(cfn-lint, checkov when its environment is there, the role against the code's declared permissions, the
policies scoped by ``aws:PrincipalOrgID``), and deployed on in-process moto with the central function
run in the deployed function's own environment.

moto evaluates no topic, bus, key or IAM policy, and its CloudFormation may skip
``AWS::Events::EventBusPolicy`` and skips ``AWS::CloudWatch::Alarm``: the documents and the alarms are
checked here as written, and the deployed test shows
the central backstop putting the bus policy back when it is missing. moto has no CloudTrail
delegated-administrator registration: the management account is moto's own account (by parameter).
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import envelopes
from aws_support import ACCOUNT, REGION, Account
from trailguard import aws
from trailguard.central import handler
from trailguard.org import central as policy
from trailguard.org.central_run import PERMISSIONS
from trailguard.policy import TECHNIQUES
from trailguard.resources import trail as trail_kind

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "src" / "trailguard" / "data" / "central.yaml"
ORG_ID = "o-a1b2c3d4e5"
CLOUDTRAIL = "cloudtrail.amazonaws.com"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from cfnlint.decode import decode_str

    decoded, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches, [str(m) for m in matches]
    assert decoded is not None
    return json.loads(json.dumps(dict(decoded)))


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------------------ as written


def test_cfn_lint_passes() -> None:
    lint = str(Path(sys.executable).parent / "cfn-lint")
    done = subprocess.run([lint, str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_checkov_passes() -> None:
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    if not checkov.exists():
        pytest.skip("checkov has its own environment (make checkov creates .venv-checkov)")
    done = subprocess.run(
        [str(checkov), "--quiet", "--compact", "--skip-download", "--framework", "cloudformation",
         "--file", str(TEMPLATE)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_contract_names_and_outputs(template: dict[str, Any]) -> None:
    assert set(template["Parameters"]) == {
        "SecurityContactEmail", "OrganizationId", "ManagementAccountId", "CodeS3Bucket", "CodeS3Key",
    }  # fmt: skip
    assert {"AlertTopicArn", "OrgBusArn", "CentralFunctionName"} <= set(template["Outputs"])
    (function,) = resources(template, "AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["FunctionName"] == policy.FUNCTION_NAME
    assert props["Handler"] == "trailguard.central.handler"
    assert props["ReservedConcurrentExecutions"] >= 1
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["TopicName"] == policy.TOPIC_NAME
    assert topic["Properties"]["KmsMasterKeyId"]
    protocols = sorted(s["Protocol"] for s in topic["Properties"]["Subscription"])
    assert protocols == ["email", "lambda", "sqs"]  # one email: the organization's only one
    (bus,) = resources(template, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == policy.BUS_NAME
    for queue in resources(template, "AWS::SQS::Queue").values():
        assert queue["Properties"]["KmsMasterKeyId"]


def test_the_role_grants_exactly_what_the_code_declares(template: dict[str, Any]) -> None:
    role = template["Resources"]["CentralRole"]["Properties"]
    (central,) = [p for p in role["Policies"] if p["PolicyName"] == "Central"]
    granted = {a for s in central["PolicyDocument"]["Statement"] for a in _list(s["Action"])}
    # the state key's policy grants the MAC calls to the role (the role naming the key would be a cycle)
    key = template["Resources"]["StateKey"]["Properties"]["KeyPolicy"]["Statement"]
    for statement in key:
        if statement.get("Principal") == {"AWS": {"Fn::GetAtt": ["CentralRole", "Arn"]}}:
            granted |= {a for a in _list(statement["Action"]) if a != "kms:DescribeKey"}
    assert granted == set(PERMISSIONS)


def test_cloudtrail_writes_only_the_management_accounts_trails(template: dict[str, Any]) -> None:
    role = template["Resources"]["CentralRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    for statement in statements:
        for action in _list(statement["Action"]):
            if action.startswith("cloudtrail:") and action != "cloudtrail:DescribeTrails":
                assert statement["Resource"] == {
                    "Fn::Sub": "arn:${AWS::Partition}:cloudtrail:*:${ManagementAccountId}:trail/*"
                }
            if statement["Resource"] == "*":
                assert action == "cloudtrail:DescribeTrails"  # the one API without resource-level permissions


def test_topic_key_and_bus_are_open_to_the_organization_only(template: dict[str, Any]) -> None:
    org = {"Ref": "OrganizationId"}
    topic = template["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (publish,) = [s for s in topic if s.get("Sid") == "OrganizationPublishes"]
    assert publish["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org}}
    key = template["Resources"]["CentralKey"]["Properties"]["KeyPolicy"]["Statement"]
    (via_sns,) = [s for s in key if s.get("Sid") == "OrganizationPublishesThroughSns"]
    assert via_sns["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == org
    bus = template["Resources"]["OrgBusPolicy"]["Properties"]
    written = dict(bus["Statement"])
    written["Resource"] = "BUS"
    written["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}
    (wanted,) = policy.bus_policy(ORG_ID, "BUS")["Statement"]
    assert bus["StatementId"] == wanted["Sid"]
    assert policy.bus_policy_holds({"Statement": [{**written, "Sid": wanted["Sid"]}]}, ORG_ID, "BUS")


def test_the_dead_mans_switch_alarms_reach_the_central_topic(template: dict[str, Any]) -> None:
    """The member template's alarms, on the central function: errors, the backstop missing (breaching
    when no metric comes at all, as from a deleted function), undelivered events; CloudWatch may publish
    to the encrypted topic (the topic policy and the key policy both say so)."""
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {
        "trailguard-central-errors",
        "trailguard-central-backstop-missing",
        "trailguard-central-undelivered-events",
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
    missing = alarms["trailguard-central-backstop-missing"]
    assert missing["TreatMissingData"] == "breaching" and missing["ComparisonOperator"] == "LessThanThreshold"
    schedule = template["Resources"]["BackstopRule"]["Properties"]["ScheduleExpression"]
    assert schedule == "rate(5 minutes)" and 300 < missing["Period"] <= 900  # three runs missed at most
    assert missing["Dimensions"] == [{"Name": "FunctionName", "Value": policy.FUNCTION_NAME}]
    undelivered = alarms["trailguard-central-undelivered-events"]["Dimensions"][0]["Value"]
    assert undelivered == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}
    topic = template["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (alarms_publish,) = [s for s in topic if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert (
        alarms_publish["Action"] == "sns:Publish"
        and "aws:SourceArn" in alarms_publish["Condition"]["ArnLike"]
    )
    key = template["Resources"]["CentralKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        "cloudwatch.amazonaws.com" in _list(s["Principal"].get("Service", []))
        and "kms:GenerateDataKey" in s["Action"]
        for s in key
        if isinstance(s.get("Principal"), dict)
    )


def test_the_forwarded_calls_rule_takes_the_trail_techniques_calls_on_the_org_bus(
    template: dict[str, Any],
) -> None:
    rule = template["Resources"]["ForwardedCallsRule"]["Properties"]
    assert rule["EventBusName"] == policy.BUS_NAME
    calls, alarms = rule["EventPattern"]["$or"]
    pattern = calls
    assert alarms["source"] == ["aws.cloudwatch"]  # the members' alarms: tests/template/test_alarm_forward.py
    repaired = {
        name
        for t in TECHNIQUES.values()
        if t.kind is trail_kind.KIND and t.event_source == CLOUDTRAIL and t.id != "trail.create"
        for name in t.event_names
    }
    assert pattern["source"] == ["aws.cloudtrail"]
    assert set(pattern["detail"]["eventName"]) == repaired
    # the findings rule is on the default bus (no EventBusName), the schedule every 5 minutes
    assert "EventBusName" not in template["Resources"]["FindingsRule"]["Properties"]
    assert template["Resources"]["BackstopRule"]["Properties"]["ScheduleExpression"] == "rate(5 minutes)"


# ------------------------------------------------------------------------------ deployed on moto


def _code(account: Account) -> tuple[str, str]:
    """A code bucket with a package: moto's Lambda stores it, and the test runs the handler itself."""
    bucket = account.bucket("trailguard-artifacts-central")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("trailguard/central.py", "def handler(event, context):\n    return {}\n")
    account.client("s3").put_object(Bucket=bucket, Key="central.zip", Body=buffer.getvalue())
    return bucket, "central.zip"


def test_the_stack_deploys_and_its_backstop_restores_the_bus_policy_and_the_org_trail(
    account: Account,
) -> None:
    bucket, key = _code(account)
    logs = account.bucket("org-trail-logs")
    trail_arn = account.trail(
        "org-trail", logs, IsMultiRegionTrail=True, IsOrganizationTrail=True, EnableLogFileValidation=True,
        KmsKeyId=account.key()["Arn"], CloudWatchLogsLogGroupArn=account.log_group("org"),
        CloudWatchLogsRoleArn=account.role("org-logs"),
    )  # fmt: skip
    account.security_hub()
    cloudformation = account.client("cloudformation")
    # as `deploy --org` deploys it: a change set, then its execution
    change_set = cloudformation.create_change_set(
        StackName=policy.STACK_NAME,
        ChangeSetName="trailguard-central-test",
        ChangeSetType="CREATE",
        TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in {
                "SecurityContactEmail": "secops@example.com",
                "OrganizationId": ORG_ID,
                "ManagementAccountId": ACCOUNT,
                "CodeS3Bucket": bucket,
                "CodeS3Key": key,
            }.items()
        ],
    )
    cloudformation.execute_change_set(ChangeSetName=change_set["Id"])
    stack = cloudformation.describe_stacks(StackName=policy.STACK_NAME)["Stacks"][0]
    assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), stack.get("StackStatusReason")
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{policy.TOPIC_NAME}"
    bus_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{policy.BUS_NAME}"
    physical = {
        r.get("LogicalResourceId"): r.get("PhysicalResourceId")
        for r in cloudformation.describe_stack_resources(StackName=policy.STACK_NAME)["StackResources"]
    }
    assert physical["AlertTopic"] == topic_arn
    assert physical["CentralRole"] == f"trailguard-central-{REGION}"
    account.client("events").describe_event_bus(Name=policy.BUS_NAME)  # the bus exists
    archive = physical["ArchiveQueue"]

    function = account.client("lambda").get_function_configuration(FunctionName=policy.FUNCTION_NAME)
    assert function["Handler"] == "trailguard.central.handler"
    events = account.client("events")
    rules = {r["Name"] for r in events.list_rules(EventBusName=policy.BUS_NAME)["Rules"]}
    assert "trailguard-central-calls" in rules
    assert {"trailguard-central-findings", "trailguard-central-backstop"} <= {
        r["Name"] for r in events.list_rules()["Rules"]
    }
    subscriptions = account.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert sorted(s["Protocol"] for s in subscriptions) == ["email", "lambda", "sqs"]

    # moto's CloudFormation may not have applied the bus policy; the backstop checks and puts it back
    events.remove_permission(EventBusName=policy.BUS_NAME, RemoveAllPermissions=True)
    account.client("cloudtrail").stop_logging(Name=trail_arn)
    env = {**function["Environment"]["Variables"], **account.creds, "AWS_REGION": REGION}
    schedule = copy.deepcopy(envelopes.envelope("Scheduled Event", "aws.events", {}))
    with aws.using_environ(env):
        result = handler(schedule, None)

    kinds = sorted(d["kind"] for d in result["backstop"]["drift"])
    assert kinds == ["bus", "trail"], result
    assert all(d["ok"] for d in result["backstop"]["drift"]), result
    restored = events.describe_event_bus(Name=policy.BUS_NAME).get("Policy")
    assert policy.bus_policy_holds(restored, ORG_ID, bus_arn)
    assert account.client("cloudtrail").get_trail_status(Name=trail_arn)["IsLogging"]
    assert result["backstop"]["notification"]["published"] is True
    archived = account.client("sqs").receive_message(QueueUrl=archive, MaxNumberOfMessages=10)
    assert len(archived.get("Messages", [])) == 1  # the archive keeps the one message
