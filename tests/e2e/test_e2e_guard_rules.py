"""Issue 9, item 16 on the local cloud: the attacker disables both API-call rules at once with the real
AWS CLI, then stops the trail. Each rule is the other's witness, so the DisableRule matched while the
other rule was still on is delivered and the one matched after is lost. The function that gets the
delivered one puts back every rule of the stack, and because events were lost while a rule was off it
checks the protected trails at once: the trail logs again and an email says so, before any backstop
sweep (the schedule is not fired here) and before any GuardDuty finding (``--finding-delay 600``: on
AWS it takes minutes).

Without the fix the repair put back only the rule its event named: the API-call rule stayed off until
the sweep, and the StopLogging made meanwhile was neither repaired nor emailed (this test then fails at
"the trail logs again")."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_support import AWS_CLI, aws_cli, emails, eventually, root_client, running_emulator

pytestmark = pytest.mark.e2e

ROOT_KEY = {"access_key_id": "AKIAE2EGUARDRULES001", "secret_access_key": "e2e"}
BOUND = float(os.environ.get("TRAILGUARD_E2E_BOUND", "30"))
"""Seconds until the trail logs again (generous: two functions run on a machine shared with others)."""
STAGGER = 0.3
"""Seconds between the two DisableRule calls: enough for the first to be matched while the other rule is
still on, too little for its repair to have run before the second lands."""


class Local:
    def __init__(self, ready: dict[str, Any], outbox: Path) -> None:
        self.ready, self.outbox = ready, outbox

    def rule(self, suffix: str) -> str:
        return next(n for n in self.ready["guard"]["rule_names"] if n.endswith(suffix))

    def state(self, name: str) -> str:
        return str(root_client(self.ready, "events", ROOT_KEY).describe_rule(Name=name)["State"])

    def is_logging(self) -> bool:
        status = root_client(self.ready, "cloudtrail", ROOT_KEY).get_trail_status(
            Name=self.ready["trail"]["name"]
        )
        return bool(status["IsLogging"])

    def sweeps(self) -> list[dict[str, Any]]:
        path = Path(self.ready["invocations"])
        lines = path.read_text().splitlines() if path.exists() else []
        return [i for i in map(json.loads, filter(None, lines)) if i.get("detail_type") == "Scheduled Event"]

    def attacker_cli(self, *args: str) -> subprocess.Popen[str]:
        """The real AWS CLI as the attacker, started in the background."""
        key = self.ready["attacker"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=key["access_key_id"],
            AWS_SECRET_ACCESS_KEY=key["secret_access_key"],
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        cmd = [
            str(AWS_CLI),
            "--endpoint-url",
            self.ready["endpoint"],
            "--region",
            self.ready["region"],
            *args,
        ]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    with running_emulator(tmp_path_factory.mktemp("guard-rules-e2e"), "--finding-delay", "600") as run:
        yield Local(run.ready, run.outbox)


def test_both_api_call_rules_disabled_at_once_then_stop_logging_is_repaired_and_told_before_any_sweep(
    local: Local,
) -> None:
    trail = local.ready["trail"]["name"]
    api, guard = local.rule("-api-calls"), local.rule("-guard-calls")
    assert local.state(api) == local.state(guard) == "ENABLED" and local.is_logging()

    first = local.attacker_cli("events", "disable-rule", "--name", guard)
    time.sleep(STAGGER)
    second = local.attacker_cli("events", "disable-rule", "--name", api)
    for process in (first, second):
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    stop = aws_cli(local.ready, local.ready["attacker"], "cloudtrail", "stop-logging", "--name", trail)
    assert stop.returncode == 0, stop.stderr

    eventually(local.is_logging, BOUND, "the trail logs again", interval=0.1)
    eventually(
        lambda: local.state(api) == local.state(guard) == "ENABLED", BOUND, "both rules enabled", interval=0.1
    )
    assert local.sweeps() == []

    def told() -> dict[str, Any] | None:
        for email in emails(local.outbox):
            body = f"{email['subject']}\n{email['body']}"
            if trail in body and ("StopLogging" in email["subject"] or "every protected trail" in body):
                return email
        return None

    email = eventually(told, BOUND, "an email about the trail", interval=0.1)
    assert "REPAIRED" in email["subject"]
    assert local.sweeps() == []


def _state_table(local: Local) -> str:
    (table,) = [
        t
        for t in root_client(local.ready, "dynamodb", ROOT_KEY).list_tables()["TableNames"]
        if "state" in t.lower()
    ]
    return str(table)


def test_a_trail_created_after_deploy_is_baselined_from_its_create_event_then_its_redirect_repaired(
    local: Local,
) -> None:
    """Issue 9 item 3 (the event path): the attacker's CreateTrail, confirmed by the local cloud's
    CloudTrail history (its recorder answers LookupEvents), becomes the new trail's baseline (source
    ``created``, first seen at the call's time) with no sweep; the redirect that follows is repaired
    from it. Without the fix the redirect of a trail with no baseline was judged benign: no repair, no
    email."""
    attacker = local.ready["attacker"]
    name, bucket, loot = "late-trail", "late-trail-logs", "late-trail-loot"
    for made in (bucket, loot):
        result = aws_cli(local.ready, attacker, "s3api", "create-bucket", "--bucket", made)
        assert result.returncode == 0, result.stderr
    created = aws_cli(
        local.ready, attacker, "cloudtrail", "create-trail", "--name", name, "--s3-bucket-name", bucket
    )
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["TrailARN"]
    dynamodb = root_client(local.ready, "dynamodb", ROOT_KEY)
    table = _state_table(local)

    def baseline() -> dict[str, Any] | None:
        item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "baseline#trail"}, "sk": {"S": arn}}).get(
            "Item"
        )
        return json.loads(item["doc"]["S"]) if item else None

    doc = eventually(baseline, BOUND, "the new trail's baseline", interval=0.2)
    assert doc["S3BucketName"] == bucket
    assert doc["_meta"]["source"] == "created" and doc["_meta"]["first_seen_at"]
    assert "CreateTrail by " + attacker["arn"] in doc["_meta"]["confirmed_by"]

    redirect = aws_cli(
        local.ready, attacker, "cloudtrail", "update-trail", "--name", name, "--s3-bucket-name", loot
    )
    assert redirect.returncode == 0, redirect.stderr
    cloudtrail = root_client(local.ready, "cloudtrail", ROOT_KEY)

    def restored() -> bool:
        (trail,) = [t for t in cloudtrail.describe_trails()["trailList"] if t["TrailARN"] == arn]
        return bool(trail["S3BucketName"] == bucket)

    eventually(restored, BOUND, "the new trail delivering to its own bucket again", interval=0.2)

    def told() -> dict[str, Any] | None:
        return next(
            (e for e in emails(local.outbox) if "UpdateTrail" in e["subject"] and name in e["subject"]), None
        )

    email = eventually(told, BOUND, "the redirect's email", interval=0.2)
    assert email["subject"].startswith("[trailguard] REPAIRED"), email["subject"]
    assert local.sweeps() == []
