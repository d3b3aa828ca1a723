"""``trailguard audit``: usage, exit codes and the two outputs; in-process moto for the organization,
and once as a person runs it (a separate process) against a moto server."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aws_support import fake_credentials
from cli.conftest import ENV, trailguard
from org import audit_world
from org.audit_world import Org
from trailguard.cli import main
from trailguard.org import checks

REGIONS = ["--region", "us-east-1", "--region", "eu-west-1"]


@pytest.fixture
def org(moto_aws: dict[str, str]) -> Org:
    return audit_world.build()


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "--region", "us-east-1", "--all-enabled-regions"],
        ["audit", "--ou", "ou-ab12-cdef5678", "--region", "us-east-1"],
        ["audit", "--check", "CloudTrail.9", "--region", "us-east-1"],
        ["audit", "--workers", "0", "--region", "us-east-1"],
        ["audit", "--fail-on", "sometimes", "--region", "us-east-1"],
    ],
)
def test_bad_usage_exits_2_before_any_call(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main([*argv, "--endpoint-url", "http://127.0.0.1:9"])
    except SystemExit as exc:  # argparse's own
        code = int(exc.code or 0)
    assert code == 2
    assert capsys.readouterr().out == ""


@pytest.mark.integration
def test_org_json_has_every_account_with_cloudtrail_1_to_7(
    org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["audit", "--org", "--output", "json", *REGIONS])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["schema"] == "trailguard.audit/1"
    assert code == doc["exit"] == 1  # no trailguard stack anywhere yet: TG.instance fails
    assert "audit [" not in err  # no progress bar off a terminal
    rows = doc["rows"]
    for account in org.active:
        for region in ("us-east-1", "eu-west-1"):
            got = {r["check"] for r in rows if r["account"] == account and r["region"] == region}
            assert set(checks.CLOUDTRAIL_CHECKS) <= got
    assert {a["id"]: a["audited"] for a in doc["accounts"]} == {
        **{a: True for a in org.active},
        org.suspended: False,
    }
    assert doc["organization"]["management_account"] == org.management
    assert sum(doc["summary"].values()) == len(rows)
    keys = [(r["account"], r["region"], checks.ORDER[r["check"]], r["resource"]) for r in rows]
    assert keys == sorted(keys)


@pytest.mark.integration
def test_exits_0_then_1_after_a_member_trail_loses_its_kms_key_and_validation(
    org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["audit", "--org", *REGIONS, "--check", "CloudTrail.2", "--check", "CloudTrail.4"]
    assert main(argv) == 0
    org.session(org.members[0]).client("cloudtrail", "us-east-1").update_trail(
        Name="local-trail", KmsKeyId="", EnableLogFileValidation=False
    )
    capsys.readouterr()
    assert main(argv) == 1
    table = capsys.readouterr().out
    failed = [line for line in table.splitlines() if " FAIL " in line]
    assert len(failed) == 2 and all(org.members[0] in line and org.member_trail in line for line in failed)
    assert main([*argv, "--fail-on", "high"]) == 0  # CloudTrail.2 is MEDIUM, .4 LOW


@pytest.mark.integration
def test_the_table_names_each_account_region_and_check(org: Org, capsys: pytest.CaptureFixture[str]) -> None:
    main(["audit", "--org", "--region", "us-east-1", "--check", "CloudTrail.1"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["ACCOUNT", "REGION", "CHECK", "STATUS", "SEVERITY", "RESOURCE", "DETAIL"]
    assert [line.split()[0] for line in lines[1:4]] == org.active
    assert "3 account(s) audited; 3 PASS; 0 failing" in out
    assert f"NOTE: account {org.suspended} (gone) skipped: SUSPENDED" in out


@pytest.mark.integration
def test_without_org_the_callers_account(
    moto_aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--region", "us-east-1", "--output", "json", "--check", "CloudTrail"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["organization"] is None
    assert {r["account"] for r in doc["rows"]} == {"123456789012"}
    assert {
        r["check"]: r["status"] for r in doc["rows"] if r["check"] in ("CloudTrail.1", "CloudTrail.3")
    } == {
        "CloudTrail.1": checks.FAIL,
        "CloudTrail.3": checks.FAIL,
    }


@pytest.mark.integration
def test_as_a_person_runs_it_against_a_moto_server(
    clean_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The organization built on the server (boto3 follows AWS_ENDPOINT_URL), then the command in its
    own process with ``--endpoint-url``: rows for every account, and exit 1 once a member's trail has
    lost its KMS key and validation (0 before)."""
    fake_credentials(monkeypatch, "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", clean_endpoint)
    built = audit_world.build()
    result = trailguard(
        "audit",
        "--org",
        "--endpoint-url",
        clean_endpoint,
        *REGIONS,
        "--output",
        "json",
        "--workers",
        "4",
        env=ENV,
    )
    assert result.returncode == 1, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    audited = {r["account"] for r in doc["rows"] if r["check"] == "CloudTrail.1"}
    assert audited == set(built.active)
    assert boto3.client("sts", "us-east-1").get_caller_identity()["Account"] == built.management
    narrowed = ("audit", "--org", "--endpoint-url", clean_endpoint, *REGIONS, "--check", "CloudTrail.2")
    assert trailguard(*narrowed, "--check", "CloudTrail.4", env=ENV).returncode == 0
    built.session(built.members[0]).client("cloudtrail", "us-east-1").update_trail(
        Name="local-trail", KmsKeyId="", EnableLogFileValidation=False
    )
    after = trailguard(*narrowed, "--check", "CloudTrail.4", env=ENV)
    assert after.returncode == 1 and after.stdout.count(" FAIL ") == 2, after.stdout


@pytest.mark.integration
def test_org_without_an_organization_exits_1_saying_so(
    moto_aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--org", "--region", "us-east-1"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "reading the organization: AWSOrganizationsNotInUseException" in err


def test_no_credentials_exits_1_saying_how_to_give_them(
    no_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"]) == 1
    assert "no AWS credentials found" in capsys.readouterr().err
