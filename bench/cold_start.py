"""The Lambda package's cold-start figures: handler import time in fresh interpreters, and zip size.

Each run starts a new ``python -B -X importtime`` that imports ``trailguard.handlers`` from the Lambda
package, unzipped (as a cold Lambda imports the handler module from its read-only code directory, where
nothing can be compiled once and kept), and reads the cumulative microseconds the interpreter itself
reports, so the figure excludes interpreter start-up: the package as built for this Python (its modules
compiled) beside the same package with sources only. It also lists any third-party module the import
pulled in: boto3 must load only on first use, never at import.

It then counts the modules the FIRST event loads: a fresh interpreter starts in-process moto (with a
logging trail, the alert topic and the state table, as the handler tests set up), notes ``sys.modules``,
then imports ``trailguard.handlers`` and runs ``api_call`` on one StopLogging envelope. Every module new
after that is the first event's cost (trailguard's own and in total; boto3/botocore are already loaded
by moto, so the total is trailguard plus the standard library and moto backends it touches).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any


def import_time_us(code_dir: Path) -> tuple[int, list[str]]:
    """Cumulative import time of trailguard.handlers (µs) from ``code_dir`` and the top-level packages
    it imported."""
    probe = f"import sys; sys.path.insert(0, {str(code_dir)!r}); import trailguard.handlers"
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-X", "importtime", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    roots: set[str] = set()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        if not cumulative.isdigit():
            continue
        roots.add(name.split(".", 1)[0])
        if name == "trailguard.handlers":
            total = int(cumulative)
    third_party = sorted(r for r in roots if r in {"boto3", "botocore", "moto", "urllib3", "yaml"})
    return total, third_party


_FIRST_EVENT = r"""
import json, os, sys, time
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
                  AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1")
import boto3
from moto import mock_aws

with mock_aws():
    region = "us-east-1"
    boto3.client("s3", region_name=region).create_bucket(Bucket="trail-logs")
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    arn = cloudtrail.create_trail(Name="org-trail", S3BucketName="trail-logs")["TrailARN"]
    cloudtrail.start_logging(Name="org-trail")
    cloudtrail.stop_logging(Name="org-trail")
    topic = boto3.client("sns", region_name=region).create_topic(Name="trailguard-alerts")["TopicArn"]
    boto3.client("dynamodb", region_name=region).create_table(
        TableName="trailguard-state", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    os.environ.update(TRAILGUARD_TOPIC_ARN=topic, TRAILGUARD_STATE_TABLE="trailguard-state",
                      TRAILGUARD_SECURITY_HUB="true")
    detail = {
        "eventVersion": "1.08", "eventID": "6d3c0d4b-1111-4c3a-9f00-000000000001",
        "eventTime": "2024-01-01T00:00:00Z", "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging", "awsRegion": region, "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2", "requestParameters": {"name": arn}, "responseElements": None,
        "readOnly": False, "eventType": "AwsApiCall", "recipientAccountId": "123456789012",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory",
                         "accountId": "123456789012", "userName": "mallory"},
    }
    event = {"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail",
             "source": "aws.cloudtrail", "account": "123456789012", "time": "2024-01-01T00:00:00Z",
             "region": region, "resources": [], "detail": detail}
    before = set(sys.modules)
    started, cpu_started = time.perf_counter(), time.process_time()
    import trailguard.handlers
    imported = time.perf_counter()
    result = trailguard.handlers.api_call(event, None)
    done, cpu_done = time.perf_counter(), time.process_time()
    assert cloudtrail.get_trail_status(Name="org-trail")["IsLogging"], result
    new = set(sys.modules) - before
    print(json.dumps({"trailguard": sorted(m for m in new if m.split(".")[0] == "trailguard"),
                      "total": len(new), "import_ms": (imported - started) * 1000,
                      "event_ms": (done - imported) * 1000, "cpu_ms": (cpu_done - cpu_started) * 1000}))
"""


def first_event() -> dict[str, Any]:
    """What the first StopLogging event costs in a fresh interpreter against in-process moto (see the
    module docstring): ``trailguard`` (its modules loaded), ``total`` (all modules loaded), ``import_ms``
    and ``event_ms`` (the handler import, then the event itself, both wall-clock), ``cpu_ms`` (the CPU
    time of both, steadier than wall-clock on a busy machine)."""
    done = subprocess.run([sys.executable, "-c", _FIRST_EVENT], capture_output=True, text=True, check=True)
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)

    from trailguard.deploy.package import build_zip, running_runtime

    heavy: list[str] = []
    sizes: dict[bool, int] = {}
    with tempfile.TemporaryDirectory(prefix="trailguard-bench-") as tmp:
        dirs: dict[bool, Path] = {}
        for compiled in (True, False):
            zip_path = Path(tmp) / f"{compiled}.zip"
            build_zip(zip_path, compile_modules=compiled)
            sizes[compiled] = zip_path.stat().st_size
            dirs[compiled] = Path(tmp) / f"code-{compiled}"
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(dirs[compiled])
        samples: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.runs):  # interleaved, so a load spike falls on both
            for compiled in (True, False):
                micros, heavy = import_time_us(dirs[compiled])
                samples[compiled].append(micros / 1000)
    for compiled in (True, False):
        got = samples[compiled]
        what = f"compiled for {running_runtime()}" if compiled else "sources only"
        print(
            f"handler import (trailguard.handlers from the package, {what}, {args.runs} cold interpreters): "
            f"median {statistics.median(got):.1f} ms, min {min(got):.1f} ms, max {max(got):.1f} ms"
        )
    print(f"third-party modules loaded at import: {', '.join(heavy) if heavy else 'none'}")

    events = [first_event() for _ in range(max(1, args.runs // 3))]
    own, total = events[0]["trailguard"], events[0]["total"]
    print(f"first StopLogging event: {len(own)} trailguard modules, {total} modules in all")
    print(f"  {' '.join(own)}")
    cold = [e["import_ms"] + e["event_ms"] for e in events]
    cpu = [e["cpu_ms"] for e in events]
    print(
        f"handler import + first event ({len(events)} cold interpreters, in-process moto): "
        f"median {statistics.median(cold):.1f} ms wall, {statistics.median(cpu):.1f} ms CPU"
    )

    print(
        f"lambda zip: {sizes[False]:,} bytes with sources only, {sizes[True]:,} bytes with compiled modules"
    )
    return 1 if heavy else 0


if __name__ == "__main__":
    sys.exit(main())
