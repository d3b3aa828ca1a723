"""``trailguard deploy`` records baselines once the stack exists; ``trailguard baseline record|show``
read the deployed stack through the stack lookup (moto in-process; moto's CloudFormation reports no
Outputs, so the lookup derives them from the stack's resources); each failure's exit code."""

from __future__ import annotations

import json

import boto3
import pytest

from aws_support import REGION
from trailguard import deploy
from trailguard.cli import main
from trailguard.cli.baseline import SCHEMA
from trailguard.cli.exit import Exit

from .conftest import UNREACHABLE

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

STACK = "tg-base"


def _trail() -> str:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="cli-trail-logs")
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    arn = str(cloudtrail.create_trail(Name="cli-trail", S3BucketName="cli-trail-logs")["TrailARN"])
    cloudtrail.start_logging(Name=arn)
    return arn


def test_deploy_records_baselines_and_show_prints_them(
    moto_aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    arn = _trail()
    lines: list[str] = []
    outputs = deploy.deploy(STACK, "security@example.com", progress=lines.append, poll_seconds=0.01)
    assert any(line.startswith("recording baselines") for line in lines)
    assert any("recorded baselines: 1 trail, 1 bucket" in line for line in lines), lines

    assert main(["baseline", "show", "--stack-name", STACK, "--output", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert next(iter(document)) == "schema" and document["schema"] == SCHEMA == "trailguard.baseline/1"
    assert (document["stack"], document["region"]) == (STACK, REGION)
    shown = document["baselines"]
    assert shown["trail"][arn]["S3BucketName"] == "cli-trail-logs"
    assert shown["bucket"]["cli-trail-logs"]["Lifecycle"] is None
    assert set(shown["rule"]) >= {outputs["ApiCallRuleName"], outputs["FindingRuleName"]}
    assert set(shown["function"]) == {outputs["ApiCallFunctionName"], outputs["FindingFunctionName"]}
    assert shown["function"][outputs["ApiCallFunctionName"]]["CodeSha256"]

    assert main(["baseline", "show", "--stack-name", STACK, "--kind", "trail"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["KIND", "ID", "CAPTURED", "DETAILS"]
    (row,) = table[1:]
    assert (
        row.startswith(f"trail  {arn}") and "S3BucketName=cli-trail-logs" in row and "IsLogging=True" in row
    )


def test_record_refreshes_and_no_baseline_skips(
    moto_aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    deploy.deploy(STACK, "security@example.com", progress=lines.append, poll_seconds=0.01, baseline=False)
    assert not any("baseline" in line for line in lines)
    assert main(["baseline", "show", "--stack-name", STACK]) == 0
    assert "no baselines recorded" in capsys.readouterr().out

    arn = _trail()
    assert main(["baseline", "record", "--stack-name", STACK]) == 0
    assert "1 trail" in capsys.readouterr().out
    assert main(["baseline", "show", "--stack-name", STACK, "--kind", "trail", "--output", "json"]) == 0
    assert list(json.loads(capsys.readouterr().out)["baselines"]["trail"]) == [arn]


@pytest.mark.parametrize("action", ["show", "record"])
def test_unknown_stack_is_a_usage_error(
    moto_aws: dict[str, str], capsys: pytest.CaptureFixture[str], action: str
) -> None:
    assert main(["baseline", action, "--stack-name", "nope"]) == Exit.USAGE == 2
    assert capsys.readouterr().err == (
        f"trailguard baseline: stack nope does not exist in {REGION}; deploy it first\n"
    )


def test_no_credentials_exits_1(no_credentials: None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["baseline", "show", "--stack-name", STACK, "--endpoint-url", UNREACHABLE]
    assert main(argv) == Exit.FAILED == 1
    err = capsys.readouterr().err
    assert err.startswith(f"trailguard baseline: looking up stack {STACK}: no AWS credentials found")


def test_bad_usage_exits_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["baseline", "show"])
    assert exc.value.code == Exit.USAGE


def test_show_marks_tampered_records_and_first_seen_ones(
    moto_aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A baseline rewritten in the table (one PutItem, MAC kept) is shown as TAMPERED, not as the
    baseline, and ``show`` exits 1; one the sweep recorded later says "first seen at"."""
    arn = _trail()
    outputs = deploy.deploy(STACK, "security@example.com", progress=lambda _: None, poll_seconds=0.01)
    ddb = boto3.client("dynamodb", region_name=REGION)
    table, key = outputs["StateTableName"], {"pk": {"S": "baseline#trail"}, "sk": {"S": arn}}
    item = ddb.get_item(TableName=table, Key=key)["Item"]
    item["doc"] = {"S": item["doc"]["S"].replace("cli-trail-logs", "attacker-bucket")}
    ddb.put_item(TableName=table, Item=item)
    bucket = ddb.get_item(
        TableName=table, Key={"pk": {"S": "baseline#bucket"}, "sk": {"S": "cli-trail-logs"}}
    )
    assert bucket["Item"]["mac"]["S"]

    assert (
        main(["baseline", "show", "--stack-name", STACK, "--kind", "trail", "--output", "json"])
        == Exit.FAILED
    )
    document = json.loads(capsys.readouterr().out)
    assert document["authenticated"] is True and document["baselines"]["trail"] == {}
    assert [(t["pk"], t["sk"]) for t in document["tampered"]] == [("baseline#trail", arn)]
    assert main(["baseline", "show", "--stack-name", STACK, "--kind", "trail"]) == Exit.FAILED
    (row,) = capsys.readouterr().out.splitlines()[1:]
    assert row.startswith(f"trail  {arn}") and "TAMPERED" in row and "tampered with" in row

    # re-recording replaces it with a signed, verified baseline (and rewrites the config item)
    assert main(["baseline", "record", "--stack-name", STACK]) == 0
    assert (
        "recorded the stack's configuration (config/stack, signed with the state key)"
        in capsys.readouterr().out
    )
    assert main(["baseline", "show", "--stack-name", STACK, "--kind", "trail"]) == 0
    assert "TAMPERED" not in capsys.readouterr().out


def test_first_seen_is_shown() -> None:
    from trailguard.cli.baseline import _table

    text = _table(
        {"trail": {"arn:t": {"_meta": {"captured_at": "x", "first_seen_at": "2026-12-01T10:00:00+00:00"}}}}
    )
    assert "first seen at 2026-12-01T10:00:00+00:00" in text
