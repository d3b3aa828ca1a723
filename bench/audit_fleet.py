"""``trailguard audit --org`` at fleet scale: an organization of N accounts (default 100) audited in M
regions (default 17) against a moto server in its own process, every call delayed by an injected
latency (default 50 ms), printing the wall time of the audit alone (the fleet's setup is not timed).
The goal the issue sets is under 60 seconds for 100 accounts x 17 regions at 50 ms.

The latency is a botocore event hook (``before-send``) registered on the audit's one session, so every
client the audit makes sleeps that long before each request leaves (the thread sleeps without the GIL,
as it would wait on the network); retries would sleep again. It is not a proxy: the server's own time
comes on top, which on this machine is the larger share.

The fleet: the management account with a multi-Region organization trail (KMS key, validation, its
bucket private with access logging), trusted access for CloudTrail and StackSets, every member with a
trail of its own (every tenth none). By default no trailguard stack anywhere, so TG.wiring and
TG.baseline are N/A after one DescribeStacks per account and region: the run measures the CloudTrail
checks and the organization's reads. ``--stacks K`` deploys the real stack (``trailguard deploy``) in K
members' us-east-1 first, so the run also compares their baselines (which reads every baseline's
resources, through trailguard's own clients, which get the same latency hook).

Usage: ``python bench/audit_fleet.py [--accounts 100] [--regions 17] [--latency 0.05] [--workers 64]
[--stacks 0]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

HERE = Path(__file__).resolve().parent
REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
)
"""The 17 regions AWS enables in every account by default."""


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "moto_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    return process, f"http://127.0.0.1:{port}"


def deploy_as(endpoint: str, credentials: Any) -> None:
    """``trailguard deploy`` of the stack ``trailguard`` in us-east-1, as the account ``credentials``
    belong to (bound for trailguard's clients)."""
    from trailguard import aws
    from trailguard.deploy import deploy

    bound = {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    with aws.using_environ(bound):
        deploy(
            "trailguard",
            "security@example.com",
            progress=lambda _: None,
            poll_seconds=0.05,
            region="us-east-1",
        )


def build_fleet(endpoint: str, accounts: int, stacks: int) -> dict[str, Any]:
    """The organization on the server (boto3 directly, untimed); ``stacks`` members get trailguard. Its
    trails are the audit tests' compliant trail (``tests/org/audit_world.good_trail``)."""
    import boto3

    sys.path.insert(0, str(HERE.parent / "tests" / "org"))
    from audit_world import good_trail

    def session(account: str | None) -> Any:
        if account is None:
            return boto3.session.Session()
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="bench"
        )["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    def trail(account: str | None, name: str, bucket: str, organization: bool) -> None:
        # boto3 reads AWS_ENDPOINT_URL when it makes each client: the test world's trail, on the server
        with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": endpoint}):
            good_trail(session(account), name, bucket, organization=organization)

    org = boto3.client("organizations", "us-east-1", endpoint_url=endpoint)
    sts = boto3.client("sts", "us-east-1", endpoint_url=endpoint)
    org.create_organization(FeatureSet="ALL")
    for principal in ("cloudtrail.amazonaws.com", "member.org.stacksets.cloudformation.amazonaws.com"):
        org.enable_aws_service_access(ServicePrincipal=principal)
    trail(None, "org-trail", "bench-org-trail-logs", True)
    members = []
    for index in range(accounts - 1):
        made = org.create_account(AccountName=f"member-{index}", Email=f"m{index}@example.com")
        members.append(made["CreateAccountStatus"]["AccountId"])
    for index, account in enumerate(members):
        if index % 10:
            trail(account, "local-trail", f"bench-member-{index}-trail-logs", False)
    for account in members[1 : stacks + 1]:  # members with a trail of their own
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="bench"
        )["Credentials"]
        deploy_as(endpoint, creds)
    warm = boto3.client("cloudformation", "us-east-1", endpoint_url=endpoint)
    warm.describe_stacks()  # moto imports its CloudFormation (every service's models) on first use
    return {"members": len(members)}


def hook_trailguard_sessions(delay: Any) -> None:
    """The same latency for trailguard's own clients (``trailguard.aws``), which TG.baseline's
    comparison reads through: each session they come from gets the hook once."""
    from trailguard import aws

    made = aws._session

    def hooked(profile: str | None, creds: Any) -> Any:
        session = made(profile, creds)
        if not getattr(session, "_bench_latency", False):
            session.events.register("before-send", delay)
            session._bench_latency = True
        return session

    aws._session = hooked  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--regions", type=int, default=len(REGIONS), choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added before each request")
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument(
        "--stacks", type=int, default=0, help="members given a real trailguard stack in us-east-1 (default 0)"
    )
    args = parser.parse_args()

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent/trailguard-bench-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/trailguard-bench-credentials",
        AWS_EC2_METADATA_DISABLED="true",
    )
    os.environ.pop("AWS_PROFILE", None)
    from trailguard.org import audit

    server, endpoint = start_server()
    try:
        started = time.perf_counter()
        built = build_fleet(endpoint, args.accounts, args.stacks)
        print(
            f"fleet: {built['members'] + 1} accounts built"
            f" in {time.perf_counter() - started:.1f} s (not timed)"
        )

        factory = audit.Factory(None, endpoint, args.workers)
        calls = [0]
        lock = threading.Lock()

        def delay(**_: Any) -> None:
            with lock:
                calls[0] += 1
            time.sleep(args.latency)

        factory.session.events.register("before-send", delay)
        hook_trailguard_sessions(delay)
        options = audit.Options(
            home_region="us-east-1",
            org=True,
            regions=REGIONS[: args.regions],
            workers=args.workers,
            endpoint_url=endpoint,
        )
        started = time.perf_counter()
        report = audit.run(options, factory=factory)
        wall = time.perf_counter() - started
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    audited = sum(1 for a in report.accounts if a.to_dict()["audited"])
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items() if n)
    print(
        f"audit --org: {audited} accounts x {args.regions} regions, {args.workers} workers, "
        f"{args.latency * 1000:.0f} ms injected per call"
    )
    print(f"  {calls[0]} calls, {len(report.rows)} rows ({counts})")
    judged = [r for r in report.rows if r.check == "TG.baseline" and r.status != "N/A"]
    print(
        f"  {args.stacks} member(s) with a trailguard stack in us-east-1; TG.baseline: "
        + (", ".join(f"{r.status} {r.detail[:60]}" for r in judged[:3]) or "none compared")
    )
    print(f"  wall time {wall:.1f} s (target < 60 s for 100 accounts x 17 regions)")


if __name__ == "__main__":
    main()
