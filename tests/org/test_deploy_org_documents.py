"""The documents ``deploy --org`` writes or reads, checked as documents: moto evaluates no
``aws:PrincipalOrgID`` condition, so what the bucket and bus policies grant is read here, and the
member-template values and the central outputs derived where moto reports none."""

from __future__ import annotations

import json

from trailguard.org.deploy import bucket_policy, member_values
from trailguard.org.deploy_central import (
    ensure_bus_policy,
    lets_organization_publish,
    template_outputs,
    topic_policy,
)

ORG = "o-abcdefghij"
OUTPUTS = {
    "AlertTopicArn": "arn:aws:sns:us-east-1:222222222222:trailguard-org-alerts",
    "OrgBusArn": "arn:aws:events:us-east-1:222222222222:event-bus/trailguard-org",
}


def test_the_bucket_lets_only_the_organization_read_the_code() -> None:
    (statement,) = json.loads(bucket_policy("b-us-east-1", ORG))["Statement"]
    assert statement == {
        "Sid": "OrganizationReadsCode",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b-us-east-1/*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    }
    assert json.loads(bucket_policy("b", ORG, "aws-cn"))["Statement"][0]["Resource"] == "arn:aws-cn:s3:::b/*"


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ORG_STATEMENT = {
    "Sid": "trailguard-organization-put-events",
    "Effect": "Allow",
    "Principal": {"AWS": "*"},
    "Action": "events:PutEvents",
    "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
}


class _Events:
    """An EventBridge client's two calls, recorded (the policy is read, and written when it lacks the
    organization's statement)."""

    def __init__(self, policy: str | None) -> None:
        self.policy = policy
        self.put: list[dict[str, object]] = []

    def describe_event_bus(self, Name: str) -> dict[str, object]:  # noqa: N803 (boto3's spelling)
        return {"Name": Name, **({"Policy": self.policy} if self.policy else {})}

    def put_permission(self, **kwargs: object) -> None:
        self.put.append(kwargs)


BUS = "arn:aws:events:us-east-1:222222222222:event-bus/trailguard-org"


def test_the_bus_policy_is_set_once_and_a_wider_statement_is_warned_about() -> None:
    said: list[str] = []
    empty = _Events(None)
    assert ensure_bus_policy(empty, BUS, ORG, said.append) == "set"
    assert empty.put == [
        {
            "EventBusName": "trailguard-org",
            "Action": "events:PutEvents",
            "Principal": "*",
            "StatementId": "trailguard-organization-put-events",
            "Condition": {"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": ORG},
        }
    ]
    ours = {
        **ORG_STATEMENT,
        "Principal": {"AWS": "arn:aws:iam::*:root"},
        "Resource": BUS,
    }  # as AWS renders it
    everyone = {
        "Sid": "Open",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": BUS,
    }
    kept = _Events(_policy(ours, everyone))
    assert ensure_bus_policy(kept, BUS, ORG, said.append) == "kept"
    assert kept.put == []
    assert any("statement Open grants more" in line for line in said)
    other_org = _Events(
        _policy({**ours, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-otherorgxyz"}}})
    )
    assert ensure_bus_policy(other_org, BUS, ORG, said.append) == "set"


def test_member_values_follow_the_template_it_deploys() -> None:
    contract = ["SecurityContactEmail", "NamePrefix", "CodeBucketPrefix", "CodeS3Bucket", "CodeS3Key"]
    contract += ["AlertTopicArn", "CentralBusArn", "OrgTrailRole", "BackstopSchedule"]
    values = member_values(
        contract,
        email="secops@example.com",
        code_prefix="trailguard-artifacts-111111111111",
        first_bucket="trailguard-artifacts-111111111111-us-east-1",
        key="trailguard/lambda-x.zip",
        outputs=OUTPUTS,
        org_trail_role="member",
        extra={"BackstopSchedule": "rate(15 minutes)"},
    )
    assert values == {
        "SecurityContactEmail": "secops@example.com",
        "NamePrefix": "trailguard",
        "CodeBucketPrefix": "trailguard-artifacts-111111111111",
        "CodeS3Bucket": "",  # the template picks <CodeBucketPrefix>-<region>
        "CodeS3Key": "trailguard/lambda-x.zip",
        "AlertTopicArn": OUTPUTS["AlertTopicArn"],
        "CentralBusArn": OUTPUTS["OrgBusArn"],
        "OrgTrailRole": "member",
        "BackstopSchedule": "rate(15 minutes)",
    }
    older = member_values(
        ["SecurityContactEmail", "CodeS3Bucket", "CodeS3Key"],
        email="secops@example.com",
        code_prefix="p",
        first_bucket="trailguard-artifacts-111111111111-us-east-1",
        key="k",
        outputs=OUTPUTS,
        org_trail_role="member",
        extra={},
    )
    assert older == {
        "SecurityContactEmail": "secops@example.com",
        "CodeS3Bucket": "trailguard-artifacts-111111111111-us-east-1",
        "CodeS3Key": "k",
    }


def test_central_outputs_are_read_from_the_template_text() -> None:
    body = """Resources:
  OrgBus:
    Type: AWS::Events::EventBus
Outputs:
  AlertTopicArn:
    Description: the topic
    Value: !Ref AlertTopic
  OrgBusArn:
    Value: !GetAtt OrgBus.Arn
  Joined:
    Value: !Join [",", [a, b]]
"""
    assert template_outputs(body) == {"AlertTopicArn": ("AlertTopic", ""), "OrgBusArn": ("OrgBus", "Arn")}


def _resolved(value: object, names: dict[str, str]) -> object:
    """The template's ``Ref``/``Fn::Sub`` with ``names`` put in (just what the topic policy uses)."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return names[str(value["Ref"])]
        if set(value) == {"Fn::Sub"}:
            text = str(value["Fn::Sub"])
            for name, replacement in names.items():
                text = text.replace("${" + name + "}", replacement)
            return text
        return {k: _resolved(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, names) for v in value]
    return value


def test_the_topic_policy_deploy_sets_is_the_central_templates() -> None:
    """moto's CloudFormation skips AWS::SNS::TopicPolicy, so deploy --org sets it by API: the same
    document, or a member's alert would be refused where topic policies are enforced."""
    from cfnlint.decode import cfn_yaml

    from trailguard.deploy.package import PACKAGE_DIR

    template = cfn_yaml.load(str(PACKAGE_DIR / "data" / "central.yaml"))
    topic = "arn:aws:sns:us-east-1:222222222222:trailguard-org-alerts"
    names = {
        "AlertTopic": topic,
        "OrganizationId": ORG,
        "AWS::Partition": "aws",
        "AWS::AccountId": "222222222222",
    }
    written = _resolved(template["Resources"]["AlertTopicPolicy"]["Properties"]["PolicyDocument"], names)
    assert json.loads(json.dumps(written)) == topic_policy(topic, ORG)


def test_the_topic_policy_check() -> None:
    topic = "arn:aws:sns:us-east-1:222222222222:trailguard-org-alerts"
    assert lets_organization_publish(json.dumps(topic_policy(topic, ORG)), ORG)
    assert not lets_organization_publish(json.dumps(topic_policy(topic, "o-otherorgxyz")), ORG)
    default = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["SNS:Publish"]}]}
    assert not lets_organization_publish(json.dumps(default), ORG)  # moto's default: the owner only
    assert not lets_organization_publish(None, ORG) and not lets_organization_publish("{", ORG)
