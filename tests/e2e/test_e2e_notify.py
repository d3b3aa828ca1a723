"""One clear email per incident on the local cloud: ``trailguard emulator`` as a subprocess, attacked with
the real AWS CLI as the IAM user ``attacker``; emails are read from the emulator's outbox.

The fixture mirrors ``test_e2e_emulator.py`` (its helpers live in a test module, not a shared one)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
ATTACKER = "arn:aws:iam::123456789012:user/attacker"


class Local:
    def __init__(self, ready: dict[str, Any], outbox: Path) -> None:
        self.ready, self.outbox = ready, outbox

    def aws(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=self.ready["attacker"]["access_key_id"],
            AWS_SECRET_ACCESS_KEY=self.ready["attacker"]["secret_access_key"],
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        cmd = [
            str(BIN / "aws"),
            "--endpoint-url",
            self.ready["endpoint"],
            "--region",
            self.ready["region"],
            *args,
        ]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)

    def emails(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.outbox.glob("*.json"))]

    def is_logging(self) -> bool:
        result = self.aws("cloudtrail", "get-trail-status", "--name", self.ready["trail"]["name"])
        return bool(json.loads(result.stdout)["IsLogging"]) if result.returncode == 0 else False


def _wait(probe: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    base = tmp_path_factory.mktemp("notify-e2e")
    ready_file, outbox, log = base / "ready.json", base / "outbox", base / "emulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "trailguard"), "emulator", "--ready-file", str(ready_file), "--outbox", str(outbox)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        )
    try:
        deadline = time.monotonic() + 60
        while not ready_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"emulator did not get ready (exit {process.returncode}):\n{log.read_text()}")
            time.sleep(0.05)
        yield Local(json.loads(ready_file.read_text()), outbox)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


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
    assert 1 <= len(new) <= 3, [e["subject"] for e in new]
