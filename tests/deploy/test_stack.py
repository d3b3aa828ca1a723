"""``trailguard.deploy.stack``: the public lookup every ``--stack-name`` command reads (on in-process moto,
which reports no Outputs after a change set, so they are derived from the stack's resources), and the
change-set rules that say why a stack cannot be updated."""

from __future__ import annotations

from typing import Any

import pytest

from trailguard import aws, deploy
from trailguard.deploy import stack

from .conftest import STACK

ALLOWED = "arn:aws:iam::123456789012:role/break-glass"


@pytest.fixture
def deployed(moto_aws: dict[str, str]) -> dict[str, str]:
    """The real stack on moto; returns the outputs deploy reported."""
    return deploy.deploy(
        STACK,
        "security@example.com",
        parameters={"AllowedPrincipalArns": ALLOWED},
        progress=lambda _: None,
        poll_seconds=0.01,
        baseline=False,
    )


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lookup_reads_outputs_parameters_and_where_the_stack_is(deployed: dict[str, str]) -> None:
    found = deploy.lookup(STACK)
    assert found.outputs == deployed
    assert set(found.outputs) == set(stack.OUTPUT_SOURCES)
    assert found.output("StateTableName") == deployed["StateTableName"]
    assert found.name == STACK and found.region == "us-east-1" and found.account == "123456789012"
    assert found.status == "CREATE_COMPLETE"
    assert found.stack_id.startswith(f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/")
    # moto echoes a CommaDelimitedList parameter as a Python list's repr; AWS echoes the string given
    assert found.parameters["AllowedPrincipalArns"] in {ALLOWED, repr([ALLOWED])}
    assert found.parameters["SecurityContactEmail"] == "security@example.com"
    # the state table the output names is the one the stack made
    aws.client("dynamodb").describe_table(TableName=found.output("StateTableName"))


@pytest.mark.integration
def test_lookup_of_a_missing_stack_is_bad_input(moto_aws: dict[str, str]) -> None:
    with pytest.raises(deploy.StackNotFoundError, match=r"stack nope does not exist in eu-west-1"):
        deploy.lookup("nope", region="eu-west-1")
    assert issubclass(deploy.StackNotFoundError, deploy.InputError)


def test_a_missing_output_is_bad_input() -> None:
    found = stack.StackInfo(
        name=STACK,
        stack_id=f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/x",
        region="us-east-1",
        status="CREATE_COMPLETE",
        outputs={"TopicArn": "arn:aws:sns:us-east-1:123456789012:t"},
        parameters={},
    )
    with pytest.raises(deploy.InputError, match="has no StateTableName output; redeploy"):
        found.output("StateTableName")


def test_outputs_map_follows_the_template(template: dict[str, Any]) -> None:
    """``outputs`` derives them from resources when moto omits them: keep that map equal to the
    template's Outputs."""
    assert set(stack.OUTPUT_SOURCES) == set(template["Outputs"])
    for key, (logical_id, kind) in stack.OUTPUT_SOURCES.items():
        value = template["Outputs"][key]["Value"]
        expected = {"Ref": logical_id} if kind == "ref" else {"Fn::GetAtt": [logical_id, "Arn"]}
        assert value == expected, key


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, "CREATE"),
        ("REVIEW_IN_PROGRESS", "CREATE"),
        ("CREATE_COMPLETE", "UPDATE"),
        ("UPDATE_COMPLETE", "UPDATE"),
        ("UPDATE_ROLLBACK_COMPLETE", "UPDATE"),
    ],
)
def test_change_set_type_follows_the_stack(status: str | None, expected: str) -> None:
    described = None if status is None else {"StackStatus": status}
    assert stack.change_set_type(described, STACK) == expected


@pytest.mark.parametrize(
    ("status", "needle"),
    [
        ("ROLLBACK_COMPLETE", "delete-stack"),
        ("UPDATE_IN_PROGRESS", "wait"),
        ("UPDATE_ROLLBACK_FAILED", "repair"),
    ],
)
def test_stacks_that_cannot_take_a_change_set_say_why(status: str, needle: str) -> None:
    with pytest.raises(deploy.DeployError, match=needle):
        stack.change_set_type({"StackStatus": status}, STACK)


@pytest.mark.parametrize(
    ("reason", "empty"),
    [
        ("The submitted information didn't contain changes. Submit different information.", True),
        ("No updates are to be performed.", True),
        ("Template format error", False),
    ],
)
def test_only_a_change_set_without_changes_is_a_no_op(reason: str, empty: bool) -> None:
    assert stack.has_no_changes({"Status": "FAILED", "StatusReason": reason}) is empty
    assert stack.has_no_changes({"Status": "CREATE_COMPLETE", "StatusReason": reason}) is False
