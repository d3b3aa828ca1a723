"""The template is lint-clean and wires what docs/internals.md promises: parameters, outputs, the
functions' environment, logs, rule targets with retries and a dead-letter queue, invoke permissions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {
    "ApiCallFunction": ("${AWS::StackName}-api-call", "trailguard.handlers.api_call", ("ApiCallRule",)),
    "FindingFunction": (
        "${AWS::StackName}-finding",
        "trailguard.handlers.finding",
        ("FindingRule", "GuardCallsRule", "BackstopRule"),
    ),
}
RULE_NAMES = (
    "${AWS::StackName}-api-calls,${AWS::StackName}-findings,"
    "${AWS::StackName}-guard-calls,${AWS::StackName}-backstop"
)


def _documented(section: str) -> str:
    text = (ROOT / "docs" / "internals.md").read_text(encoding="utf-8")
    return text.split(section, 1)[1].split("\n## ", 1)[0]


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_committed_template_is_what_the_registry_generates(template_path: Path) -> None:
    """The rule patterns and the Remediation statements are generated: `trailguard template` writes them."""
    from trailguard.gen.files import render_template

    committed = template_path.read_text(encoding="utf-8")
    assert render_template(committed) == committed, "regenerate: trailguard template"


def test_generated_blocks_are_the_rule_patterns_and_the_remediation_statements(template_path: Path) -> None:
    text = template_path.read_text(encoding="utf-8")
    begins = re.findall(r"^( *)# BEGIN GENERATED ([\w-]+):.*\n\1(\S+):", text, re.M)
    assert sorted((name, key) for _, name, key in begins) == [
        ("api-call-rule-pattern", "EventPattern"),
        ("findings-rule-pattern", "EventPattern"),
        ("forward-rule-pattern", "EventPattern"),
        ("guard-calls-rule-pattern", "EventPattern"),
        ("remediation-statements", "Statement"),
    ]
    assert len(re.findall(r"^ *# END GENERATED ", text, re.M)) == len(begins)


def test_cfn_lint_reports_nothing(template_path: Path) -> None:
    from cfnlint.api import lint_file

    found = [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in lint_file(template_path)]
    assert found == []


def test_parameters_and_outputs_are_the_documented_ones(template: dict[str, Any]) -> None:
    stack = _documented("## Stack (template outputs)")
    outputs, parameters = stack.split("Parameters:", 1)
    assert set(template["Outputs"]) == set(re.findall(r"`(\w+)`", outputs))
    assert set(template["Parameters"]) == set(re.findall(r"`(\w+)`", parameters))


def test_email_parameter_is_validated(template: dict[str, Any]) -> None:
    param = template["Parameters"]["SecurityContactEmail"]
    rx = re.compile(str(param["AllowedPattern"]))
    assert param["ConstraintDescription"]
    assert rx.fullmatch("security@example.com")
    assert rx.fullmatch("a.b+alerts@sub.example.co.uk")
    assert rx.fullmatch(""), "empty only with AlertTopicArn (the template's Rules say so)"
    for bad in ("security", "security@", "@example.com", "sec urity@example.com", "a@b"):
        assert not rx.fullmatch(bad), bad


def test_list_parameters_default_to_empty(template: dict[str, Any]) -> None:
    for name in ("AllowedPrincipalArns", "ProtectedTrails"):
        assert template["Parameters"][name]["Type"] == "CommaDelimitedList"
        assert template["Parameters"][name]["Default"] == ""


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_settings_and_environment(template: dict[str, Any], logical_id: str) -> None:
    name, handler, _ = FUNCTIONS[logical_id]
    props = template["Resources"][logical_id]["Properties"]
    assert props["FunctionName"] == {"Fn::Sub": name}
    assert props["Handler"] == handler
    assert props["Runtime"] == "python3.12"
    assert props["Code"] == {
        "S3Bucket": {
            "Fn::If": [
                "HasCodeBucketPrefix",
                {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"},
                {"Ref": "CodeS3Bucket"},
            ]
        },
        "S3Key": {"Ref": "CodeS3Key"},
    }
    assert 128 <= props["MemorySize"] <= 512
    assert 30 <= props["Timeout"] <= 120
    env = props["Environment"]["Variables"]
    documented = set(re.findall(r"^\| `(TRAILGUARD_\w+)`", _documented("## Function environment"), re.M))
    assert set(env) == documented
    assert env["TRAILGUARD_TOPIC_ARN"] == {
        "Fn::If": ["HasAlertTopicArn", {"Ref": "AlertTopicArn"}, {"Ref": "AlertTopic"}]
    }
    assert env["TRAILGUARD_ORG_TRAIL_ROLE"] == {"Ref": "OrgTrailRole"}
    assert env["TRAILGUARD_STATE_TABLE"] == {"Ref": "StateTable"}
    assert env["TRAILGUARD_GUARD_ROLE_ARNS"] == {"Fn::GetAtt": ["GuardRole", "Arn"]}
    assert env["TRAILGUARD_RULE_NAMES"] == {"Fn::Sub": RULE_NAMES}
    assert env["TRAILGUARD_FUNCTION_NAMES"] == {
        "Fn::Sub": "${AWS::StackName}-api-call,${AWS::StackName}-finding"
    }
    assert env["TRAILGUARD_ALLOWED_PRINCIPAL_ARNS"] == {"Fn::Join": [",", {"Ref": "AllowedPrincipalArns"}]}
    assert env["TRAILGUARD_PROTECTED_TRAILS"] == {"Fn::Join": [",", {"Ref": "ProtectedTrails"}]}


def test_rule_and_function_names_agree_with_the_environment(template: dict[str, Any]) -> None:
    rules = {
        str(r["Properties"]["Name"]["Fn::Sub"])
        for logical_id, r in _resources(template, "AWS::Events::Rule").items()
        if logical_id != "ForwardRule"
    }
    assert rules == set(RULE_NAMES.split(","))
    # the forward rule exists only with CentralBusArn and is not the guard's to repair (its target is
    # another account's bus, which the rule floor refuses)
    forward = template["Resources"]["ForwardRule"]["Properties"]
    assert forward["Name"] == {"Fn::Sub": "${AWS::StackName}-forward"}
    assert forward["State"] == {"Fn::If": ["HasCentralBus", "ENABLED", "DISABLED"]}
    functions = {
        str(f["Properties"]["FunctionName"]["Fn::Sub"])
        for f in _resources(template, "AWS::Lambda::Function").values()
    }
    assert functions == {"${AWS::StackName}-api-call", "${AWS::StackName}-finding"}


def test_each_function_has_its_log_group_with_retention(template: dict[str, Any]) -> None:
    groups = {
        str(g["Properties"]["LogGroupName"]["Fn::Sub"]): g["Properties"]
        for g in _resources(template, "AWS::Logs::LogGroup").values()
    }
    assert set(groups) == {f"/aws/lambda/{name}" for name, _, _ in FUNCTIONS.values()}
    assert all(int(g["RetentionInDays"]) >= 90 for g in groups.values())


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_rule_targets_retry_and_dead_letter(template: dict[str, Any], logical_id: str) -> None:
    _, _, rule_ids = FUNCTIONS[logical_id]
    for rule_id in rule_ids:
        (target,) = template["Resources"][rule_id]["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert 60 <= target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 86400
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}

    permissions = [
        p["Properties"]
        for p in _resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": logical_id},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
            "SourceAccount": {"Ref": "AWS::AccountId"},
        }
        for rule_id in rule_ids
    ]


def test_dead_letter_queue_accepts_only_our_rules(template: dict[str, Any]) -> None:
    policy = template["Resources"]["DeadLetterQueuePolicy"]
    allow = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow == [
        {
            "Sid": "EventBridgeUndeliveredEvents",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
            "Condition": {
                "ArnEquals": {
                    "aws:SourceArn": [
                        {"Fn::GetAtt": ["ApiCallRule", "Arn"]},
                        {"Fn::GetAtt": ["FindingRule", "Arn"]},
                        {"Fn::GetAtt": ["GuardCallsRule", "Arn"]},
                        {"Fn::GetAtt": ["BackstopRule", "Arn"]},
                        {"Fn::GetAtt": ["ForwardRule", "Arn"]},
                    ]
                }
            },
        }
    ]


def test_state_table_shape(template: dict[str, Any]) -> None:
    props = template["Resources"]["StateTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert {(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]} == {
        ("pk", "HASH"),
        ("sk", "RANGE"),
    }
    assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == {
        ("pk", "S"),
        ("sk", "S"),
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "GuardKey"}


def test_topic_subscribes_the_contact_inline(template: dict[str, Any]) -> None:
    """Inline, because moto's CloudFormation skips AWS::SNS::Subscription (the local cloud needs it)."""
    assert not _resources(template, "AWS::SNS::Subscription")
    (topic,) = _resources(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["Subscription"] == {
        "Fn::If": [
            "SubscribesContact",
            [{"Protocol": "email", "Endpoint": {"Ref": "SecurityContactEmail"}}],
            {"Ref": "AWS::NoValue"},
        ]
    }
    # with a central topic (AlertTopicArn) no stack of the organization subscribes anyone itself
    assert template["Conditions"]["SubscribesContact"] == {
        "Fn::And": [
            {"Fn::Not": [{"Condition": "HasAlertTopicArn"}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "SecurityContactEmail"}, ""]}]},
        ]
    }


def test_no_getatt_on_types_moto_skips(template: dict[str, Any]) -> None:
    """A GetAtt on a resource moto's CloudFormation skips fails the whole stack on the local cloud."""
    from moto.cloudformation.parsing import resource_class_from_type

    skipped = {k for k, v in template["Resources"].items() if resource_class_from_type(v["Type"]) is None}
    # nothing refers to them (moto skips topic policies, invoke configs and alarms)
    assert skipped == {
        "DeadLetterQueuePolicy",
        "FailedInvocationQueuePolicy",
        "AlertTopicPolicy",
        "ApiCallInvokeConfig",
        "FindingInvokeConfig",
        "ApiCallErrorsAlarm",
        "FindingErrorsAlarm",
        "BackstopMissingAlarm",
        "DeadLetterQueueDepthAlarm",
        "FailedInvocationQueueDepthAlarm",
    }

    def getatts(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [str(node["Fn::GetAtt"][0])] if "Fn::GetAtt" in node else []
            return found + [g for v in node.values() for g in getatts(v)]
        if isinstance(node, list):
            return [g for v in node for g in getatts(v)]
        return []

    used = {
        target
        for logical_id, resource in template["Resources"].items()
        if logical_id not in skipped
        for target in getatts(resource)
    }
    used |= set(getatts(template["Outputs"]))
    assert not used & skipped


def test_topic_and_queues_are_encrypted_with_the_stack_key(template: dict[str, Any]) -> None:
    (topic,) = _resources(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "GuardKey"}
    for queue in _resources(template, "AWS::SQS::Queue").values():
        assert queue["Properties"]["KmsMasterKeyId"] == {"Ref": "GuardKey"}
    for group in _resources(template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["GuardKey", "Arn"]}
    key = template["Resources"]["GuardKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = {
        str(s)
        for st in key["KeyPolicy"]["Statement"]
        for s in (st["Principal"].get("Service") or [])
        if isinstance(st["Principal"].get("Service"), list)
    }
    assert {"cloudwatch.amazonaws.com", "events.amazonaws.com"} <= services


def test_only_the_role_and_the_stacks_alarms_may_publish(template: dict[str, Any]) -> None:
    (policy,) = _resources(template, "AWS::SNS::TopicPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    publishers = [
        s for s in statements.values() if s["Effect"] == "Allow" and "sns:Publish" in str(s["Action"])
    ]
    assert [s["Principal"] for s in publishers] == [
        {"AWS": {"Fn::GetAtt": ["GuardRole", "Arn"]}},
        {"Service": "cloudwatch.amazonaws.com"},
    ]
    assert not any(
        "sns:Publish" in s["Action"] for s in statements.values() if s["Sid"] == "AccountManagesTheTopic"
    )
    deny = statements["NobodyElsePublishes"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sns:Publish")
    assert deny["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["GuardRole", "Arn"]}},
        "Bool": {"aws:PrincipalIsAWSService": "false"},
    }


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_functions_reserve_concurrency_and_send_failures_to_the_queue(
    template: dict[str, Any], logical_id: str
) -> None:
    props = template["Resources"][logical_id]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    (config,) = [
        c["Properties"]
        for c in _resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FailedInvocationQueue", "Arn"]
    }


def test_alarms_notify_the_topic_and_the_backstop_alarm_is_a_dead_mans_switch(
    template: dict[str, Any],
) -> None:
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}] for a in alarms.values())
    watched = {
        (a["Properties"]["MetricName"], str(a["Properties"]["Dimensions"][0]["Value"]))
        for a in alarms.values()
    }
    assert watched == {
        ("Errors", "{'Ref': 'ApiCallFunction'}"),
        ("Errors", "{'Ref': 'FindingFunction'}"),
        ("Invocations", "{'Fn::Sub': '${AWS::StackName}-finding'}"),
        ("ApproximateNumberOfMessagesVisible", "{'Fn::GetAtt': ['DeadLetterQueue', 'QueueName']}"),
        ("ApproximateNumberOfMessagesVisible", "{'Fn::GetAtt': ['FailedInvocationQueue', 'QueueName']}"),
    }
    backstop = alarms["BackstopMissingAlarm"]["Properties"]
    assert backstop["TreatMissingData"] == "breaching"
    assert backstop["ComparisonOperator"] == "LessThanThreshold"
    assert backstop["Period"] == {"Ref": "BackstopAlarmPeriod"}
    # By name, not Ref: a deleted function must still be the one the alarm watches.
    assert "Ref" not in backstop["Dimensions"][0]["Value"]


def test_every_skipped_checkov_check_says_why(template: dict[str, Any]) -> None:
    skips = [
        skip
        for resource in template["Resources"].values()
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    assert all(len(str(s.get("comment") or "").split()) >= 8 for s in skips), skips
    assert {s["id"] for s in skips} == {"CKV_AWS_7", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"}
