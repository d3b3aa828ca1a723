"""``trailguard demo``: the whole story on the local cloud, as a timeline a person can follow.

Start the local cloud with trailguard deployed, stop the protected trail as the IAM user ``attacker``
with the real AWS CLI (boto3 if the CLI is not installed next to this Python), then show what happened:
the CloudTrail record, the rule that matched, the calls trailguard's role made, the verification, the
email the security team receives, and the GuardDuty finding that arrives later to find the trail already
repaired. Exit status 0 only if the story ends with the trail logging; 1 if it does not, or if the local
cloud cannot be started.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from trailguard.cli._common import LOCAL_MODULES, require_extra
from trailguard.cli.exit import CommandError, Exit

T = TypeVar("T")
FINDING_DELAY = 1.0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="watch trailguard repair a stopped trail on the local cloud",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("--outbox", type=Path, help="keep the emails in this directory (default: temporary)")
    parser.add_argument(
        "--timeout", type=float, default=15.0, help="seconds to wait for each step (default: 15)"
    )
    parser.set_defaults(run=run)


class Story:
    """Prints numbered steps with the time since the attack, coloured only on a terminal."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour
        self.t0: float | None = None
        self.t0_wall = 0.0
        self.started = time.monotonic()
        self.step = 0

    def _c(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def start_clock(self) -> None:
        self.t0, self.t0_wall = time.monotonic(), time.time()

    def clock(self, at: float | None = None) -> str:
        """Time since the attack: of ``at`` (epoch seconds, when the step happened) or of now."""
        if self.t0 is None:
            return self._c("2", f"[{time.monotonic() - self.started:6.2f}s setup]")
        since = at - self.t0_wall if at is not None else time.monotonic() - self.t0
        return self._c("36", f"[+{since:6.3f}s]")

    def title(self, text: str, at: float | None = None) -> None:
        """A numbered step, stamped with when it happened (``at``, epoch seconds) if known."""
        self.step += 1
        heading = self._c("1", f"{self.step}. {text}")
        print(f"\n{self.clock(at)} {heading}", flush=True)

    def line(self, text: str = "", indent: int = 6) -> None:
        print(textwrap.indent(text, " " * indent) if text else "", flush=True)

    def field(self, name: str, value: object) -> None:
        label = f"{name}:".ljust(19)
        self.line(f"{self._c('2', label)}{value}")

    def good(self, text: str) -> None:
        self.line(self._c("32", "✔ " + text))

    def bad(self, text: str) -> None:
        self.line(self._c("31", "✘ " + text))


def _wait(probe: Callable[[], T | None], timeout: float) -> T | None:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def _attack(endpoint: str, region: str, trail: str, key: Any, user_agent: str) -> tuple[str, int]:
    """Stop the trail as the attacker: the real AWS CLI if installed next to Python, else boto3."""
    cli = Path(sys.executable).parent / "aws"
    if not cli.exists():
        found = shutil.which("aws")
        cli = Path(found) if found else cli
    if cli.exists():
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=key.access_key_id,
            AWS_SECRET_ACCESS_KEY=key.secret_access_key,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        args = ["--endpoint-url", endpoint, "--region", region, "cloudtrail", "stop-logging", "--name", trail]
        done = subprocess.run([str(cli), *args], env=env, capture_output=True, text=True, check=False)
        return "aws " + " ".join(args), done.returncode
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "cloudtrail",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(user_agent=user_agent),
    )
    client.stop_logging(Name=trail)
    return f"boto3 cloudtrail.stop_logging(Name={trail!r})", 0


def run(args: argparse.Namespace) -> Exit:
    require_extra("local", *LOCAL_MODULES)
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    with tempfile.TemporaryDirectory(prefix="trailguard-demo-") as tmp:
        return _run(args, Story(colour), Path(tmp))


def _run(args: argparse.Namespace, story: Story, tmp: Path) -> Exit:
    # The local cloud needs the optional `local` extra (moto): imported only when this command runs.
    from trailguard.local import world
    from trailguard.local.server import LocalCloud

    log = logging.getLogger("trailguard")  # the functions' log lines go to a file, not the story
    logging.getLogger("moto").setLevel(logging.ERROR)  # known CloudFormation gaps, handled by deploy
    warnings.filterwarnings("ignore", category=UserWarning, module="moto")
    handler = logging.FileHandler(tmp / "functions.log")
    log.addHandler(handler)
    log.propagate = False
    outbox = (args.outbox or tmp / "outbox").resolve()
    cloud = LocalCloud(outbox_dir=outbox, finding_delay=FINDING_DELAY)
    try:
        story.title("Starting the local cloud and deploying trailguard")
        steps: list[str] = []
        try:
            cloud.start()
            state = world.build(cloud, progress=steps.append)
        except Exception as exc:
            raise CommandError(Exit.FAILED, f"setup failed: {exc}") from exc
        story.field("endpoint", f"{cloud.endpoint} (moto, account {cloud.account}, {cloud.region})")
        story.field(
            "stack", f"{len(state.guard.rule_names)} rules, {len(state.guard.function_names)} functions"
        )
        story.field("protected trail", f"{state.trail.name} (multi-region, validated, SSE-KMS) logging")
        story.field("alerts go to", world.SECURITY_EMAIL)
        return _story(cloud, state, story, args.timeout)
    finally:
        cloud.stop()
        log.removeHandler(handler)
        handler.close()
        log.propagate = True


def _story(cloud: Any, state: Any, story: Story, timeout: float) -> Exit:
    trail = state.trail.name
    attacker = state.attacker
    ct = cloud.client("cloudtrail")
    n_records = len(cloud.recorder.records)
    n_invocations = len(cloud.invocations)

    story.start_clock()
    story.title(f"The attack: {attacker.user_name} stops trail {trail}")
    command, code = _attack(cloud.endpoint, cloud.region, trail, attacker, "trailguard-demo-attacker/1.0")
    story.field("command", command)
    story.field("exit status", code)
    if code != 0:
        story.bad("the attack itself failed")
        return Exit.FAILED

    def attack_record() -> dict[str, Any] | None:
        found = [
            e
            for e in list(cloud.recorder.envelopes)[n_records:]
            if e["detail"]["eventName"] == "StopLogging"
            and e["detail"]["userIdentity"].get("arn") == attacker.arn
        ]
        return found[0] if found else None

    envelope = _wait(attack_record, timeout)
    if envelope is None:
        story.bad("no CloudTrail record of the attack")
        return Exit.FAILED
    record = envelope["detail"]
    story.title("CloudTrail records the call", at=cloud.recorder.received.get(envelope["id"]))
    story.field("eventName", f"{record['eventSource']} {record['eventName']}")
    story.field("userIdentity", f"{record['userIdentity']['type']} {record['userIdentity']['arn']}")
    story.field("sourceIPAddress", record["sourceIPAddress"])
    story.field("userAgent", record["userAgent"][:90])
    story.field("requestParameters", record["requestParameters"])

    deliveries = _wait(lambda: [d for d in cloud.router.deliveries if d.event_id == envelope["id"]], timeout)
    story.title("EventBridge: the rule that matched", at=deliveries[0].time if deliveries else None)
    for d in deliveries or []:
        story.field("rule", f"{d.rule_name} -> {d.target_arn.rsplit(':', 1)[-1]}")
    if not deliveries:
        story.bad("no rule matched the record")

    guard = set(state.guard.role_arns)

    def repairs() -> list[dict[str, Any]]:
        return [
            e
            for e in list(cloud.recorder.envelopes)[n_records:]
            if e["detail"]["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
            in guard
        ]

    calls = _wait(repairs, timeout) or []
    story.title(
        "trailguard repairs the trail (calls made by its role)",
        at=cloud.recorder.received.get(calls[0]["id"]) if calls else None,
    )
    for e in calls:
        r = e["detail"]
        story.field(r["eventName"], f"{r['requestParameters']} as {r['userIdentity']['arn']}")

    restored = _wait(lambda: ct.get_trail_status(Name=trail)["IsLogging"], timeout)
    story.title("Verification: GetTrailStatus")
    if restored:
        story.good("IsLogging is true again")
    else:
        story.bad(f"trail {trail} is still not logging")

    email = _wait(lambda: next((e for e in cloud.outbox.emails() if trail in e["subject"]), None), timeout)
    sent = datetime.fromisoformat(email["time"].replace("Z", "+00:00")).timestamp() if email else None
    story.title("The email the security team receives", at=sent)
    if email:
        story.field("To", email["to"])
        story.field("Subject", email["subject"])
        story.line()
        story.line(email["body"].rstrip(), indent=8)
    else:
        story.bad("no email arrived")

    def finding_runs() -> list[Any] | None:
        runs = [
            i
            for i in cloud.invocations[n_invocations:]
            if i.detail_type in ("GuardDuty Finding", "Security Hub Findings - Imported")
        ]
        return runs if len(runs) >= 2 else None

    runs = _wait(finding_runs, timeout + FINDING_DELAY) or finding_runs() or []
    story.title(
        f"GuardDuty's finding arrives (emulated, {FINDING_DELAY:g}s after the trail stopped) "
        "and again via Security Hub"
    )
    labels = {"GuardDuty Finding": "GuardDuty", "Security Hub Findings - Imported": "Security Hub"}
    for inv in sorted(runs, key=lambda i: i.started):
        statuses = [i.get("status") for i in (inv.result or {}).get("incidents", [])]
        outcome = inv.error or ", ".join(str(s) for s in statuses) or "no incident"
        arrived = story.clock(inv.started)
        story.field(
            labels.get(str(inv.detail_type), str(inv.detail_type)),
            f"{arrived} {inv.function_name}: {outcome}",
        )
    if not runs:
        story.bad("the finding did not reach trailguard")
    cloud.wait_idle(timeout)

    story.title("The end")
    logging_now = bool(ct.get_trail_status(Name=trail)["IsLogging"])
    if logging_now:
        emails = len(cloud.outbox.emails())
        story.good(
            f"trail {trail} is logging; {emails} email(s) in the outbox (the finding sent no second one)"
            if emails == 1
            else f"trail {trail} is logging; {emails} email(s) in the outbox"
        )
        return Exit.OK
    story.bad(f"trail {trail} is NOT logging")
    return Exit.FAILED
