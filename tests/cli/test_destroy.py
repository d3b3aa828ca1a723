"""``trailguard destroy`` as a person runs it: a separate process against a standalone moto server; it
asks unless ``--yes``, refuses without a terminal to ask on, and removes the stack with ``--yes``."""

from __future__ import annotations

import io
import json
import sys

import pytest

import trailguard.deploy.destroy as destroying
import trailguard.deploy.stack as stacks
from trailguard import aws
from trailguard.cli import main
from trailguard.cli.exit import Exit
from trailguard.deploy.errors import call

from .conftest import STACK, server_client, server_trail, trailguard

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]


def _stacks(endpoint: str) -> list[str]:
    summaries = server_client(endpoint, "cloudformation").list_stacks()["StackSummaries"]
    return [s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE"]


def _deployed(endpoint: str) -> None:
    server_trail(endpoint, "org-trail")
    where = ("--endpoint-url", endpoint, "--region", "us-east-1")
    result = trailguard("deploy", "--stack-name", STACK, "--email", "security@example.com", *where)
    assert result.returncode == 0, result.stderr


def test_destroy_yes_removes_the_stack_and_says_what_it_keeps(clean_endpoint: str) -> None:
    _deployed(clean_endpoint)
    where = ("--endpoint-url", clean_endpoint, "--region", "us-east-1")
    result = trailguard("destroy", "--stack-name", STACK, "--yes", *where)
    assert result.returncode == 0, result.stderr
    assert _stacks(clean_endpoint) == []
    assert f"deleted stack {STACK}" in result.stdout
    assert "AWS::DynamoDB::Table" in result.stdout and "aws dynamodb delete-table" in result.stdout
    assert "artifact bucket trailguard-artifacts-123456789012-us-east-1" in result.stdout
    assert "DELETE_COMPLETE" in result.stderr and "DELETE_COMPLETE" not in result.stdout

    again = trailguard("destroy", "--stack-name", STACK, "--yes", "--output", "json", *where)
    assert again.returncode == Exit.USAGE, again.stderr  # no such stack any more
    assert "does not exist" in again.stderr


def test_destroy_asks_and_keeps_the_stack_unless_confirmed(clean_endpoint: str) -> None:
    _deployed(clean_endpoint)
    where = ("--endpoint-url", clean_endpoint, "--region", "us-east-1")
    no_terminal = trailguard("destroy", "--stack-name", STACK, *where)
    assert no_terminal.returncode == Exit.USAGE
    assert "pass --yes" in no_terminal.stderr
    assert _stacks(clean_endpoint) == [STACK]


def test_destroy_json_document(clean_endpoint: str) -> None:
    _deployed(clean_endpoint)
    where = ("--endpoint-url", clean_endpoint, "--region", "us-east-1")
    result = trailguard("destroy", "--stack-name", STACK, "--yes", "--output", "json", *where)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "trailguard.destroy/1" and document["status"] == "DELETE_COMPLETE"
    assert {k["kind"] for k in document["kept"]} == {
        "AWS::DynamoDB::Table",
        "AWS::KMS::Key",
        "artifact bucket",
    }


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("case", [("n\n", Exit.USAGE, True), ("yes\n", Exit.OK, False)])
def test_the_question_is_asked_on_stderr_and_only_yes_deletes(
    deployed: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, Exit, bool],
) -> None:
    answer, code, remains = case
    monkeypatch.setattr(sys, "stdin", _Terminal(answer))
    made: list[str] = []
    monkeypatch.setattr(
        destroying, "call", lambda doing, fn, **kw: made.append(doing) or call(doing, fn, **kw)
    )
    assert main(["destroy", "--stack-name", STACK]) == code
    # what it keeps is read once, for the question and the result alike
    assert made.count("reading the stack's template") == 1
    assert sum(doing.startswith("listing resources of") for doing in made) == 1
    captured = capsys.readouterr()
    assert f"Delete stack {STACK}? [y/N]" in captured.err and "[y/N]" not in captured.out
    assert "AWS::DynamoDB::Table" in captured.err  # what it keeps, said before asking
    assert (stacks.describe(aws.client("cloudformation"), STACK) is not None) is remains
