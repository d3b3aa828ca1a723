"""The member template as a StackSet deploys it: prefix-based physical names within every service's
limit, the code from a bucket in the function's own region, the central topic and bus, and the
single-account defaults unchanged.

moto checks no name length (and names a StackSet's stacks after the stack set, not
``StackSet-<name>-<id>``), so the limits are checked here on the template's own expressions, evaluated
for the longest prefix and the longest region botocore knows.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import botocore.loaders
import pytest

from aws_support import REGION, Account

PREFIX = "tg-member-0123456789"  # 20 characters: NamePrefix's maximum
ACCOUNT = "123456789012"

# Resource type -> (name property, the service's limit).
LIMITS: dict[str, tuple[str, int]] = {
    "AWS::Events::Rule": ("Name", 64),
    "AWS::Lambda::Function": ("FunctionName", 64),
    "AWS::IAM::Role": ("RoleName", 64),
    "AWS::SNS::Topic": ("TopicName", 256),
    "AWS::SQS::Queue": ("QueueName", 80),
    "AWS::Logs::LogGroup": ("LogGroupName", 512),
    "AWS::CloudWatch::Alarm": ("AlarmName", 255),
    "AWS::DynamoDB::Table": ("TableName", 255),
}
# Types CloudFormation names nothing a service limits (a key has an id; the rest are attachments).
UNNAMED = {
    "AWS::KMS::Key",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::Permission",
}


def longest_region() -> str:
    endpoints = botocore.loaders.Loader().load_data("endpoints")
    return max((r for p in endpoints["partitions"] for r in p["regions"]), key=len)


class Resolver:
    """The template's intrinsics for one set of parameter values: enough of CloudFormation to compute
    a physical name (Ref, Fn::Sub in both forms, Fn::If on the template's conditions, Fn::Join)."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str], region: str) -> None:
        self.template = template
        self.values = {
            **{k: str(v.get("Default", "")) for k, v in template["Parameters"].items()},
            **parameters,
            "AWS::Region": region,
            "AWS::StackName": "StackSet-trailguard-member-0a1b2c3d-4e5f-6789-abcd-ef0123456789",
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
        }

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(n) for n in node]
        if not isinstance(node, Mapping):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref", "Condition")):
            return {k: self.value(v) for k, v in node.items()}
        ((fn, args),) = node.items()
        if fn == "Ref":
            if args == "AWS::NoValue":
                return None
            return self.values.get(args, f"<{args}>")
        if fn == "Fn::GetAtt":
            return f"<{'.'.join(args) if isinstance(args, list) else args}>"
        if fn == "Condition":
            return self.condition(args)
        if fn == "Fn::If":
            return self.value(args[1] if self.condition(args[0]) else args[2])
        if fn == "Fn::Not":
            return not self.value(args[0])
        if fn == "Fn::And":
            return all(self.value(a) for a in args)
        if fn == "Fn::Equals":
            return self.value(args[0]) == self.value(args[1])
        if fn == "Fn::Join":
            return args[0].join(str(v) for v in self.value(args[1]))
        if fn == "Fn::Sub":
            text, variables = (args, {}) if isinstance(args, str) else args
            names = {**self.values, **{k: self.value(v) for k, v in variables.items()}}
            for key, value in names.items():
                text = text.replace("${" + key + "}", str(value))
            assert "${" not in text.replace("${!", ""), f"unresolved in {text}"
            return text
        raise AssertionError(f"{fn} is not resolved by this test")


def physical_names(template: Mapping[str, Any], resolver: Resolver) -> Iterator[tuple[str, str, str, int]]:
    """(logical id, type, name, limit) of every resource the stack creates with these parameters."""
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind in UNNAMED:
            continue
        assert kind in LIMITS, f"{logical_id}: {kind} has no name limit in this test; add it"
        prop, limit = LIMITS[kind]
        name = resolver.value(resource["Properties"].get(prop))
        assert name, f"{logical_id}: no {prop} with NamePrefix set (a StackSet's stack name is too long)"
        yield logical_id, kind, str(name), limit


ORG = {
    "NamePrefix": PREFIX,
    "CodeBucketPrefix": "trailguard-artifacts-123456789012",
    "CodeS3Bucket": "",
    "CodeS3Key": "trailguard/lambda-" + "0" * 64 + ".zip",
    "AlertTopicArn": "arn:aws:sns:us-east-1:210987654321:trailguard-org-alerts",
    "CentralBusArn": "arn:aws:events:us-east-1:210987654321:event-bus/trailguard-org",
    "OrgTrailRole": "member",
}


def test_every_physical_name_fits_its_service_limit_for_the_longest_prefix_and_region(
    template: dict[str, Any],
) -> None:
    region = longest_region()
    assert len(region) >= len("ap-southeast-2")
    resolver = Resolver(template, ORG, region)
    names = list(physical_names(template, resolver))
    assert {kind for _, kind, _, _ in names} == set(LIMITS), "every limited type is named and checked"
    for logical_id, _kind, name, limit in names:
        assert len(name) <= limit, f"{logical_id}: {name} is {len(name)} characters (limit {limit})"
        assert name.removeprefix("/aws/lambda/").startswith(PREFIX + "-"), f"{logical_id}: {name}"
    roles = [name for _, kind, name, _ in names if kind == "AWS::IAM::Role"]
    assert roles and all(name.endswith("-" + region) for name in roles), (
        "IAM is global: roles carry the region"
    )
    # what the functions are told equals what the stack names
    env = resolver.value(template["Resources"]["ApiCallFunction"]["Properties"]["Environment"]["Variables"])
    rules = {name for _, kind, name, _ in names if kind == "AWS::Events::Rule"}
    functions = {name for _, kind, name, _ in names if kind == "AWS::Lambda::Function"}
    assert set(env["TRAILGUARD_RULE_NAMES"].split(",")) == rules - {f"{PREFIX}-forward"}
    assert set(env["TRAILGUARD_FUNCTION_NAMES"].split(",")) == functions
    assert env["TRAILGUARD_TOPIC_ARN"] == ORG["AlertTopicArn"]
    assert env["TRAILGUARD_ORG_TRAIL_ROLE"] == "member"


def test_every_name_fits_for_the_longest_stack_name_deploy_accepts(template: dict[str, Any]) -> None:
    """A single-account stack (NamePrefix empty) names everything after itself: ``deploy`` refuses a
    stack name longer than MAX_STACK_NAME, which keeps every name within its limit."""
    from trailguard.deploy.stack import MAX_STACK_NAME, validate_stack_name

    stack = "t" * MAX_STACK_NAME
    validate_stack_name(stack)
    resolver = Resolver(template, {"SecurityContactEmail": "a@example.com"}, longest_region())
    resolver.values["AWS::StackName"] = stack
    named = [
        (logical_id, resolver.value(resource["Properties"].get(LIMITS[resource["Type"]][0])))
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in LIMITS
    ]
    for logical_id, name in named:
        limit = LIMITS[template["Resources"][logical_id]["Type"]][1]
        assert name is None or len(name) <= limit, f"{logical_id}: {name} ({len(name)} > {limit})"
    tight = [len(n) for i, n in named if n and LIMITS[template["Resources"][i]["Type"]][1] == 64]
    assert max(tight) == 64, "the limit is reached, not merely respected"


def test_the_longest_stack_name_is_no_longer_a_limit(template: dict[str, Any]) -> None:
    """The failure the prefix removes: without it, a StackSet stack's name overflows EventBridge's 64."""
    resolver = Resolver(template, {"NamePrefix": ""}, REGION)
    rule = resolver.value(template["Resources"]["ApiCallRule"]["Properties"]["Name"])
    assert rule.startswith("StackSet-") and len(rule) > 64


def test_defaults_keep_the_single_account_names(template: dict[str, Any]) -> None:
    """An upgraded stack (the new parameters at their defaults) keeps every physical name: named after
    the stack, the role, table and queues left to CloudFormation as before (a new name would replace
    them)."""
    resolver = Resolver(template, {"SecurityContactEmail": "security@example.com"}, REGION)
    stack = resolver.values["AWS::StackName"]
    resources = template["Resources"]
    for logical_id, suffix in (("ApiCallRule", "-api-calls"), ("FindingFunction", "-finding")):
        prop = LIMITS[resources[logical_id]["Type"]][0]
        assert resolver.value(resources[logical_id]["Properties"][prop]) == stack + suffix
    for logical_id in ("GuardRole", "StateTable", "DeadLetterQueue", "FailedInvocationQueue"):
        prop = LIMITS[resources[logical_id]["Type"]][0]
        assert resolver.value(resources[logical_id]["Properties"].get(prop)) is None, logical_id
    assert not resolver.condition("HasCentralBus")
    env = resolver.value(resources["FindingFunction"]["Properties"]["Environment"]["Variables"])
    assert env["TRAILGUARD_ORG_TRAIL_ROLE"] == "owner"
    assert resolver.value(resources["AlertTopic"]["Properties"]["Subscription"])[0]["Protocol"] == "email"


def test_code_bucket_is_the_prefix_and_the_functions_region(template: dict[str, Any]) -> None:
    for logical_id in ("ApiCallFunction", "FindingFunction"):
        code = template["Resources"][logical_id]["Properties"]["Code"]
        assert code["S3Bucket"] == {
            "Fn::If": [
                "HasCodeBucketPrefix",
                {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"},
                {"Ref": "CodeS3Bucket"},
            ]
        }
    for region in ("us-east-1", "eu-west-1"):
        resolver = Resolver(template, ORG, region)
        bucket = resolver.value(template["Resources"]["ApiCallFunction"]["Properties"]["Code"]["S3Bucket"])
        assert bucket == f"{ORG['CodeBucketPrefix']}-{region}"


# ------------------------------------------------------------------------------ deployed on moto


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("trailguard/__init__.py", "")
    return buffer.getvalue()


def test_the_org_template_deploys_with_code_from_the_regions_bucket(
    account: Account, template_path: Any
) -> None:
    """In-process moto creates the stack with every organization parameter set: the functions' code is
    read from ``<CodeBucketPrefix>-<region>`` (CodeS3Bucket empty), names carry the prefix, the
    functions publish to the central topic and the forward rule targets the central bus with a role.
    moto does not evaluate the template's Rules section nor check the bus's policy."""
    del account
    region = "eu-west-1"
    s3 = boto3.client("s3", region_name=region)
    bucket = f"{ORG['CodeBucketPrefix']}-{region}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=bucket, Key=ORG["CodeS3Key"], Body=_zip())
    central_topic = boto3.client("sns", region_name=region).create_topic(Name="trailguard-org-alerts")[
        "TopicArn"
    ]
    bus = boto3.client("events", region_name=region).create_event_bus(Name="trailguard-org")["EventBusArn"]
    parameters = {**ORG, "AlertTopicArn": central_topic, "CentralBusArn": bus}
    cfn = boto3.client("cloudformation", region_name=region)
    cfn.create_stack(
        StackName="StackSet-trailguard-member-0a1b2c3d",
        TemplateBody=template_path.read_text(encoding="utf-8"),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    lam = boto3.client("lambda", region_name=region)
    function = lam.get_function(FunctionName=f"{PREFIX}-api-call")
    config = function["Configuration"]
    env = config["Environment"]["Variables"]
    assert env["TRAILGUARD_TOPIC_ARN"] == central_topic
    assert env["TRAILGUARD_ORG_TRAIL_ROLE"] == "member"
    assert config["Role"].endswith(f":role/{PREFIX}-GuardRole-{region}")
    events = boto3.client("events", region_name=region)
    names = {r["Name"] for r in events.list_rules(NamePrefix=PREFIX)["Rules"]}
    assert names == {f"{PREFIX}-{n}" for n in ("api-calls", "findings", "guard-calls", "backstop", "forward")}
    (target,) = events.list_targets_by_rule(Rule=f"{PREFIX}-forward")["Targets"]
    assert target["Arn"] == bus
    assert target["RoleArn"].endswith(f":role/{PREFIX}-forward-{region}")
    topics = boto3.client("sns", region_name=region).list_topics()["Topics"]
    local = next(t["TopicArn"] for t in topics if t["TopicArn"].endswith(f":{PREFIX}-alerts"))
    subscriptions = boto3.client("sns", region_name=region).list_subscriptions_by_topic(TopicArn=local)
    assert subscriptions["Subscriptions"] == [], (
        "the central topic's subscription tells people, not each stack"
    )
    # a recreated function is given the code of its own region's bucket, as the template names it
    from trailguard.config import Config
    from trailguard.remediate.function import code_artifact

    artifact = code_artifact(Config(stack_name="StackSet-trailguard-member-0a1b2c3d"), region)
    assert (artifact.bucket, artifact.key) == (bucket, ORG["CodeS3Key"])


def test_code_bucket_prefix_is_where_moto_reads_the_code(account: Account, template_path: Any) -> None:
    """The code is read from the bucket of the stack's own region: with the code only in another
    region's bucket, moto's Lambda (which reads the zip from S3 when CloudFormation creates the
    function) refuses the stack: NoSuchBucket."""
    del account
    other = "eu-west-1"
    s3 = boto3.client("s3", region_name=other)
    bucket = f"{ORG['CodeBucketPrefix']}-{other}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": other})
    s3.put_object(Bucket=bucket, Key=ORG["CodeS3Key"], Body=_zip())
    cfn = boto3.client("cloudformation", region_name=REGION)
    parameters = {**ORG, "AlertTopicArn": "", "CentralBusArn": "", "SecurityContactEmail": "a@example.com"}
    with pytest.raises(Exception, match="NoSuchBucket"):
        cfn.create_stack(
            StackName="tg-code-elsewhere",
            TemplateBody=template_path.read_text(encoding="utf-8"),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )


def test_the_forward_rule_sends_trail_calls_to_the_central_bus_with_a_role_that_can_only_put_events(
    template: dict[str, Any], rule_pattern: Any
) -> None:
    from trailguard.gen.patterns import forward_pattern
    from trailguard.gen.yamltext import Flow, Note

    def plain(node: Any) -> Any:
        if isinstance(node, Note):
            return plain(node.value)
        if isinstance(node, Flow):
            return list(node.items)
        if isinstance(node, dict):
            return {k: plain(v) for k, v in node.items()}
        return [plain(v) for v in node] if isinstance(node, list) else node

    assert rule_pattern("ForwardRule") == plain(forward_pattern())
    rule = template["Resources"]["ForwardRule"]["Properties"]
    condition, (target,), none = rule["Targets"]["Fn::If"]
    assert condition == "HasCentralBus" and none == {"Ref": "AWS::NoValue"}
    assert rule["State"] == {"Fn::If": ["HasCentralBus", "ENABLED", "DISABLED"]}
    assert target["Arn"] == {"Ref": "CentralBusArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["ForwardRole", "Arn"]}
    role = template["Resources"]["ForwardRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    ((statement,),) = [p["PolicyDocument"]["Statement"] for p in role["Policies"]]
    assert statement["Action"] == "events:PutEvents"
    bus, placeholder = statement["Resource"]["Fn::If"][1:]
    assert bus == {"Ref": "CentralBusArn"} and "event-bus/no-central-bus" in placeholder["Fn::Sub"]


def test_no_resource_has_a_condition(template: dict[str, Any]) -> None:
    """moto's stack update ignores a resource's Condition (it updates a resource it never created, and
    fails), and the local cloud updates stacks: optional parts are switched off by their properties."""
    assert [k for k, v in template["Resources"].items() if "Condition" in v] == []


def test_organization_trails_are_read_everywhere_and_changed_only_by_a_delegated_admin(
    template: dict[str, Any],
) -> None:
    role = template["Resources"]["GuardRole"]["Properties"]
    (policy,) = [p for p in role["Policies"] if p["PolicyName"] == "OrganizationTrails"]
    read, repair = policy["PolicyDocument"]["Statement"]
    anywhere = {"Fn::Sub": "arn:${AWS::Partition}:cloudtrail:*:*:trail/*"}
    assert read["Resource"] == anywhere
    assert all(a.startswith(("cloudtrail:Get", "cloudtrail:List")) for a in read["Action"]), "reads only"
    assert "cloudtrail:GetTrailStatus" in read["Action"]
    assert "cloudtrail:StartLogging" in repair["Action"]
    condition, delegated, otherwise = repair["Resource"]["Fn::If"]
    assert condition == "IsDelegatedAdmin" and delegated == anywhere
    assert otherwise == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/not-delegated-admin"
    }
    assert template["Conditions"]["IsDelegatedAdmin"] == {
        "Fn::Equals": [{"Ref": "OrgTrailRole"}, "delegated-admin"]
    }
    assert template["Parameters"]["OrgTrailRole"]["AllowedValues"] == ["member", "owner", "delegated-admin"]
    assert template["Parameters"]["OrgTrailRole"]["Default"] == "owner"
    # what a member's verification calls is what the role grants (DescribeTrails takes no resource)
    from trailguard.policy import required_permissions
    from trailguard.remediate.trail import VERIFY_PERMISSIONS

    assert set(VERIFY_PERMISSIONS) <= set(required_permissions())
