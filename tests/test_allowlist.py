"""The allow-list is read from the stack's parameters (``trailguard.allowlist``), never from the function's
environment, and fails closed (issue 9, item 15). In-process moto's CloudFormation."""

from __future__ import annotations

import json

import boto3
import pytest

from trailguard import allowlist, aws
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


def _describe_calls(region: str = "us-east-1") -> list[str]:
    calls: list[str] = []
    aws.client("cloudformation", region).meta.events.register(
        "before-call.cloudformation.DescribeStacks", lambda **_: calls.append("DescribeStacks")
    )
    return calls


def test_the_stack_is_read_once_per_process_until_the_bound_or_the_environment_changes(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(allowlist.time, "monotonic", lambda: clock[0])
    calls = _describe_calls()
    deployed = Config(stack_name=stack, allowed_principal_arns=(BREAK_GLASS, PIPELINE))
    assert [allowed_principals(deployed, "us-east-1") for _ in range(3)] == [(BREAK_GLASS, PIPELINE)] * 3
    assert calls == ["DescribeStacks"]
    # a stack update of the allow-list rewrites the functions' variable too: that reads the stack again;
    # and so does someone else's rewrite of it, which cannot choose the answer
    rewritten = Config(stack_name=stack, allowed_principal_arns=("arn:aws:iam::123456789012:user/attacker",))
    assert allowed_principals(rewritten, "us-east-1") == (BREAK_GLASS, PIPELINE)
    assert len(calls) == 2
    boto3.client("cloudformation", region_name="us-east-1").update_stack(
        StackName=stack,
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "AllowedPrincipalArns", "ParameterValue": PIPELINE}],
    )
    clock[0] += allowlist.CACHE_SECONDS - 1
    assert allowed_principals(deployed, "us-east-1") == (BREAK_GLASS, PIPELINE)  # within the bound
    clock[0] += 1
    assert allowed_principals(deployed, "us-east-1") == (PIPELINE,)  # the bound passed: read again
    assert len(calls) == 3


def test_a_failed_read_is_not_cached(moto_aws: dict[str, str]) -> None:
    calls = _describe_calls()
    missing = Config(stack_name="not-yet")
    assert allowed_principals(missing, "us-east-1") == ()
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="not-yet",
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "AllowedPrincipalArns", "ParameterValue": BREAK_GLASS}],
    )
    assert allowed_principals(missing, "us-east-1") == (BREAK_GLASS,)
    assert calls == ["DescribeStacks", "DescribeStacks"]


def test_a_full_cache_forgets_its_oldest_entry_not_the_ones_in_use(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI saw the stack re-read inside the bound: the cache, full of earlier environments, was emptied
    whole by the next insert, taking the entry in use with it."""
    monkeypatch.setattr(allowlist, "_CACHE", {(object(), "old", (str(n),)): (0.0, ()) for n in range(31)})
    calls = _describe_calls()
    deployed = Config(stack_name=stack, allowed_principal_arns=(BREAK_GLASS, PIPELINE))
    other = Config(stack_name=stack, allowed_principal_arns=(PIPELINE,))
    assert allowed_principals(deployed, "us-east-1") == (BREAK_GLASS, PIPELINE)
    assert allowed_principals(other, "us-east-1") == (BREAK_GLASS, PIPELINE)  # the 33rd: one old one goes
    assert allowed_principals(deployed, "us-east-1") == (BREAK_GLASS, PIPELINE)
    assert calls == ["DescribeStacks", "DescribeStacks"]
    assert len(allowlist._CACHE) == 32
