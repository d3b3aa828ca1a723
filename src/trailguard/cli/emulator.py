"""``trailguard emulator``: the local cloud with trailguard deployed, serving until interrupted.

It prints how to attack it and writes a ready file (JSON: endpoint, trail, attacker keys, guard
resources) once everything is deployed, so scripts and tests can wait for that file instead of sleeping.
The backstop schedule rule fires every ``--backstop-interval`` seconds, and at once on SIGUSR1 (moto
never fires schedules). Besides one JSON file per email, the outbox directory gets two journals by
default: ``records.jsonl`` (every CloudTrail envelope the recorder made) and ``invocations.jsonl``
(every delivery to a function, invoked or refused, with the result). With ``--org`` the world is an
AWS Organization (:mod:`trailguard.local.orgworld`) and the ready file lists every account.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from trailguard.cli._common import LOCAL_MODULES, require_extra
from trailguard.cli.exit import CommandError, Exit

DESCRIPTION = (
    "Start the local cloud (moto on 127.0.0.1 with a CloudTrail recorder, EventBridge delivery, "
    "in-process Lambda, GuardDuty-style findings and an email outbox), deploy trailguard into it, "
    "create a protected trail and an IAM user 'attacker', then serve until SIGINT or SIGTERM."
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "emulator", help="run the local cloud with trailguard deployed", description=DESCRIPTION
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--ready-file", type=Path, help="write this JSON file once ready (removed on exit)")
    parser.add_argument(
        "--outbox", type=Path, help="directory for delivered emails (default: a new temp dir)"
    )
    parser.add_argument(
        "--records", type=Path, help="CloudTrail envelopes as JSON Lines (default: OUTBOX/records.jsonl)"
    )
    parser.add_argument(
        "--invocations",
        type=Path,
        help="function deliveries as JSON Lines (default: OUTBOX/invocations.jsonl)",
    )
    parser.add_argument(
        "--finding-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="delay of the GuardDuty/Security Hub finding after a trail is stopped (default: 1)",
    )
    parser.add_argument(
        "--backstop-interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="fire the backstop schedule rule every SECONDS (default: 0, only on SIGUSR1; "
        "the deployed rule says rate(5 minutes))",
    )
    parser.add_argument(
        "--event-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="CloudTrail's delivery of each call to EventBridge takes SECONDS (default: 0; on AWS seconds "
        "to minutes): the event meets the rules as they are when it arrives",
    )
    parser.add_argument(
        "--schedule-rules",
        metavar="NAMES",
        help="fire only these schedule rules, comma-separated, on SIGUSR1 and every --backstop-interval "
        "(default: every schedule rule of every account)",
    )
    parser.add_argument(
        "--org",
        action="store_true",
        help="an AWS Organization instead of one account: a management account owning an organization "
        "trail, a security account, two member accounts in an OU (one with its own trail), trailguard "
        "deployed as a plain stack in each; the ready file lists every account",
    )
    parser.add_argument(
        "--org-stacks",
        default="management,security,member",
        metavar="ROLES",
        help="with --org: the account roles that get a plain trailguard stack, comma-separated, or "
        "'none' for an organization with nothing deployed (for trailguard deploy --org to deploy into); "
        "default: management,security,member",
    )
    parser.add_argument("--stack-name", default="trailguard", help="stack name (default: trailguard)")
    parser.add_argument(
        "--email", default="security-team@example.com", help="security contact subscribed to alerts"
    )
    parser.set_defaults(run=run)


def _write_ready(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


ORG_ROLES = ("management", "security", "member")


def org_stacks(text: str) -> tuple[str, ...]:
    """The roles ``--org-stacks`` names (``none``: no role); a usage error for any other word."""
    roles = tuple(part.strip() for part in text.split(",") if part.strip())
    if roles == ("none",):
        return ()
    unknown = [r for r in roles if r not in ORG_ROLES]
    if unknown or not roles:
        raise CommandError(
            Exit.USAGE,
            f"--org-stacks: {', '.join(unknown) or repr(text)} is not one of "
            f"{', '.join(ORG_ROLES)} (or none alone)",
        )
    return roles


def run(args: argparse.Namespace) -> Exit:
    if not 0 <= args.port <= 65535:
        raise CommandError(Exit.USAGE, f"invalid port {args.port}")
    stacks = org_stacks(args.org_stacks)
    # The local cloud needs the optional `local` extra (moto): imported only when this command runs.
    require_extra("local", *LOCAL_MODULES)
    from trailguard.local import orgworld, world
    from trailguard.local.server import LocalCloud

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("trailguard").setLevel(logging.INFO)
    outbox = (args.outbox or Path(tempfile.mkdtemp(prefix="trailguard-outbox-"))).resolve()
    outbox.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    fire = threading.Event()

    def on_fire(signum: int, frame: FrameType | None) -> None:
        fire.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, on_fire)
    cloud = LocalCloud(
        port=args.port,
        outbox_dir=outbox,
        records_path=args.records or outbox / "records.jsonl",
        invocations_path=args.invocations or outbox / "invocations.jsonl",
        finding_delay=args.finding_delay,
        event_delay=args.event_delay,
        schedule_rules=[n.strip() for n in args.schedule_rules.split(",") if n.strip()]
        if args.schedule_rules
        else None,
    )
    try:
        try:
            cloud.start()
        except OSError as exc:
            raise CommandError(Exit.FAILED, str(exc)) from exc
        org_state = None
        try:
            if args.org:
                org_state = orgworld.build(
                    cloud,
                    stack_name=args.stack_name,
                    email=args.email,
                    stacks=stacks,
                    progress=lambda line: print(f"  {line}", flush=True),
                )
                state = org_state.base
            else:
                state = world.build(
                    cloud,
                    stack_name=args.stack_name,
                    email=args.email,
                    progress=lambda line: print(f"  {line}", flush=True),
                )
        except Exception as exc:
            raise CommandError(Exit.FAILED, f"setup failed: {exc}") from exc
        if stop.is_set():
            return Exit.OK
        doc = org_state.ready() if org_state is not None else state.ready()
        if args.ready_file:
            _write_ready(args.ready_file, doc)
        key = state.attacker
        print(
            f"\nlocal cloud ready on {cloud.endpoint} (account {cloud.account}, {cloud.region})\n"
            f"  trail:   {state.trail.name}\n  outbox:  {outbox}\n"
            f"  records: {cloud.records_path}\n\nattack it:\n"
            f"  AWS_ACCESS_KEY_ID={key.access_key_id} AWS_SECRET_ACCESS_KEY={key.secret_access_key} \\\n"
            f"    aws --endpoint-url {cloud.endpoint} --region {cloud.region} "
            f"cloudtrail stop-logging --name {state.trail.name}\n\nCtrl-C to stop.",
            flush=True,
        )
        if org_state is not None:
            print("\naccounts (keys of each attacker in the ready file):", flush=True)
            for account in org_state.accounts:
                trails = ", ".join(t.name for t in account.trails) or "none of its own"
                print(f"  {account.id} {account.role:<10} trails: {trails}", flush=True)
            member = next((a for a in org_state.accounts if a.role == "member" and a.trails), None)
            if member is not None:
                print(
                    f"\nattack a member's own trail:\n  AWS_ACCESS_KEY_ID={member.attacker.access_key_id} "
                    f"AWS_SECRET_ACCESS_KEY={member.attacker.secret_access_key} \\\n"
                    f"    aws --endpoint-url {cloud.endpoint} --region {cloud.region} "
                    f"cloudtrail stop-logging --name {member.trails[0].name}",
                    flush=True,
                )
        cloud.run_schedules(args.backstop_interval)
        # Timed waits: a signal delivered to a worker thread must not leave the main thread asleep.
        while not stop.wait(0.05):
            if fire.is_set():  # SIGUSR1: run the backstop now (the schedule rules fire once)
                fire.clear()
                fired = cloud.fire_schedules()
                print(f"fired {len(fired)} schedule target(s)", flush=True)
        print("stopping", flush=True)
        return Exit.OK
    finally:
        cloud.stop()
        if args.ready_file:
            args.ready_file.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
