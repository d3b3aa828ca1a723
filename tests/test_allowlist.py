"""The allow-list is read from the stack's parameters (``trailguard.allowlist``), never from the function's
environment, and fails closed (issue 9, item 15). In-process moto's CloudFormation."""

from __future__ import annotations

import json

import boto3
import pytest

from trailguard import aws
from trailguard.allowlist import _values, allowed_principals
from trailguard.config import Config

TEMPLATE = json.dumps(
    {
        "Parameters": {"AllowedPrincipalArns": {"Type": "CommaDelimitedList", "Default": ""}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    }
)
BREAK_GLASS = "arn:aws:iam::123456789012:role/break-glass"
PIPELINE = "arn:aws:iam::123456789012:role/pipeline"


@pytest.fixture
def stack(moto_aws: dict[str, str]) -> str:
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="tg",
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "AllowedPrincipalArns", "ParameterValue": f"{BREAK_GLASS},{PIPELINE}"}],
    )
    return "tg"


def test_the_allow_list_is_the_stacks_parameter(stack: str) -> None:
    config = Config(stack_name=stack, allowed_principal_arns=("arn:aws:iam::123456789012:user/attacker",))
    with aws.using_environ({"AWS_DEFAULT_REGION": "us-east-1"}):
        assert allowed_principals(config, "us-east-1") == (BREAK_GLASS, PIPELINE)


def test_no_stack_name_or_an_unreadable_stack_allows_nobody(stack: str) -> None:
    env_only = Config(allowed_principal_arns=("arn:aws:iam::123456789012:user/attacker",))
    assert allowed_principals(env_only, "us-east-1") == ()
    assert allowed_principals(Config(stack_name="no-such-stack"), "us-east-1") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{BREAK_GLASS},{PIPELINE}", (BREAK_GLASS, PIPELINE)),
        (f"['{BREAK_GLASS}', '{PIPELINE}']", (BREAK_GLASS, PIPELINE)),
        ("", ()),
        ("['']", ()),
        ("[oops", ("[oops",)),
    ],
)
def test_both_spellings_of_a_list_parameter(text: str, expected: tuple[str, ...]) -> None:
    assert _values(text) == expected
