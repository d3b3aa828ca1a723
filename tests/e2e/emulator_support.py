"""``trailguard emulator`` as a user runs it, for the e2e tests: a subprocess with a ready file and an
outbox, stopped with SIGTERM; the real AWS CLI against it; bounded waits. A uniquely named module, so
no directory's ``conftest`` can shadow it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

BIN = Path(sys.executable).parent
AWS_CLI = BIN / "aws"
TRAILGUARD = BIN / "trailguard"
ATTACKER = "arn:aws:iam::123456789012:user/attacker"
T = TypeVar("T")


@dataclass
class Running:
    """A started emulator: what its ready file says, where it writes, and the process."""

    ready: dict[str, Any]
    ready_file: Path
    outbox: Path
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def running_emulator(base: Path, *options: str, ready_timeout: float = 60.0) -> Iterator[Running]:
    """Start ``trailguard emulator`` (without the caller's AWS settings) in ``base``, wait up to
    ``ready_timeout`` seconds for its ready file, and stop it with SIGTERM (killed after 15 s) on the
    way out. Callers check ``process.returncode`` afterwards if the clean exit is part of what they test."""
    ready_file, outbox, log = base / "ready.json", base / "outbox", base / "emulator.log"
    cmd = [str(TRAILGUARD), "emulator", "--ready-file", str(ready_file), "--outbox", str(outbox), *options]
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        )
    try:
        deadline = time.monotonic() + ready_timeout
        while not ready_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"emulator did not get ready (exit {process.returncode}):\n{log.read_text()}")
            time.sleep(0.05)
        yield Running(json.loads(ready_file.read_text()), ready_file, outbox, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def key_env(key: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with ``key`` (``access_key_id``/``secret_access_key``, and
    ``session_token`` when it has one) as the only AWS settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key["access_key_id"],
        AWS_SECRET_ACCESS_KEY=key["secret_access_key"],
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    if key.get("session_token"):
        env["AWS_SESSION_TOKEN"] = key["session_token"]
    return env


def aws_cli(ready: Mapping[str, Any], key: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real AWS CLI against the emulator with ``key`` and no other AWS settings of the caller's."""
    env = key_env(key)
    cmd = [str(AWS_CLI), "--endpoint-url", ready["endpoint"], "--region", ready["region"], *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)


def root_client(ready: Mapping[str, Any], service: str, key: Mapping[str, str]) -> Any:
    """A boto3 client on the emulator as the account root (``key`` is one moto does not know)."""
    return boto3.client(
        service,
        region_name=ready["region"],
        endpoint_url=ready["endpoint"],
        aws_access_key_id=key["access_key_id"],
        aws_secret_access_key=key["secret_access_key"],
    )


def account_of(ready: Mapping[str, Any], role: str, index: int = 0) -> dict[str, Any]:
    """The ``index``-th account of ``role`` (management, security, member) in an ``--org`` ready file."""
    found: dict[str, Any] = [a for a in ready["accounts"] if a["role"] == role][index]
    return found


def account_client(ready: Mapping[str, Any], account: Mapping[str, Any], service: str) -> Any:
    """A boto3 client on the emulator with the account's admin credentials (``--org``)."""
    admin = account["admin"]
    return boto3.client(
        service,
        region_name=ready["region"],
        endpoint_url=ready["endpoint"],
        aws_access_key_id=admin["access_key_id"],
        aws_secret_access_key=admin["secret_access_key"],
        aws_session_token=admin.get("session_token") or None,
    )


def jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file the emulator writes (``records``, ``invocations``)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def deploy_org(ready: Mapping[str, Any]) -> dict[str, Any]:
    """``trailguard deploy --org`` into an ``--org --org-stacks none`` emulator with the management
    account's credentials, the OUs Workloads and Security, its region; its JSON output, every row
    deployed."""
    organization = ready["organization"]
    args = ["deploy", "--org", "--email", "secops@example.com"]
    args += ["--security-account", organization["security_account"], "--ou", "Workloads", "--ou", "Security"]
    args += ["--region", ready["region"], "--endpoint-url", ready["endpoint"], "--output", "json"]
    management = account_of(ready, "management")
    done = subprocess.run(
        [str(TRAILGUARD), *args],
        check=False,
        capture_output=True,
        text=True,
        env=key_env({k: v for k, v in management["admin"].items() if k != "session_token"}),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    document: dict[str, Any] = json.loads(done.stdout)
    assert {r["status"] for r in document["rows"]} == {"deployed"}
    return document


@contextmanager
def deployed_org(base: Path, *options: str) -> Iterator[tuple[Running, dict[str, Any]]]:
    """An ``--org --org-stacks none`` emulator (findings after 0.5 s, then ``options``) with trailguard
    rolled out by :func:`deploy_org`: the running emulator and the deploy's JSON output."""
    with running_emulator(base, "--org", "--org-stacks", "none", "--finding-delay", "0.5", *options) as run:
        yield run, deploy_org(run.ready)


def emails(outbox: Path) -> list[dict[str, Any]]:
    """Every email in the outbox, oldest first."""
    return [json.loads(p.read_text()) for p in sorted(outbox.glob("*.json"))]


def eventually(
    probe: Callable[[], T | None],
    timeout: float = 15.0,
    what: str = "condition",
    *,
    interval: float = 0.05,
    retry_errors: bool = False,
) -> T:
    """Poll ``probe`` until it returns something truthy, at most ``timeout`` seconds; with
    ``retry_errors``, an exception counts as not yet (a read racing a repair)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except Exception:
            if not retry_errors:
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(interval)
