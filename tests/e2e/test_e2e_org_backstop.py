"""The management account's trailguard blinded, then the organization trail stopped there: only the
central stack's organization backstop (security account, CloudTrail's delegated administrator) is left,
and it repairs the trail, with one email through the central topic. On the local cloud's organization
with trailguard deployed by ``trailguard deploy --org``.

The attacker blinds the management account with the real AWS CLI: it disables every rule of the
account's plain stack (the API-call and guard-calls rules, which witness each other, the findings rule,
the forward rule to the organization bus and the backstop schedule), then stops the organization trail.
On AWS, CloudTrail delivers a call to EventBridge seconds to minutes after it is made, and the event meets
the rules as they are when it arrives; an attacker faster than that delivery leaves no rule to witness
it. The emulator makes that delivery time explicit (``--event-delay``: 0 by default, so no other test
depends on a race) and logs, for each event, which rules it reached when it arrived; the test asserts
that every attack call reached none. The schedule is fired by SIGUSR1, as the emulator's schedules
always are (moto fires none); ``--schedule-rules`` limits it to the central backstop, since the other
stacks' backstops would also report the stopped trail (the member accounts' stacks route it to the
central function, which would repair it by escalation, not by its backstop). The local cloud emulates
no SCP (which would not apply to the management account anyway) and no IAM evaluation.
"""

from __future__ import annotations

import json
import re
import signal
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

pytestmark = pytest.mark.e2e

EVENT_DELAY = 30.0
"""Seconds from a call to its event on EventBridge: more than the attacker's six AWS CLI calls take."""
CENTRAL_BACKSTOP = "trailguard-central-backstop"
BLINDED = (  # the management account's plain stack `trailguard`: every rule it has
    "trailguard-api-calls",
    "trailguard-guard-calls",
    "trailguard-findings",
    "trailguard-forward",
    "trailguard-backstop",
)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("org-backstop")
    with deployed_org(base, "--event-delay", str(EVENT_DELAY), "--schedule-rules", CENTRAL_BACKSTOP) as org:
        yield org


def arrival(run: Running, event_id: str) -> str | None:
    """The rules the event ``event_id`` reached when it arrived on EventBridge (``none``), or None
    while it has not arrived or its deliveries still run (the emulator's log line for it)."""
    found = re.search(
        rf"CloudTrail event {re.escape(event_id)} \(.*?\) reached EventBridge after [0-9.]+s: rules (.*)$",
        run.log.read_text(errors="replace"),
        re.MULTILINE,
    )
    return found.group(1).strip() if found else None


def arrived(run: Running, event_id: str, what: str) -> str:
    return eventually(lambda: arrival(run, event_id), EVENT_DELAY + 60, what, interval=0.5)


def settled(run: Running) -> int:
    """Wait for a quiet start: every call recorded so far (the deployment's, and those its events made
    functions call) has reached EventBridge and its deliveries have finished; the number of records."""

    def count() -> int | None:
        records = jsonl(run.ready["records"])
        if not all(arrival(run, r["id"]) for r in records):
            return None
        return len(records) if len(jsonl(run.ready["records"])) == len(records) else None

    return eventually(count, EVENT_DELAY + 120, "every call so far reached EventBridge", interval=1.0)


def _issuer(record: dict[str, Any]) -> str:
    identity = record["detail"]["userIdentity"]
    return str(identity.get("sessionContext", {}).get("sessionIssuer", {}).get("arn", ""))


def test_the_management_account_blinded_and_its_organization_trail_stopped_is_repaired_by_the_backstop(
    org: tuple[Running, dict[str, Any]],
) -> None:
    run, document = org
    ready = run.ready
    management = account_of(ready, "management")
    security = ready["organization"]["security_account"]
    trail = ready["trail"]
    central_topic = document["central_outputs"]["AlertTopicArn"]
    since = settled(run)
    seen = len(emails(run.outbox))

    for rule in BLINDED:
        off = aws_cli(ready, management["attacker"], "events", "disable-rule", "--name", rule)
        assert off.returncode == 0, off.stderr
    stop = aws_cli(ready, management["attacker"], "cloudtrail", "stop-logging", "--name", trail["name"])
    assert stop.returncode == 0, stop.stderr

    def records() -> list[dict[str, Any]]:
        return jsonl(ready["records"])[since:]

    attack = [r for r in records() if r["detail"]["eventName"] in ("DisableRule", "StopLogging")]
    assert [r["detail"]["eventName"] for r in attack] == ["DisableRule"] * len(BLINDED) + ["StopLogging"]
    reached = {
        r["detail"]["eventName"] + " " + r["id"]: arrived(run, r["id"], "an attack call") for r in attack
    }
    assert set(reached.values()) == {"none"}, f"a rule witnessed the attack: {reached}"

    def status() -> bool:
        answer = aws_cli(
            ready, management["attacker"], "cloudtrail", "get-trail-status", "--name", trail["arn"]
        )
        assert answer.returncode == 0, answer.stderr
        return bool(json.loads(answer.stdout)["IsLogging"])

    assert status() is False, "nothing but the central backstop may repair it"
    assert [r for r in records() if r["detail"]["eventName"] == "StartLogging"] == []
    assert emails(run.outbox)[seen:] == []
    invoked = len(jsonl(ready["invocations"]))

    run.process.send_signal(signal.SIGUSR1)  # the schedules fire: here only the central backstop

    def central_runs() -> list[dict[str, Any]]:
        return [
            i for i in jsonl(ready["invocations"])[invoked:] if i["function_arn"].split(":")[4] == security
        ]

    def backstops() -> list[dict[str, Any]]:
        return [i for i in central_runs() if str(i["rule_arn"]).endswith(f"rule/{CENTRAL_BACKSTOP}")]

    (backstop,) = eventually(backstops, 60, "the central backstop ran", interval=0.5)
    assert backstop["invoked"] and backstop["error"] is None, backstop
    assert eventually(status, 30, "the organization trail logs again (read by the AWS CLI)", interval=0.5)
    (start,) = [r for r in records() if r["detail"]["eventName"] == "StartLogging"]
    assert start["detail"].get("errorCode") is None
    assert start["detail"]["requestParameters"]["name"] == trail["arn"]
    issuer = _issuer(start)
    assert issuer.split(":")[4] == security and ":role/trailguard-central-" in issuer, issuer
    assert start["account"] == security  # the delegated administrator's own call on the management's trail

    got = emails(run.outbox)[seen:]
    (mail,) = got
    assert mail["topic_arn"] == central_topic
    assert "REPAIRED" in mail["subject"], mail["subject"]
    assert management["id"] in mail["subject"] + mail["body"] and trail["name"] in mail["body"], mail
    # the function's other runs: its topic delivering the message it sent (nothing else reached it)
    assert backstops() == [backstop]
    assert {i["rule_arn"] for i in central_runs() if i not in backstops()} <= {central_topic}
