"""The central stack ``trailguard-central`` in the security account, through the same change-set steps
as ``trailguard deploy`` (:mod:`trailguard.deploy.stack`), and the policies of its bus and topic.

Both policies are checked and set by API: moto's CloudFormation applies neither an event bus policy
resource nor ``AWS::SNS::TopicPolicy``, and an organization whose bus refuses PutEvents or whose topic
refuses Publish would lose every forwarded call or alert silently. On AWS the stack has set them and
the check keeps them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import trailguard.deploy.stack as stacks
from trailguard import aws
from trailguard.deploy import parameters as params
from trailguard.deploy.errors import DeployError, call
from trailguard.deploy.package import PACKAGE_DIR, compact
from trailguard.org import central

CENTRAL_STACK = "trailguard-central"
CENTRAL_TEMPLATE = "central.yaml"
TEMPLATE_ENV = "TRAILGUARD_CENTRAL_TEMPLATE"  # another central template (a development checkout)
ORG_BUS = "trailguard-org"  # the central stack's bus (the organization's shared contract)
# IAM permissions of the calls here, made in the security account through the assumed role:
ACTIONS = (
    "cloudformation:DescribeStacks",
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DescribeStackEvents",
    "events:DescribeEventBus",
    "events:PutPermission",
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
)
TOPIC_MANAGEMENT = (
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:Subscribe",
    "sns:AddPermission",
    "sns:RemovePermission",
    "sns:DeleteTopic",
)


def template_path() -> Path:
    """The central template: ``TRAILGUARD_CENTRAL_TEMPLATE`` when set, else the packaged one."""
    given = os.environ.get(TEMPLATE_ENV)
    path = Path(given) if given else PACKAGE_DIR / "data" / CENTRAL_TEMPLATE
    if not path.is_file():
        raise DeployError(f"the central template {path} is not there: the installation is incomplete")
    return path


def template_body() -> str:
    return compact(template_path().read_text(encoding="utf-8"))


def deploy(
    cfn: Any,
    *,
    body: str,
    url: str | None,
    values: Mapping[str, str],
    region: str,
    progress: Callable[[str], object],
    poll_seconds: float = 5.0,
    timeout_seconds: float = 1800.0,
) -> tuple[str, dict[str, str]]:
    """Create or update the central stack; (status, its outputs). Status: created, updated, unchanged."""
    existing = stacks.describe(cfn, CENTRAL_STACK)
    cs_type = stacks.change_set_type(existing, CENTRAL_STACK)
    name = f"trailguard-central-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
    arn = stacks.create_change_set(
        cfn,
        CENTRAL_STACK,
        name=name,
        change_set_type=cs_type,
        template_body=body,
        template_url=url,
        parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        tags=[{"Key": "trailguard", "Value": "true"}],
    )
    status = "unchanged"
    if arn:
        change_set = stacks.wait_change_set(cfn, arn, poll_seconds, timeout_seconds)
        if stacks.has_no_changes(change_set):
            stacks.delete_change_set(cfn, arn)
        elif change_set["Status"] == "FAILED":
            stacks.delete_change_set(cfn, arn)
            if cs_type == "CREATE":
                stacks.delete_review_stack(cfn, CENTRAL_STACK)
            raise DeployError(
                f"CloudFormation rejected the change set of {CENTRAL_STACK}: {change_set.get('StatusReason')}"
            )
        else:
            progress(f"{'creating' if cs_type == 'CREATE' else 'updating'} stack {CENTRAL_STACK} ({name})")
            stacks.execute_change_set(
                cfn,
                CENTRAL_STACK,
                arn,
                name,
                progress=progress,
                poll_seconds=poll_seconds,
                timeout_seconds=timeout_seconds,
            )
            status = "created" if cs_type == "CREATE" else "updated"
    if status == "unchanged":
        progress(f"stack {CENTRAL_STACK} is up to date: no changes")
    state = stacks.describe(cfn, CENTRAL_STACK)
    if state is None:
        raise DeployError(f"stack {CENTRAL_STACK} disappeared during deploy; deploy again")
    return status, outputs(cfn, state, body)


_VALUE = re.compile(r"^\s+Value:\s*!(Ref|GetAtt)\s+([A-Za-z0-9]+)(?:\.([A-Za-z]+))?\s*$")


def template_outputs(body: str) -> dict[str, tuple[str, str]]:
    """{output: (logical id, "" for a Ref else the attribute)} of the template's ``Value: !Ref X`` and
    ``Value: !GetAtt X.Attr`` outputs (read from the text, as the parameters are)."""
    found: dict[str, tuple[str, str]] = {}
    for entry, line in params.section_lines(body, "Outputs"):
        matched = _VALUE.match(line)
        if matched:
            found[entry] = (matched.group(2), matched.group(3) or "")
    return found


def outputs(cfn: Any, stack: Mapping[str, Any], body: str) -> dict[str, str]:
    """The central stack's outputs; derived from its resources when the endpoint reports none (moto
    does not evaluate Outputs when it executes a change set; AWS always does)."""
    reported = {str(o["OutputKey"]): str(o["OutputValue"]) for o in stack.get("Outputs") or []}
    if reported:
        return reported
    resources = call(
        f"listing resources of {CENTRAL_STACK}", cfn.describe_stack_resources, StackName=CENTRAL_STACK
    )["StackResources"]
    physical = {str(r["LogicalResourceId"]): r for r in resources if r.get("PhysicalResourceId")}
    _, partition, _, region, account, _ = str(stack["StackId"]).split(":", 5)
    derived: dict[str, str] = {}
    for key, (logical, attribute) in template_outputs(body).items():
        resource = physical.get(logical)
        if resource is None:
            continue
        value = str(resource["PhysicalResourceId"])
        kind = str(resource.get("ResourceType") or "")
        if attribute == "Arn" and not value.startswith("arn:"):
            prefix = _ARNS.get(kind)
            if prefix is None:
                continue
            value = prefix.format(partition=partition, region=region, account=account) + value
        elif attribute not in ("", "Arn"):
            continue
        derived[key] = value
    return derived


_ARNS = {
    "AWS::Events::EventBus": "arn:{partition}:events:{region}:{account}:event-bus/",
    "AWS::IAM::Role": "arn:{partition}:iam::{account}:role/",
    "AWS::Lambda::Function": "arn:{partition}:lambda:{region}:{account}:function:",
    "AWS::SQS::Queue": "arn:{partition}:sqs:{region}:{account}:",
}


def find_bus(events: Any, found: Mapping[str, str]) -> str:
    """The organization bus's ARN: the stack's output, else (moto gives its bus no physical id, so no
    output can be derived) the bus of the contract's name, as EventBridge describes it."""
    if found.get("OrgBusArn"):
        return str(found["OrgBusArn"])
    bus = call(f"describing bus {ORG_BUS}", events.describe_event_bus, Name=ORG_BUS)
    return str(bus["Arn"])


def bus_name(bus_arn: str) -> str:
    return bus_arn.rsplit("/", 1)[-1]


def ensure_bus_policy(
    events: Any, bus_arn: str, organization_id: str, progress: Callable[[str], object]
) -> str:
    """Check the organization bus's policy and grant the organization PutEvents if it does not, with
    the statement the central backstop keeps (:func:`trailguard.org.central.bus_policy`); what was done
    (``kept`` or ``set``). A statement granting more is warned about (the backstop removes it)."""
    from botocore.exceptions import ClientError

    name = bus_name(bus_arn)
    try:
        bus = events.describe_event_bus(Name=name)
    except ClientError as exc:
        raise DeployError(
            f"the central stack's bus {name} cannot be read ({aws.error_text(exc)}): deploy again"
        ) from exc
    wider, present = central.bus_policy_repair(bus.get("Policy"), organization_id, bus_arn)
    for sid in wider:
        progress(
            f"warning: bus {name}'s statement {sid or '(no id)'} grants more than organization "
            f"{organization_id} PutEvents: the central backstop removes it (aws events remove-permission "
            f"--event-bus-name {name} --statement-id {sid or 'ID'})"
        )
    if present:
        progress(f"bus {name}: the organization may put events (kept)")
        return "kept"
    (statement,) = central.bus_policy(organization_id, bus_arn)["Statement"]
    call(
        f"granting organization {organization_id} PutEvents on bus {name}",
        events.put_permission,
        EventBusName=name,
        Action=statement["Action"],
        Principal=statement["Principal"],
        StatementId=central.BUS_POLICY_SID,
        Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": organization_id},
    )
    progress(f"bus {name}: granted organization {organization_id} PutEvents")
    return "set"


def topic_policy(topic_arn: str, organization_id: str) -> dict[str, Any]:
    """The alert topic's policy, as the central template's ``AlertTopicPolicy`` writes it: the account
    manages the topic, every principal of the organization may publish (the members' alerts), and the
    central stack's alarms may."""
    _, partition, _, _, account, _ = topic_arn.split(":", 5)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountManagesTheTopic",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": list(TOPIC_MANAGEMENT),
                "Resource": topic_arn,
            },
            {
                "Sid": "OrganizationPublishes",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            },
            {
                "Sid": "AlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{partition}:cloudwatch:*:{account}:alarm:trailguard-central-*"
                    }
                },
            },
        ],
    }


def lets_organization_publish(policy: str | None, organization_id: str) -> bool:
    try:
        document = json.loads(policy or "{}")
    except ValueError:
        return False
    statements = document.get("Statement") if isinstance(document, dict) else None
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        condition = (statement.get("Condition") or {}).get("StringEquals") or {}
        publishes = any(str(a).lower() in ("sns:publish", "sns:*", "*") for a in actions)  # any case, as IAM
        if publishes and condition.get("aws:PrincipalOrgID") == organization_id:
            return True
    return False


def ensure_topic_policy(
    sns: Any, topic_arn: str, organization_id: str, progress: Callable[[str], object]
) -> str:
    """Check that the organization may publish to the alert topic, and set the template's policy if
    not; what was done (``kept`` or ``set``)."""
    attributes = call(f"reading topic {topic_arn}", sns.get_topic_attributes, TopicArn=topic_arn)[
        "Attributes"
    ]
    if lets_organization_publish(attributes.get("Policy"), organization_id):
        progress(f"topic {topic_arn}: the organization may publish (kept)")
        return "kept"
    call(
        f"letting organization {organization_id} publish to {topic_arn}",
        sns.set_topic_attributes,
        TopicArn=topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps(topic_policy(topic_arn, organization_id)),
    )
    progress(f"topic {topic_arn}: organization {organization_id} may publish")
    return "set"
