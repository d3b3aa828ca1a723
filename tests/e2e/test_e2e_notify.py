"""One clear email per incident on the local cloud: ``trailguard emulator`` as a subprocess, attacked with
the real AWS CLI as the IAM user ``attacker``; emails are read from the emulator's outbox.

The emulator and the CLI come from :mod:`emulator_support`, shared with the other e2e modules."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_support import ATTACKER, aws_cli, emails, eventually, running_emulator

pytestmark = pytest.mark.e2e


class Local:
    def __init__(self, ready: dict[str, Any], outbox: Path) -> None:
        self.ready, self.outbox = ready, outbox

    def aws(self, *args: str) -> Any:
        return aws_cli(self.ready, self.ready["attacker"], *args)

    def emails(self) -> list[dict[str, Any]]:
        return emails(self.outbox)

    def is_logging(self) -> bool:
        result = self.aws("cloudtrail", "get-trail-status", "--name", self.ready["trail"]["name"])
        return bool(json.loads(result.stdout)["IsLogging"]) if result.returncode == 0 else False


def _wait(probe: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    return eventually(probe, timeout, what, interval=0.1)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    with running_emulator(tmp_path_factory.mktemp("notify-e2e")) as run:
        yield Local(run.ready, run.outbox)


def test_one_stop_logging_gives_one_email_naming_who_where_and_what_client(local: Local) -> None:
    trail = local.ready["trail"]["name"]
    assert local.aws("cloudtrail", "stop-logging", "--name", trail).returncode == 0
    _wait(local.is_logging, what="logging to be restored")
    email = _wait(lambda: next((e for e in local.emails() if ATTACKER in e["body"]), None), what="the email")
    assert email["subject"].startswith(f"[trailguard] REPAIRED: StopLogging on trail {trail}")
    for text in (ATTACKER, "127.0.0.1", "aws-cli/", "Verified: yes"):
        assert text in email["body"], text
    time.sleep(3)  # the GuardDuty / Security Hub findings about the same trail arrive and are counted
    assert len([e for e in local.emails() if trail in e["subject"]]) == 1


def test_a_burst_of_twenty_gives_at_most_three_emails_and_logging_on(local: Local) -> None:
    time.sleep(1)
    before = len(local.emails())
    trail = local.ready["trail"]["name"]
    for _ in range(20):
        assert local.aws("cloudtrail", "stop-logging", "--name", trail).returncode == 0
    _wait(local.is_logging, what="logging to be restored")
    time.sleep(3)
    assert local.is_logging()
    new = local.emails()[before:]
    # The stop-logging of the test before is under 5 minutes old, so these 20 are repeats of its burst:
    # counted, not mailed one by one (the count goes out when the burst ends, by the backstop sweep).
    assert len(new) <= 3, [e["subject"] for e in new]
    assert _burst_count(local, trail) >= 20


def _burst_count(local: Local, trail: str) -> int:
    """The calls the ledger counted into the trail's StopLogging burst (the state table, read directly)."""
    tables = json.loads(local.aws("dynamodb", "list-tables").stdout)["TableNames"]
    for table in tables:
        query = local.aws(
            "dynamodb", "query", "--table-name", table, "--key-condition-expression", "pk = :p",
            "--expression-attribute-values", json.dumps({":p": {"S": "bursts"}}),
        )  # fmt: skip
        if query.returncode != 0:
            continue
        for item in json.loads(query.stdout).get("Items", []):
            if item["sk"]["S"].endswith(f"/{trail}#trail.stop-logging#tamper"):
                return int(item["count"]["N"])
    return 0
