"""The forward rule's second branch: trailguard's own alarms going into ALARM, to the organization bus,
and the central stack's rule on that bus taking the same events.

moto emits no "CloudWatch Alarm State Change" events (its CloudFormation skips ``AWS::CloudWatch::Alarm``
altogether), so the events are ``tests/data/alarms``: the AWS documentation's example and two built on
its documented shape from the template's own alarms (``MANIFEST.tsv`` says which). The patterns are
judged by EventBridge's documented semantics, moto's matcher and the local cloud's router together
(the ``matches`` fixture), as every rule of the template is.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import corpus
import envelopes
from template.conftest import eventbridge_matches
from trailguard.org import central as policy

ALARMS = Path(__file__).resolve().parents[1] / "data" / "alarms"
CENTRAL = Path(__file__).resolve().parents[2] / "src" / "trailguard" / "data" / "central.yaml"
INTO_ALARM = "cloudwatch_alarm_backstop_missing_alarm_docshape.json"
BACK_TO_OK = "cloudwatch_alarm_api_call_errors_ok_docshape.json"
NOT_OURS = "cloudwatch_alarm_servercputoohigh_awsdocs.json"


def alarm(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ALARMS / name).read_text(encoding="utf-8"))
    return event


def renamed(event: dict[str, Any], name: str) -> dict[str, Any]:
    copied = copy.deepcopy(event)
    copied["detail"]["alarmName"] = name
    copied["resources"] = [re.sub(r":alarm:.*$", f":alarm:{name}", r) for r in copied["resources"]]
    return copied


@pytest.fixture(scope="module")
def central_pattern() -> dict[str, Any]:
    from cfnlint.decode import decode_str

    decoded, problems = decode_str(CENTRAL.read_text(encoding="utf-8"))
    assert not problems and decoded is not None
    pattern: dict[str, Any] = json.loads(
        json.dumps(decoded["Resources"]["ForwardedCallsRule"]["Properties"]["EventPattern"])
    )
    return pattern


def test_every_alarm_file_is_in_the_manifest() -> None:
    listed = {
        line.split("\t", 1)[0]
        for line in (ALARMS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
        if line.strip()
    }
    assert listed == {p.name for p in ALARMS.glob("*.json")}


def test_the_forward_rule_takes_trailguards_alarm_into_alarm_and_nothing_else(
    matches: Callable[..., bool],
) -> None:
    into = alarm(INTO_ALARM)
    assert matches("ForwardRule", into)
    # the same alarm of a StackSet's stacks (NamePrefix) and of a stack named after itself
    assert matches("ForwardRule", renamed(into, "tg-org-backstop-missing"))
    assert matches("ForwardRule", renamed(into, "trailguard-prod-backstop-missing"))
    for suffix in policy.MEMBER_ALARMS:
        assert matches("ForwardRule", renamed(into, f"trailguard-{suffix}")), suffix
    assert not matches("ForwardRule", alarm(BACK_TO_OK))  # back to OK: not told
    assert not matches("ForwardRule", alarm(NOT_OURS))  # the account's other alarms stay there
    assert not matches("ForwardRule", renamed(into, "trailguard-backstop-missing-copy"))
    other = copy.deepcopy(into)
    other["source"] = "aws.events"
    assert not matches("ForwardRule", other)


def test_the_forward_rule_still_takes_the_calls_on_trails(matches: Callable[..., bool]) -> None:
    stop = envelopes.wrap(corpus.load("tamper/cloudtrail_stoplogging_assumedrole_panther.json"))
    assert matches("ForwardRule", stop)
    read = envelopes.wrap(corpus.load("benign/cloudtrail_describetrails_console_qixotic.json"))
    assert not matches("ForwardRule", read)


def test_the_central_rule_on_the_bus_takes_what_the_members_forward(
    central_pattern: dict[str, Any], rule_pattern: Callable[[str], dict[str, Any]]
) -> None:
    from moto.events.models import EventPattern

    member = rule_pattern("ForwardRule")["$or"][1]
    assert central_pattern["$or"][1] == member, "the central rule's alarm branch is the members' own"
    loaded = EventPattern.load(json.dumps(central_pattern))
    for name, wanted in ((INTO_ALARM, True), (BACK_TO_OK, False), (NOT_OURS, False)):
        event = alarm(name)
        assert eventbridge_matches(central_pattern, event) is wanted, name
        assert loaded.matches_event(event) is wanted, name


def test_the_alarms_matched_are_the_templates_alarms(template: dict[str, Any]) -> None:
    """Every ``AWS::CloudWatch::Alarm`` of the member template is one the forward rule matches and the
    central function can explain, and none is missing."""
    found = set()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        name = resource["Properties"]["AlarmName"]
        text = name["Fn::Sub"] if isinstance(name, dict) else name
        text = text[0] if isinstance(text, list) else text
        found.add(str(text).split("}-", 1)[1])
    assert found == set(policy.MEMBER_ALARMS)


def test_the_constructed_alarm_is_the_templates_backstop_alarm(template: dict[str, Any]) -> None:
    """The constructed event carries what the template's BackstopMissingAlarm would put in it."""
    props = template["Resources"]["BackstopMissingAlarm"]["Properties"]
    event = alarm(INTO_ALARM)
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]
    assert metric["metric"]["name"] == props["MetricName"]
    assert metric["metric"]["namespace"] == props["Namespace"]
    assert metric["stat"] == props["Statistic"]
    assert metric["period"] == template["Parameters"]["BackstopAlarmPeriod"]["Default"]
    assert event["detail"]["configuration"]["description"] == " ".join(props["AlarmDescription"].split())
