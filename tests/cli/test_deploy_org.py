"""``trailguard deploy --org`` on the command line: the flags it takes and refuses (exit 2 before any
AWS call), and how the rollout's result becomes the table, the JSON document and the exit code. The
rollout itself runs on a moto server in tests/org/test_deploy_org.py; here it is replaced, so an
endpoint nothing listens on proves no call is made."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trailguard.cli import main
from trailguard.cli.exit import Exit
from trailguard.org import deploy as org_deploy
from trailguard.org.deploy import OrgRollout, PreflightError, Request, Row
from trailguard.org.preflight import Problem

from .conftest import UNREACHABLE

BASE = ["deploy", "--org", "--email", "secops@example.com", "--security-account", "222222222222"]
BASE += ["--endpoint-url", UNREACHABLE]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deploy", "--org", "--security-account", "222222222222"], "--org needs --email"),
        (["deploy", "--org", "--email", "a@b.co"], "--org needs --security-account"),
        ([*BASE, "--stack-name", "tg"], "not with --org: --stack-name"),
        ([*BASE, "--protected-trail", "t"], "not with --org: --protected-trail"),
        ([*BASE, "--region", "us-east-1", "--all-enabled-regions"], "--all-enabled-regions both given"),
        (["deploy", "--stack-name", "tg", "--ou", "OU1"], "--ou only with --org"),
        (["deploy", "--security-account", "222222222222"], "--security-account only with --org"),
        (["deploy", "--email", "a@b.co"], "required: --stack-name"),
    ],
)
def test_usage_errors_exit_2_before_any_call(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert main(args) == Exit.USAGE
    assert message in capsys.readouterr().err


def test_a_security_account_must_be_an_account_id(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["deploy", "--org", "--email", "a@b.co", "--security-account", "security"])
    assert exited.value.code == Exit.USAGE
    assert "not an AWS account id" in capsys.readouterr().err


def _result(*rows: Row) -> OrgRollout:
    return OrgRollout(
        "o-abcdefghij", "111111111111", "222222222222", ["us-east-1"], ["ou-ab12-11111111"], False, list(rows)
    )


def test_regions_repeat_and_ous_pass_through(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Request] = []

    def fake(request: Request, **_: Any) -> OrgRollout:
        seen.append(request)
        return _result(Row("333333333333", "us-east-1", "trailguard-member", "deployed"))

    monkeypatch.setattr(org_deploy, "deploy_org", fake)
    args = [
        *BASE,
        "--ou",
        "OU1",
        "--ou",
        "ou-ab12-22222222",
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
    ]
    assert main(args) == Exit.OK
    (request,) = seen
    assert request.regions == ("us-east-1", "eu-west-1") and request.ous == ("OU1", "ou-ab12-22222222")
    assert request.security_role_name == "OrganizationAccountAccessRole" and not request.dry_run
    out = capsys.readouterr()
    assert out.out.splitlines()[0].split() == ["ACCOUNT", "REGION", "STACK", "STATUS", "REASON"]
    assert "subscription confirmation" in out.err


def test_one_failed_row_is_exit_1_and_the_document_has_every_row(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = (
        Row("333333333333", "us-east-1", "trailguard-member", "deployed"),
        Row("444444444444", "us-east-1", "trailguard-member", "failed", "Limit exceeded"),
        Row("555555555555", "us-east-1", "trailguard-member", "skipped", "account SUSPENDED"),
    )
    monkeypatch.setattr(org_deploy, "deploy_org", lambda request, **_: _result(*rows))
    assert main([*BASE, "--region", "us-east-1", "--output", "json"]) == Exit.FAILED
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "trailguard.deploy-org/1" and document["status"] == "failed"
    assert [r["status"] for r in document["rows"]] == ["deployed", "failed", "skipped"]
    assert document["rows"][1]["reason"] == "Limit exceeded"


def test_an_organization_not_ready_is_exit_1_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(request: Request, **_: Any) -> OrgRollout:
        raise PreflightError(
            [
                Problem(
                    "CloudFormation StackSets has no trusted access",
                    "aws cloudformation activate-organizations-access",
                )
            ]
        )

    monkeypatch.setattr(org_deploy, "deploy_org", refuse)
    assert main([*BASE, "--region", "us-east-1"]) == Exit.FAILED
    err = capsys.readouterr().err
    assert "nothing was changed" in err and "activate-organizations-access" in err
