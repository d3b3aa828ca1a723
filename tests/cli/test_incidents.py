"""``trailguard incidents`` over the state table of the real stack deployed on in-process moto, filled
by the real handler with the deployed function's environment; ``--stack-name`` reads the table through
the stack lookup (moto reports no stack Outputs: the lookup derives them), ``--table`` names it; each
failure's exit code."""

from __future__ import annotations

import argparse
import copy
import json
from typing import Any

import boto3
import pytest

from aws_support import REGION, load_event
from trailguard import aws, handlers
from trailguard.cli import main
from trailguard.cli.exit import Exit
from trailguard.cli.incidents import SCHEMA, duration

from .conftest import STACK, UNREACHABLE, trailguard

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

STOP = "tamper/cloudtrail_stoplogging_stratus.json"
ATTEMPT = "failed-tamper/cloudtrail_stoplogging_invalidtrailname_panther.json"


def _function_env(outputs: dict[str, str]) -> dict[str, str]:
    """The API-call function's environment as deployed, with the credentials Lambda would give it."""
    function = boto3.client("lambda", region_name=REGION).get_function_configuration(
        FunctionName=outputs["ApiCallFunctionName"]
    )
    return {
        **function["Environment"]["Variables"],
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def _trail(name: str, region: str = REGION) -> None:
    """The trail a record names, logging (in us-east-1 for the records' made-up regions)."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=f"{name}-logs")
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    cloudtrail.create_trail(Name=name, S3BucketName=f"{name}-logs")
    cloudtrail.start_logging(Name=name)


def _fill(outputs: dict[str, str]) -> None:
    """Seven StopLogging calls by one principal (one burst) and one failed attempt, handled for real."""
    env = _function_env(outputs)
    stop = load_event(STOP)
    _trail(stop["requestParameters"]["name"])
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    for n in range(7):
        raw = copy.deepcopy(stop)
        raw["eventID"] = f"cli-{n}"
        cloudtrail.stop_logging(Name=stop["requestParameters"]["name"])
        with aws.using_environ(env):
            handlers.api_call(raw, None)
    _trail("example-trail", "us-west-2")  # the attempt names it by ARN; the call itself failed
    with aws.using_environ(env):
        handlers.api_call(load_event(ATTEMPT), None)


@pytest.fixture
def filled(deployed: dict[str, str]) -> dict[str, str]:
    _fill(deployed)
    return deployed


def test_json_lists_one_row_per_burst_with_its_count(
    filled: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    table = filled["StateTableName"]
    assert main(["incidents", "--table", table, "--output", "json", "--region", "us-east-1"]) == Exit.OK
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert next(iter(out)) == "schema" and out["schema"] == SCHEMA == "trailguard.incidents/1"
    assert (out["table"], out["since"]) == (table, 86400.0)
    rows = {row["technique"] + "/" + row["verdict"]: row for row in out["incidents"]}
    assert set(rows) == {"trail.stop-logging/tamper", "trail.stop-logging/attempt"}
    burst = rows["trail.stop-logging/tamper"]
    assert burst["count"] == 7 and burst["unverified"] == 0
    assert burst["principal"] == "arn:aws:iam::143434273843:user/christophe"
    assert burst["source_ip"] == "86.245.153.234" and burst["status"] == "remediated"
    assert rows["trail.stop-logging/attempt"]["count"] == 1


def test_stack_name_reads_the_deployed_stack_s_table(
    filled: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The stack's StateTableName output, found by the stack lookup (moto reports no Outputs)."""
    assert main(["incidents", "--stack-name", STACK, "--output", "json"]) == Exit.OK
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert out["table"] == filled["StateTableName"]
    assert sorted((row["technique"], row["verdict"], row["count"]) for row in out["incidents"]) == [
        ("trail.stop-logging", "attempt", 1),
        ("trail.stop-logging", "tamper", 7),
    ]


def test_stack_name_on_a_moto_server_as_a_person_runs_it(clean_endpoint: str) -> None:
    """The local cloud's case: deployed with ``trailguard deploy --endpoint-url``, whose CloudFormation
    reports no stack Outputs; ``incidents --stack-name`` still finds the state table."""
    where = ("--endpoint-url", clean_endpoint, "--region", REGION)
    deployed = trailguard(
        "deploy", "--stack-name", STACK, "--email", "security@example.com", "--allow-no-trails", *where
    )
    assert deployed.returncode == Exit.OK, deployed.stderr
    listed = trailguard("incidents", "--stack-name", STACK, "--output", "json", *where)
    assert listed.returncode == Exit.OK, listed.stderr
    out = json.loads(listed.stdout)
    assert out["schema"] == SCHEMA and out["incidents"] == []
    assert out["table"].startswith(f"{STACK}-StateTable")
    missing = trailguard("incidents", "--stack-name", "no-such-stack", *where)
    assert missing.returncode == Exit.USAGE
    assert "stack no-such-stack does not exist" in missing.stderr


def test_table_is_one_line_per_incident_a_person_can_scan(
    filled: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "--stack-name", STACK, "--since", "1h"]) == Exit.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["TIME", "VERDICT", "TECHNIQUE"]
    assert len(lines) == 3
    burst = next(line for line in lines if " tamper " in line)
    for text in ("user/christophe", "86.245.153.234", "remediated, verified", " 7"):
        assert text in burst, text


def test_nothing_recorded_is_not_an_error(
    deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "--stack-name", STACK]) == Exit.OK
    assert capsys.readouterr().out == (
        f"No incidents in the last 1 day, 0:00:00 (table {deployed['StateTableName']}).\n"
    )


def test_an_unreadable_table_or_stack_exits_2(
    deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "--table", "missing-table"]) == Exit.USAGE
    assert main(["incidents", "--stack-name", "no-such-stack"]) == Exit.USAGE
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "trailguard incidents: cannot read the state table: ResourceNotFoundException: "
        "Requested resource not found",
        "trailguard incidents: cannot read the state table: stack no-such-stack does not exist in "
        f"{REGION}; deploy it first",
    ]


@pytest.mark.parametrize("where", [["--table", "trailguard-state"], ["--stack-name", STACK]])
def test_no_credentials_exits_1_as_deploy_does(
    no_credentials: None, capsys: pytest.CaptureFixture[str], where: list[str]
) -> None:
    assert main(["incidents", *where, "--endpoint-url", UNREACHABLE]) == Exit.FAILED
    err = capsys.readouterr().err
    assert err.startswith("trailguard incidents: cannot read the state table: ")
    assert "no AWS credentials found. Run `aws configure`" in err


@pytest.mark.parametrize("argv", [["incidents"], ["incidents", "--table", "t", "--since", "soon"]])
def test_bad_usage_exits_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == Exit.USAGE


def test_durations() -> None:
    assert duration("30m").total_seconds() == 1800
    assert duration("7d").days == 7
    for bad in ("0h", "h", "1y", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            duration(bad)
