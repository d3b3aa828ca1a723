"""The management account's API-call rule disabled with the real AWS CLI, then the organization trail
stopped: repaired anyway, on the local cloud's organization with trailguard deployed by ``trailguard
deploy --org``. A fresh emulator (the first module's StopLogging on the same trail would fold into this
one within the ledger's quiet window).

The path, exactly: the guard-calls rule takes the DisableRule to the other function
(``trailguard-finding``), which re-enables the API-call rule; the attacker's StopLogging comes after it
(the test waits for the EnableRule, so the order is made, not hoped for), reaches the API-call function
through the rule again, and that function restarts the trail. The forward rule, which the attacker did
not touch, also takes the call to the central function, which waits its grace, hears the management
account's own message through its subscription to the central topic and stays quiet. When nothing in
the management account can witness the attack, the central backstop repairs it:
tests/e2e/test_e2e_org_backstop.py. The local cloud delivers the event path; it emulates no SCP and no
IAM evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from emulator_support import (
    Running,
    account_of,
    aws_cli,
    deployed_org,
    emails,
    eventually,
    jsonl,
)
from test_e2e_org_trail import central_ran_on

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("org-blinded")
    with deployed_org(base) as org:
        yield org


def _session(record: dict[str, Any]) -> str:
    """The role session (the function's name, as Lambda names it) that made a call, or ''."""
    arn = str(record["detail"]["userIdentity"].get("arn", ""))
    return arn.rsplit("/", 1)[-1] if ":assumed-role/" in arn else ""


def test_the_api_call_rule_disabled_then_the_organization_trail_stopped_is_repaired_anyway(
    org: tuple[Running, dict[str, Any]],
) -> None:
    run, document = org
    ready = run.ready
    management = account_of(ready, "management")
    trail = ready["trail"]
    central_topic = document["central_outputs"]["AlertTopicArn"]
    since = len(jsonl(ready["records"]))
    seen = len(emails(run.outbox))
    rule = "trailguard-api-calls"  # the management account's plain stack `trailguard`
    off = aws_cli(ready, management["attacker"], "events", "disable-rule", "--name", rule)
    assert off.returncode == 0, off.stderr

    def records() -> list[dict[str, Any]]:
        return jsonl(ready["records"])[since:]

    def rule_back() -> list[dict[str, Any]]:
        return [r for r in records() if r["detail"]["eventName"] == "EnableRule"]

    (enabled,) = eventually(rule_back, 60, "the other function re-enabled the rule", interval=0.2)
    assert _session(enabled) == "trailguard-finding" and enabled["account"] == management["id"]
    stop = aws_cli(ready, management["attacker"], "cloudtrail", "stop-logging", "--name", trail["name"])
    assert stop.returncode == 0, stop.stderr

    def started() -> list[dict[str, Any]]:
        return [r for r in records() if r["detail"]["eventName"] == "StartLogging"]

    (start,) = eventually(started, 60, "a StartLogging on the organization trail", interval=0.2)
    assert start["detail"].get("errorCode") is None
    assert start["detail"]["requestParameters"]["name"] in (trail["name"], trail["arn"])
    assert _session(start) == "trailguard-api-call" and start["account"] == management["id"], start
    (stopped,) = [r for r in records() if r["detail"]["eventName"] == "StopLogging"]
    assert records().index(enabled) < records().index(stopped) < records().index(start)
    central_ran_on(run, stopped["id"])
    status = aws_cli(ready, management["attacker"], "cloudtrail", "get-trail-status", "--name", trail["arn"])
    assert status.returncode == 0 and '"IsLogging": true' in status.stdout, status.stdout
    assert started() == [start] and rule_back() == [enabled]  # one repair of each, by the named function

    got = emails(run.outbox)[seen:]
    assert {e["topic_arn"] for e in got} == {central_topic}
    subjects = [e["subject"] for e in got]
    (rule_mail,) = [e for e in got if "DisableRule" in e["subject"]]
    assert "REPAIRED" in rule_mail["subject"] and management["id"] in rule_mail["subject"]
    assert rule in rule_mail["subject"] and "were not delivered while a rule was off" in rule_mail["body"]
    (mail,) = [e for e in got if "StopLogging" in e["subject"]]
    assert len(got) == 2, subjects  # the central function stayed quiet: the management account told
    assert "REPAIRED" in mail["subject"] and management["id"] in mail["subject"], subjects
    assert "Restarted logging on trail" in mail["body"]
