"""trailguard's own functions on the local cloud, end to end (issue 10): ``trailguard emulator`` as a
subprocess (one for the module), the real AWS CLI as the IAM user ``attacker``.

* ``delete-function`` on the api-call function: the finding function (guard-calls rule) recreates it
  from its signed baseline and the stack's code artifact (the ``CodeS3Bucket`` / ``CodeS3Key`` the stack
  was deployed with); it answers again: the next ``stop-logging`` is delivered to it and repaired.
* ``update-function-code`` with the attacker's zip: the code SHA-256 is the artifact's again.
* ``update-function-configuration`` of the finding function's environment (a decoy protected-trail
  list and the attacker allow-listed): the environment is the baseline's again.

Each: the function is back and the outbox holds an email naming the call and the function, within
:data:`BOUND` seconds. No test restores anything itself; the next test starts from the product's repair.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from emulator_support import ATTACKER, aws_cli, root_client, running_emulator
from emulator_support import eventually as _eventually

pytestmark = pytest.mark.e2e

ROOT_KEY = {"access_key_id": "AKIAE2ESELFRESTORE01", "secret_access_key": "e2e"}
BOUND = float(os.environ.get("TRAILGUARD_E2E_BOUND", "5.0"))
"""Seconds from the attack's return to the repair and to the email (a recreate is several calls; a
loaded shared machine may set ``TRAILGUARD_E2E_BOUND`` higher)."""
RESERVED = 5  # the template's ReservedConcurrency default, recorded in the baseline at deploy
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str) -> T:
    return _eventually(probe, BOUND, what, interval=0.02, retry_errors=True)


@dataclass
class Emulator:
    ready: dict[str, Any]
    outbox: Path
    seen: set[str] = field(default_factory=set)

    def client(self, service: str) -> Any:
        return root_client(self.ready, service, ROOT_KEY)

    def attack(self, *args: str) -> None:
        result = aws_cli(self.ready, self.ready["attacker"], *args)
        assert result.returncode == 0, result.stderr

    def mark(self) -> None:
        self.seen = {p.name for p in self.outbox.glob("*.json")}

    def email_naming(self, *needles: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            for path in sorted(self.outbox.glob("*.json")):
                if path.name in self.seen:
                    continue
                email: dict[str, Any] = json.loads(path.read_text())
                if all(n in f"{email['subject']}\n{email['body']}" for n in needles):
                    return email
            return None

        try:
            return eventually(probe, f"an email naming {needles}")
        except AssertionError as exc:
            fresh = [p for p in sorted(self.outbox.glob("*.json")) if p.name not in self.seen]
            shown = [json.loads(p.read_text()) for p in fresh]
            raise AssertionError(
                f"{exc}; new emails: {[(m['subject'], m['body'][:600]) for m in shown]}"
            ) from exc

    def function(self, suffix: str) -> str:
        return next(n for n in self.ready["guard"]["function_names"] if n.endswith(suffix))

    def artifact_sha(self) -> str:
        """Lambda's CodeSha256 of the stack's code: the content hash its CodeS3Key names."""
        (stack,) = self.client("cloudformation").describe_stacks(StackName=self.stack)["Stacks"]
        key = next(p["ParameterValue"] for p in stack["Parameters"] if p["ParameterKey"] == "CodeS3Key")
        found = re.search(r"lambda-([0-9a-f]{64})\.zip$", key)
        assert found, key
        return base64.b64encode(bytes.fromhex(found.group(1))).decode()

    @property
    def stack(self) -> str:
        return self.function("-api-call").removesuffix("-api-call")

    def incidents(self, event_name: str, function: str) -> list[dict[str, Any]]:
        """The guard.function incidents the functions reported about the attacker's ``event_name`` on
        ``function`` (the invocation journal)."""
        return [
            incident
            for invocation in self.invocations()
            for incident in (invocation.get("result") or {}).get("incidents") or []
            if incident.get("technique") == "guard.function"
            and str(incident.get("event_name") or "").startswith(event_name)
            and incident.get("resource") == function
            and incident.get("principal") == ATTACKER
        ]

    def invocations(self) -> list[dict[str, Any]]:
        path = Path(self.ready["invocations"])
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running_emulator(tmp_path_factory.mktemp("self-restore")) as run:
        yield Emulator(run.ready, run.outbox)
    assert run.process.returncode == 0, run.log.read_text()


@pytest.fixture
def e(emu: Emulator) -> Emulator:
    time.sleep(0.3)  # the previous test's repairs and emails have landed
    emu.mark()
    return emu


def test_a_deleted_function_is_recreated_and_answers_again(e: Emulator) -> None:
    name = e.function("-api-call")
    lam = e.client("lambda")
    before = lam.get_function_configuration(FunctionName=name)

    e.attack("lambda", "delete-function", "--function-name", name)

    def recreated() -> dict[str, Any] | None:
        found: dict[str, Any] = lam.get_function_configuration(FunctionName=name)
        reserved = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        return found if reserved == RESERVED and lam.get_policy(FunctionName=name)["Policy"] else None

    after = eventually(recreated, f"function {name} recreated with its concurrency and permission")
    assert after["CodeSha256"] == e.artifact_sha() == before["CodeSha256"]
    for key in ("Role", "Handler", "Runtime", "Timeout", "MemorySize", "Environment"):
        assert after.get(key) == before.get(key), key
    email = e.email_naming("DeleteFunction", name, "recreated it", ATTACKER)
    assert "] REPAIRED:" in email["subject"], email["subject"]
    assert "backstop-missing" in email["body"]

    # answering: the next StopLogging reaches the recreated function, which repairs it
    seen = len(e.invocations())
    e.mark()
    trail = e.ready["trail"]["name"]
    e.attack("cloudtrail", "stop-logging", "--name", trail)
    cloudtrail = e.client("cloudtrail")
    eventually(lambda: cloudtrail.get_trail_status(Name=trail)["IsLogging"], "the trail logging again")
    e.email_naming("StopLogging", trail)
    answered = eventually(
        lambda: [
            i
            for i in e.invocations()[seen:]
            if i["function"] == name and i["invoked"] and not i.get("error") and i.get("result")
        ],
        f"an invocation of the recreated {name}",
    )
    assert any(
        inc.get("technique") == "trail.stop-logging" for i in answered for inc in i["result"]["incidents"]
    )


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def test_new_code_is_replaced_with_the_stacks_artifact(e: Emulator, tmp_path: Path) -> None:
    """On the api-call function just recreated: one burst with its deletion (same technique, same
    function, within five minutes), so the repair is folded into that email (``notify.ledger``) and is
    read from the invocation journal: remediated and verified."""
    name = e.function("-api-call")
    lam = e.client("lambda")
    evil = tmp_path / "evil.zip"
    evil.write_bytes(_zip())
    wanted = e.artifact_sha()

    e.attack("lambda", "update-function-code", "--function-name", name, "--zip-file", f"fileb://{evil}")

    eventually(
        lambda: lam.get_function_configuration(FunctionName=name)["CodeSha256"] == wanted,
        "the artifact's code back",
    )
    # both functions get the call (api-calls and guard-calls rules): one repairs, the other finds it back
    repaired = eventually(
        lambda: [i for i in e.incidents("UpdateFunctionCode", name) if i["status"] == "remediated"],
        "the repair journalled",
    )
    assert all(i["verified"] for i in repaired), repaired
    assert all(
        i["status"] in ("remediated", "already-restored") for i in e.incidents("UpdateFunctionCode", name)
    )


def test_a_changed_environment_is_put_back(e: Emulator, tmp_path: Path) -> None:
    """On the finding function: a decoy protected-trail list and the attacker allow-listed. Put back
    from the baseline, and the email says each variable before -> after."""
    name = e.function("-finding")
    lam = e.client("lambda")
    variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    decoy = {
        **variables,
        "TRAILGUARD_PROTECTED_TRAILS": "decoy",
        "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": ATTACKER,
    }
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"Variables": decoy}))

    e.attack(
        "lambda", "update-function-configuration", "--function-name", name, "--environment", f"file://{env}"
    )

    eventually(
        lambda: lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"] == variables,
        "the baseline environment back",
    )
    email = e.email_naming("UpdateFunctionConfiguration", name, "TRAILGUARD_PROTECTED_TRAILS 'decoy' ->")
    assert "] REPAIRED:" in email["subject"], email["subject"]
    assert f"TRAILGUARD_ALLOWED_PRINCIPAL_ARNS '{ATTACKER}' ->" in email["body"]
