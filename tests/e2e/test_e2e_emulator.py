"""``trailguard emulator`` as a user runs it (a subprocess with a ready file, stopped with SIGTERM),
attacked with the real AWS CLI as the IAM user ``attacker``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from emulator_support import aws_cli, emails, eventually, root_client, running_emulator

# The template's ReservedConcurrency default: the baseline a repair restores.
RESERVED = 5

pytestmark = pytest.mark.e2e

# A key moto does not know: the account root, as for the emulator's own setup.
FINDING_KINDS = {"GuardDuty Finding", "Security Hub Findings - Imported"}
ROOT_KEY = {"access_key_id": "AKIAE2ETESTROOT00001", "secret_access_key": "e2e"}


@dataclass
class Emulator:
    ready: dict[str, Any]
    outbox: Path
    process: Any
    log: Path

    @property
    def endpoint(self) -> str:
        return str(self.ready["endpoint"])

    def client(self, service: str) -> Any:
        """A boto3 client as the account root (a key moto does not know)."""
        return root_client(self.ready, service, ROOT_KEY)

    def aws(self, *args: str, as_attacker: bool = True) -> Any:
        """Run the real AWS CLI against the emulator."""
        return aws_cli(self.ready, self.ready["attacker"] if as_attacker else ROOT_KEY, *args)

    def is_logging(self) -> bool:
        status = self.client("cloudtrail").get_trail_status(Name=self.ready["trail"]["name"])
        return bool(status["IsLogging"])

    def records(self) -> list[dict[str, Any]]:
        return _jsonl(Path(self.ready["records"]))

    def invocations(self) -> list[dict[str, Any]]:
        return _jsonl(Path(self.ready["invocations"]))

    def emails(self) -> list[dict[str, Any]]:
        return emails(self.outbox)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running_emulator(tmp_path_factory.mktemp("emulator"), "--finding-delay", "0.5") as run:
        yield Emulator(run.ready, run.outbox, run.process, run.log)
    assert run.process.returncode == 0, run.log.read_text()
    assert not run.ready_file.exists()


def test_ready_file_names_everything(emulator: Emulator) -> None:
    ready = emulator.ready
    assert ready["endpoint"].startswith("http://127.0.0.1:")
    assert ready["region"] == "us-east-1" and ready["account"] == "123456789012"
    assert set(ready["trail"]) >= {"name", "arn", "bucket", "kms_key_id"}
    assert ready["topic_arn"].startswith("arn:aws:sns:us-east-1:123456789012:")
    assert Path(ready["outbox"]) == emulator.outbox.resolve()
    assert ready["attacker"]["access_key_id"].startswith("AKIA")
    assert set(ready["guard"]) == {"role_arns", "rule_names", "function_names", "topic_arns"}
    assert len(ready["guard"]["rule_names"]) == 4 and len(ready["guard"]["function_names"]) == 2
    assert {n.rsplit("-", 1)[-1] for n in ready["guard"]["rule_names"]} == {"calls", "findings", "backstop"}
    assert emulator.is_logging()


def test_cli_stop_logging_is_repaired_and_emailed(emulator: Emulator) -> None:
    trail = emulator.ready["trail"]
    before = len(emulator.emails())
    result = emulator.aws("cloudtrail", "stop-logging", "--name", trail["name"])
    assert result.returncode == 0, result.stderr
    eventually(emulator.is_logging, what="logging to be restored")

    attacker_arn = "arn:aws:iam::123456789012:user/attacker"

    def alert() -> dict[str, Any] | None:
        emails = emulator.emails()[before:]
        wanted = [e for e in emails if trail["name"] in e["subject"] and attacker_arn in e["body"]]
        return wanted[0] if wanted else None

    email = eventually(alert, what="the alert email")
    assert email["to"] == "security-team@example.com"
    assert email["topic_arn"] == emulator.ready["topic_arn"]
    assert attacker_arn in email["body"]
    assert "127.0.0.1" in email["body"]
    assert "aws-cli/" in email["body"]

    details = [r["detail"] for r in emulator.records()]
    record = next(
        d for d in details if d["eventName"] == "StopLogging" and d["userAgent"].startswith("aws-cli/")
    )
    assert record["eventSource"] == "cloudtrail.amazonaws.com"
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert record["userIdentity"]["type"] == "IAMUser"
    assert record["userIdentity"]["arn"] == attacker_arn
    assert record["userIdentity"]["accessKeyId"] == emulator.ready["attacker"]["access_key_id"]
    assert record["requestParameters"] == {"name": trail["name"]}
    assert record["awsRegion"] == "us-east-1" and record["recipientAccountId"] == "123456789012"
    restarted = [
        d for d in details if d["eventName"] == "StartLogging" and d["userIdentity"]["type"] == "AssumedRole"
    ]
    assert restarted, "no StartLogging by the guard role"
    issuer = restarted[-1]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
    assert issuer in emulator.ready["guard"]["role_arns"]
    # the finding arrives later and finds the trail already repaired
    eventually(
        lambda: any(i["detail_type"] == "GuardDuty Finding" and i["invoked"] for i in emulator.invocations()),
        what="the finding function to run",
    )


def _wait_quiet(emulator: Emulator, seconds: float = 1.5) -> None:
    """Let earlier findings (0.5 s delay) and their deliveries land before the next scenario."""
    time.sleep(seconds)


def test_disabled_api_call_rule_is_re_enabled_by_the_finding_function(emulator: Emulator) -> None:
    """No single disabled rule leaves trailguard blind: the guard-calls rule delivers the DisableRule to
    the finding function, which enables the API-call rule again; the API-call path then works."""
    _wait_quiet(emulator)
    rule_names = emulator.ready["guard"]["rule_names"]
    api_rule = next(n for n in rule_names if n.endswith("-api-calls"))
    guard_rule = next(n for n in rule_names if n.endswith("-guard-calls"))
    events = emulator.client("events")
    seen = len(emulator.invocations())
    events.disable_rule(Name=api_rule)
    eventually(lambda: events.describe_rule(Name=api_rule)["State"] == "ENABLED", what="the rule re-enabled")
    eventually(
        lambda: any(
            i["rule"] == guard_rule and i["function"].endswith("-finding") and i["invoked"]
            for i in emulator.invocations()[seen:]
        ),
        what="the finding function's invocation by the guard-calls rule",
    )
    # The DisableRule event is the one the guard-calls rule handed to the finding function. Compare by
    # event id: a slow invocation from the previous scenario may still land in the list after `seen`.
    disable_ids = {
        incident["event_id"]
        for i in emulator.invocations()[seen:]
        if i["rule"] == guard_rule and isinstance(i["result"], dict)
        for incident in i["result"].get("incidents", [])
        if incident.get("event_name") == "DisableRule"
    }
    assert disable_ids
    assert not [
        i for i in emulator.invocations()[seen:] if i["rule"] == api_rule and i["event_id"] in disable_ids
    ], "a disabled rule delivered the event that disabled it"
    result = emulator.aws("cloudtrail", "stop-logging", "--name", emulator.ready["trail"]["name"])
    assert result.returncode == 0, result.stderr
    eventually(emulator.is_logging, what="logging restored")
    eventually(
        lambda: any(i["rule"] == api_rule and i["invoked"] for i in emulator.invocations()[seen:]),
        what="the re-enabled API-call rule to deliver again",
    )


def _api_function(emulator: Emulator) -> str:
    return next(n for n in emulator.ready["guard"]["function_names"] if n.endswith("api-call"))


def test_zero_concurrency_on_the_api_call_function_is_lifted_by_the_finding_function(
    emulator: Emulator,
) -> None:
    _wait_quiet(emulator)
    function = _api_function(emulator)
    lam = emulator.client("lambda")
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    eventually(
        lambda: (
            lam.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions")
            == RESERVED
        ),
        what="the finding function to lift the zero concurrency",
    )
    assert (
        emulator.aws("cloudtrail", "stop-logging", "--name", emulator.ready["trail"]["name"]).returncode == 0
    )
    eventually(emulator.is_logging, what="logging restored")


def test_deleted_function_is_not_invoked(emulator: Emulator) -> None:
    _wait_quiet(emulator)
    function = _api_function(emulator)
    emulator.client("lambda").delete_function(FunctionName=function)
    seen = len(emulator.invocations())
    assert (
        emulator.aws("cloudtrail", "stop-logging", "--name", emulator.ready["trail"]["name"]).returncode == 0
    )
    eventually(emulator.is_logging, what="the finding path to restore logging")
    # the other function recreates the deleted one (guard.function), so a later delivery may reach the
    # new function: what the emulator must never do is run a function while it does not exist
    deliveries = eventually(lambda: [i for i in emulator.invocations()[seen:] if i["function"] == function])
    refused = [i for i in deliveries if not i["invoked"]]
    for i in refused:  # gone, or recreated but not yet given back the rule's permission
        reason = i["reason"] or ""
        assert "ResourceNotFoundException" in reason or "AccessDeniedException" in reason, i

    # the function may run again only once it exists again: its recreation time is LastModified
    def recreated_at() -> float | None:
        try:
            modified = emulator.client("lambda").get_function(FunctionName=function)["Configuration"]
        except emulator.client("lambda").exceptions.ResourceNotFoundException:
            return None
        stamp = modified["LastModified"]  # moto: 2026-12-02T02:39:27.649658000Z
        return datetime.fromisoformat(stamp[:26]).replace(tzinfo=UTC).timestamp()

    ran = [i["started"] for i in deliveries if i["invoked"]]
    if ran:
        created = eventually(recreated_at, what="the recreated function")
        assert min(ran) >= created - 0.001, (min(ran), created)  # never while it did not exist
