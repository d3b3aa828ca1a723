"""``trailguard incidents`` over a state table that the real handler filled (moto in-process)."""

from __future__ import annotations

import argparse
import copy
import json
from typing import Any

import pytest

from trailguard import handlers
from trailguard.cli import main
from trailguard.cli.incidents import duration

from .conftest import TABLE, Cloud, event, records

STOP = "tamper/cloudtrail_stoplogging_stratus.json"
ATTEMPT = "failed-tamper/cloudtrail_stoplogging_invalidtrailname_panther.json"


def _fill(cloud: Cloud) -> None:
    (record,) = records(STOP)
    name, region = cloud.trail_for(record, stopped=False)
    for n in range(7):
        raw = copy.deepcopy(event(STOP))
        raw["eventID"] = f"cli-{n}"
        cloud.cloudtrail(region).stop_logging(Name=name)
        cloud.invoke(handlers.api_call, raw)
    (attempt,) = records(ATTEMPT)
    cloud.trail_for(attempt)
    cloud.invoke(handlers.api_call, event(ATTEMPT))


def test_json_lists_one_row_per_burst_with_its_count(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(cloud)
    assert main(["incidents", "--table", TABLE, "--output", "json", "--region", "us-east-1"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    rows = {row["technique"] + "/" + row["verdict"]: row for row in out["incidents"]}
    assert set(rows) == {"trail.stop-logging/tamper", "trail.stop-logging/attempt"}
    burst = rows["trail.stop-logging/tamper"]
    assert burst["count"] == 7 and burst["unverified"] == 0
    assert burst["principal"] == "arn:aws:iam::143434273843:user/christophe"
    assert burst["source_ip"] == "86.245.153.234" and burst["status"] == "remediated"
    assert rows["trail.stop-logging/attempt"]["count"] == 1


def test_table_is_one_line_per_incident_a_person_can_scan(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(cloud)
    assert main(["incidents", "--table", TABLE, "--since", "1h"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["TIME", "VERDICT", "TECHNIQUE"]
    assert len(lines) == 3
    burst = next(line for line in lines if " tamper " in line)
    for text in ("user/christophe", "86.245.153.234", "remediated, verified", " 7"):
        assert text in burst, text


def test_nothing_recorded_is_not_an_error(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "--table", TABLE]) == 0
    assert "No incidents" in capsys.readouterr().out


def test_an_unreadable_table_or_stack_exits_2(cloud: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "--table", "missing-table"]) == 2
    assert main(["incidents", "--stack-name", "no-such-stack"]) == 2
    assert capsys.readouterr().err.count("cannot read the state table") == 2


@pytest.mark.parametrize("argv", [["incidents"], ["incidents", "--table", "t", "--since", "soon"]])
def test_bad_usage_exits_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_durations() -> None:
    assert duration("30m").total_seconds() == 1800
    assert duration("7d").days == 7
    for bad in ("0h", "h", "1y", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            duration(bad)
