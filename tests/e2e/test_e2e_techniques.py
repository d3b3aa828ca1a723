"""Each tampering technique on the local cloud, end to end: ``trailguard emulator`` as a subprocess (one
for the module), the real AWS CLI as the IAM user ``attacker``, and for each attack a bounded wait
(at most 5 s) until the resource is back at its baseline and the outbox holds an email naming it.

The techniques run in one order on one emulator and no test restores anything itself: putting each
resource back before the next attack is the product's job, and each test asserts it. The guard's own
pipeline goes first (the finding function repairs the API-call rule and the api-call function), the
backstop sweep last (fired on demand with SIGUSR1; moto never fires schedules)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from emulator_support import ATTACKER, aws_cli, root_client, running_emulator
from emulator_support import eventually as _eventually

# The template's ReservedConcurrency default: the baseline a repair restores.
RESERVED = 5

pytestmark = pytest.mark.e2e

__all__ = ["ATTACKER"]

ROOT_KEY = {"access_key_id": "AKIAE2ETECHNIQUES001", "secret_access_key": "e2e"}
BOUND = 5.0
"""Seconds an attack may take to be repaired and reported."""
T = TypeVar("T")


@dataclass
class Emulator:
    ready: dict[str, Any]
    outbox: Path
    process: Any
    seen: set[str] = field(default_factory=set)

    def client(self, service: str) -> Any:
        """boto3 as the account root (a key moto does not know): the test's own reads."""
        return root_client(self.ready, service, ROOT_KEY)

    def attack(self, *args: str) -> str:
        """The real AWS CLI as the attacker; the call must succeed (IAM allows it, trailguard undoes it)."""
        result = aws_cli(self.ready, self.ready["attacker"], *args)
        assert result.returncode == 0, result.stderr
        return str(result.stdout)

    def mark(self) -> None:
        """Emails from here on are the next attack's."""
        self.seen = {p.name for p in self.outbox.glob("*.json")}

    def email_naming(self, *needles: str) -> dict[str, Any]:
        """Wait (bounded) for a new email whose subject or body names every needle."""

        def probe() -> dict[str, Any] | None:
            for path in sorted(self.outbox.glob("*.json")):
                if path.name in self.seen:
                    continue
                email: dict[str, Any] = json.loads(path.read_text())
                text = f"{email['subject']}\n{email['body']}"
                if all(n in text for n in needles):
                    return email
            return None

        return eventually(probe, what=f"an email naming {needles}")

    @property
    def trail(self) -> dict[str, str]:
        trail: dict[str, str] = self.ready["trail"]
        return trail

    def describe_trail(self) -> dict[str, Any] | None:
        trails = self.client("cloudtrail").describe_trails()["trailList"]
        return next((t for t in trails if t["Name"] == self.trail["name"]), None)


def eventually(probe: Callable[[], T | None], timeout: float = BOUND, what: str = "condition") -> T:
    return _eventually(probe, timeout, what, retry_errors=True)


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running_emulator(tmp_path_factory.mktemp("techniques")) as run:
        yield Emulator(run.ready, run.outbox, run.process)
    assert run.process.returncode == 0, run.log.read_text()


@pytest.fixture
def e(emu: Emulator) -> Emulator:
    """The module's emulator, quiet (earlier repairs and findings landed) and with the outbox marked."""
    time.sleep(0.3)
    emu.mark()
    return emu


def _named(e: Emulator, suffix: str, kind: str) -> str:
    return next(n for n in e.ready["guard"][kind] if n.endswith(suffix))


# ------------------------------------------------------------------- the guard guards itself


def test_disabling_the_api_call_rule_is_itself_repaired(e: Emulator) -> None:
    rule = _named(e, "-api-calls", "rule_names")
    e.attack("events", "disable-rule", "--name", rule)
    events = e.client("events")
    eventually(lambda: events.describe_rule(Name=rule)["State"] == "ENABLED", what="the rule re-enabled")
    email = e.email_naming(rule, ATTACKER)
    assert "DisableRule" in email["subject"]


def test_zero_concurrency_on_the_api_call_function_is_lifted(e: Emulator) -> None:
    function = _named(e, "-api-call", "function_names")
    e.attack("lambda", "put-function-concurrency", "--function-name", function,
             "--reserved-concurrent-executions", "0")  # fmt: skip
    lam = e.client("lambda")
    eventually(
        lambda: (
            lam.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions")
            == RESERVED
        ),
        what="the reserved concurrency restored",
    )
    e.email_naming(function, "PutFunctionConcurrency")


def test_retargeting_the_guard_calls_rule_is_repaired_from_the_event(e: Emulator) -> None:
    """PutTargets points the guard-calls rule at the attacker (silencing the finding function's view of
    the pipeline); the API-call rule delivers the call and the baseline target is put back. (The API-call
    rule itself had its incident above: a repeat within the burst would be counted, not emailed.)"""
    rule = _named(e, "-guard-calls", "rule_names")
    events = e.client("events")
    (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
    e.attack(
        "events",
        "put-targets",
        "--rule",
        rule,
        "--targets",
        f"Id={target['Id']},Arn=arn:aws:sqs:us-east-1:123456789012:loot",
    )
    eventually(
        lambda: events.list_targets_by_rule(Rule=rule)["Targets"] == [target], what="the target restored"
    )
    email = e.email_naming(rule, "PutTargets", ATTACKER)
    assert "PutTargets" in email["subject"]


# ------------------------------------------------------------------------------ trail techniques


def test_stop_logging(e: Emulator) -> None:
    e.attack("cloudtrail", "stop-logging", "--name", e.trail["name"])
    ct = e.client("cloudtrail")
    eventually(lambda: ct.get_trail_status(Name=e.trail["name"])["IsLogging"], what="logging restarted")
    e.email_naming(e.trail["name"], "StopLogging", ATTACKER)


def test_selectors_dropping_management_events(e: Emulator) -> None:
    ct = e.client("cloudtrail")
    before = ct.get_event_selectors(TrailName=e.trail["name"])
    selectors = '[{"ReadWriteType": "All", "IncludeManagementEvents": false}]'
    e.attack(
        "cloudtrail", "put-event-selectors", "--trail-name", e.trail["name"], "--event-selectors", selectors
    )

    def restored() -> bool:
        now = ct.get_event_selectors(TrailName=e.trail["name"])
        return all(s.get("IncludeManagementEvents") for s in now.get("EventSelectors") or [{}]) and (
            now.get("EventSelectors") == before.get("EventSelectors")
        )

    eventually(restored, what="the event selectors restored")
    e.email_naming(e.trail["name"], "PutEventSelectors")


def test_bucket_redirect(e: Emulator) -> None:
    loot = "attacker-loot-bucket"
    e.attack("s3api", "create-bucket", "--bucket", loot)
    e.attack("cloudtrail", "update-trail", "--name", e.trail["name"], "--s3-bucket-name", loot)
    eventually(
        lambda: (e.describe_trail() or {}).get("S3BucketName") == e.trail["bucket"],
        what="the bucket restored",
    )
    e.email_naming(e.trail["name"], "UpdateTrail")


def test_one_day_lifecycle_on_the_trail_bucket(e: Emulator) -> None:
    rules = {
        "Rules": [{"ID": "cleanup", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}}]
    }
    e.attack("s3api", "put-bucket-lifecycle-configuration", "--bucket", e.trail["bucket"],
             "--lifecycle-configuration", json.dumps(rules))  # fmt: skip
    s3 = e.client("s3")

    def removed() -> bool:
        try:
            s3.get_bucket_lifecycle_configuration(Bucket=e.trail["bucket"])
        except s3.exceptions.ClientError as exc:
            return bool(exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration")
        return False

    eventually(removed, what="the baseline lifecycle (none) restored")
    e.email_naming(e.trail["bucket"], "PutBucketLifecycle")


def _key_id(e: Emulator) -> str:
    return e.trail["kms_key_id"].rsplit("/", 1)[-1]


def _key_enabled(e: Emulator) -> bool:
    return bool(e.client("kms").describe_key(KeyId=_key_id(e))["KeyMetadata"]["KeyState"] == "Enabled")


def test_disable_key(e: Emulator) -> None:
    e.attack("kms", "disable-key", "--key-id", _key_id(e))
    eventually(lambda: _key_enabled(e), what="the key enabled")
    e.email_naming(_key_id(e), "DisableKey")


def test_schedule_key_deletion(e: Emulator) -> None:
    e.attack("kms", "schedule-key-deletion", "--key-id", _key_id(e), "--pending-window-in-days", "7")
    eventually(lambda: _key_enabled(e), what="the deletion cancelled and the key enabled")
    e.email_naming(_key_id(e), "ScheduleKeyDeletion")


def _key_policy(e: Emulator) -> Any:
    return json.loads(e.client("kms").get_key_policy(KeyId=_key_id(e), PolicyName="default")["Policy"])


def test_key_policy_that_drops_cloudtrail(e: Emulator) -> None:
    baseline = _key_policy(e)
    assert any(s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"} for s in baseline["Statement"])
    root = next(s for s in baseline["Statement"] if "AWS" in (s.get("Principal") or {}))
    dropped = json.dumps({"Version": "2012-10-17", "Statement": [root]})
    e.attack("kms", "put-key-policy", "--key-id", _key_id(e), "--policy-name", "default", "--policy", dropped)
    eventually(lambda: _key_policy(e) == baseline, what="the baseline key policy back")
    email = e.email_naming(_key_id(e), "PutKeyPolicy")
    assert email["subject"].startswith("[trailguard] REPAIRED"), email["subject"]


def test_delete_trail(e: Emulator) -> None:
    baseline = e.describe_trail()
    assert baseline is not None
    e.attack("cloudtrail", "delete-trail", "--name", e.trail["name"])
    ct = e.client("cloudtrail")

    def recreated() -> bool:
        trail = e.describe_trail()
        if trail is None or not ct.get_trail_status(Name=e.trail["name"])["IsLogging"]:
            return False
        keys = ("S3BucketName", "KmsKeyId", "IsMultiRegionTrail", "LogFileValidationEnabled")
        return all(trail.get(k) == baseline.get(k) for k in keys)

    eventually(recreated, what="the trail re-created as recorded and logging")
    e.email_naming(e.trail["name"], "DeleteTrail")


# ------------------------------------------------------------------------------------- backstop


def test_backstop_repairs_what_no_event_reported(e: Emulator) -> None:
    """A reserved concurrency of 1 is no tampering call (only 0 is), so no event is judged tamper; the
    backstop sweep compares the function with its baseline (the template reserves RESERVED) and
    restores it."""
    function = _named(e, "-api-call", "function_names")
    lam = e.client("lambda")
    e.attack("lambda", "put-function-concurrency", "--function-name", function,
             "--reserved-concurrent-executions", "1")  # fmt: skip
    time.sleep(0.3)
    assert lam.get_function_concurrency(FunctionName=function)["ReservedConcurrentExecutions"] == 1
    assert not [p for p in e.outbox.glob("*.json") if p.name not in e.seen]
    e.process.send_signal(signal.SIGUSR1)  # the backstop schedule fires now
    eventually(
        lambda: (
            lam.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions")
            == RESERVED
        ),
        what="the reserved concurrency restored",
    )
    email = e.email_naming("backstop found drift on 1 resource(s)", f"function {function}")
    assert email["subject"].startswith("[trailguard] REPAIRED")


def _sweeps(e: Emulator) -> list[dict[str, Any]]:
    """The backstop deliveries journalled so far (``invocations.jsonl``)."""
    path = Path(e.ready["invocations"])
    lines = path.read_text().splitlines() if path.exists() else []
    found = [json.loads(line) for line in lines if line.strip()]
    return [i for i in found if i["detail_type"] == "Scheduled Event"]


def test_everything_is_at_its_baseline_afterwards(e: Emulator) -> None:
    """A last sweep finds nothing: every repair above held, and it sends no email."""
    before = len(_sweeps(e))
    e.process.send_signal(signal.SIGUSR1)
    (sweep, *_) = eventually(lambda: _sweeps(e)[before:], what="the backstop sweep to run")
    assert sweep["invoked"] and sweep["error"] is None, sweep
    assert sweep["result"]["sweep"]["drift"] == [], sweep["result"]
    time.sleep(0.5)
    assert not [p for p in e.outbox.glob("*.json") if p.name not in e.seen]
