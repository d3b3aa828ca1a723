"""``trailguard classify`` at log scale: records per second on one core and peak memory for a set of
CloudTrail log files of a given size (1 GB of JSON by default), generated here.

The data: gzip CloudTrail log files (``{"Records": [...]}``, compact JSON as CloudTrail writes it, a few
hundred records a file), mostly generated benign records of the calls an account makes all day (STS,
S3 data events, EC2/KMS/IAM reads, console logins) mixed with every real CloudTrail record of
``tests/data/events`` (read at run time, never copied: tamper, failed tamper and their look-alikes),
each with a fresh event id. Deterministic for a seed.

The measure: ``python -m trailguard classify DIR`` in a child process pinned to one core (where the
system allows it), its output read, counted and hashed by this process; records per second of the
child's CPU time and of wall time, and the child's max RSS. Twice when the optional ``trailguard[fast]``
(msgspec) is installed: with it, and without it (the child cannot import it), the path every install
has; the two outputs must be the same bytes. Beside them, the command's start-up (an empty log file)
and the floor of any reader in the standard library. A benchmark, not a test: it prints, it asserts
nothing but that every record came out as one line, the same with and without the optional parser.

    python bench/classify.py [--size 1GB] [--dir DIR] [--keep] [--seed N]

``run(size_bytes)`` is the same from another script (``bench/run.py``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "data" / "events"
RECORDS_PER_FILE = 500
REAL_EVERY = 50  # one real record (tamper, attempt or look-alike) in this many
TARGET_RECORDS_PER_SECOND = 50_000
TARGET_MAX_RSS_MB = 100

_SIZE_UNITS = {"K": 10**3, "M": 10**6, "G": 10**9, "": 1}

_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
_AGENTS = (
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.210 md/arch#x86_64 lang/python#3.12.2",
    "console.amazonaws.com",
    "aws-sdk-java/2.25.16 Linux/5.10.213 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10",
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.660]",
)
# (eventSource, eventName, readOnly, eventCategory, resource parameters)
_CALLS = (
    ("sts.amazonaws.com", "AssumeRole", True, "Management", "role"),
    ("s3.amazonaws.com", "GetObject", True, "Data", "object"),
    ("s3.amazonaws.com", "PutObject", False, "Data", "object"),
    ("s3.amazonaws.com", "HeadObject", True, "Data", "object"),
    ("kms.amazonaws.com", "Decrypt", True, "Management", "key"),
    ("kms.amazonaws.com", "GenerateDataKey", True, "Management", "key"),
    ("ec2.amazonaws.com", "DescribeInstances", True, "Management", "none"),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", True, "Management", "none"),
    ("iam.amazonaws.com", "GetRole", True, "Management", "role"),
    ("lambda.amazonaws.com", "Invoke", False, "Data", "function"),
    ("logs.amazonaws.com", "CreateLogStream", False, "Management", "group"),
    ("cloudtrail.amazonaws.com", "LookupEvents", True, "Management", "none"),
    ("cloudtrail.amazonaws.com", "DescribeTrails", True, "Management", "none"),
    ("signin.amazonaws.com", "ConsoleLogin", False, "Management", "none"),
    ("dynamodb.amazonaws.com", "DescribeTable", True, "Management", "table"),
)


def parse_size(text: str) -> int:
    """``1GB``, ``200MB``, ``5000000`` -> bytes (decimal units)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMG]?)B?\s*", text.upper())
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def real_records() -> list[dict[str, Any]]:
    """Every real CloudTrail record of tests/data/events (the manifest's ``cloudtrail-record`` rows)."""
    out = []
    for row in (EVENTS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) > 1 and cells[1] == "cloudtrail-record":
            out.append(json.loads((EVENTS / cells[0]).read_text(encoding="utf-8")))
    return out


class Generator:
    """Deterministic CloudTrail records: generated benign ones with real ones mixed in."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.real = real_records()
        self.count = 0
        self.real_count = 0
        self.accounts = [f"{self.rng.randrange(10**11, 10**12)}" for _ in range(3)]
        self.roles = ["app-backend", "ci-deployer", "data-pipeline", "ReadOnlyAuditor", "OrgAdmin"]

    def _event_id(self) -> str:
        r = self.rng.getrandbits(128)
        h = f"{r:032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _time(self) -> str:
        seconds = self.count // 40
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_780_000_000 + seconds))

    def record(self) -> dict[str, Any]:
        self.count += 1
        if self.count % REAL_EVERY == 0:
            self.real_count += 1
            record = dict(self.real[self.real_count % len(self.real)])
            record["eventID"] = self._event_id()
            return record
        return self._benign()

    def _benign(self) -> dict[str, Any]:
        rng = self.rng
        source, name, read_only, category, kind = rng.choice(_CALLS)
        account = rng.choice(self.accounts)
        region = rng.choice(_REGIONS)
        role = rng.choice(self.roles)
        session = f"session-{rng.randrange(10**6):06d}"
        key = f"ASIA{rng.getrandbits(64):016X}"
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "principalId": f"AROA{rng.getrandbits(60):015X}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROA{rng.getrandbits(60):015X}",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "attributes": {"creationDate": self._time(), "mfaAuthenticated": "false"},
            },
        }
        params: dict[str, Any] | None
        resources = None
        if kind == "object":
            bucket = f"data-{account}-{region}"
            obj = f"tenant-{rng.randrange(500)}/{rng.getrandbits(40):010x}.parquet"
            params = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": obj}
            resources = [
                {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{obj}"},
                {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
            ]
        elif kind == "role":
            params = {
                "roleArn": f"arn:aws:iam::{account}:role/{rng.choice(self.roles)}",
                "roleSessionName": session,
                "durationSeconds": 3600,
            }
        elif kind == "key":
            params = {
                "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "keyId": f"arn:aws:kms:{region}:{account}:key/{self._event_id()}",
            }
        elif kind == "function":
            params = {
                "functionName": f"arn:aws:lambda:{region}:{account}:function:worker-{rng.randrange(20)}"
            }
        elif kind == "group":
            params = {"logGroupName": f"/aws/lambda/worker-{rng.randrange(20)}", "logStreamName": session}
        elif kind == "table":
            params = {"tableName": f"orders-{rng.randrange(5)}"}
        else:
            params = None
        record: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": self._time(),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "userAgent": rng.choice(_AGENTS),
            "requestParameters": params,
            "responseElements": None,
            "requestID": self._event_id(),
            "eventID": self._event_id(),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": category == "Management",
            "recipientAccountId": account,
            "eventCategory": category,
            "tlsDetails": {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
            },
        }
        if resources is not None:
            record["resources"] = resources
        return record


def generate(directory: Path, size_bytes: int, seed: int = 13) -> dict[str, int]:
    """Write gzip CloudTrail log files under ``directory`` (in CloudTrail's key layout) until their JSON
    adds up to ``size_bytes``; returns counts (files, records, real records, JSON bytes, gzip bytes)."""
    gen = Generator(seed)
    written = files = gz_bytes = 0
    while written < size_bytes:
        records = [gen.record() for _ in range(RECORDS_PER_FILE)]
        data = json.dumps({"Records": records}, separators=(",", ":")).encode()
        account = records[0]["recipientAccountId"]
        sub = directory / "AWSLogs" / str(account) / "CloudTrail" / "us-east-1" / f"{files // 100:04d}"
        sub.mkdir(parents=True, exist_ok=True)
        blob = gzip.compress(data, compresslevel=1, mtime=0)
        (sub / f"{account}_CloudTrail_us-east-1_{files:06d}.json.gz").write_bytes(blob)
        written += len(data)
        gz_bytes += len(blob)
        files += 1
    return {
        "files": files,
        "records": gen.count,
        "real": gen.real_count,
        "json_bytes": written,
        "gzip_bytes": gz_bytes,
    }


def _one_core(pid: int) -> None:
    """Pin process ``pid`` to one CPU, where the platform can (right after it starts)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, {max(os.sched_getaffinity(0))})


# The command with msgspec made unimportable: what an install without trailguard[fast] runs.
_WITHOUT_FAST = "import sys; sys.modules['msgspec'] = None; from trailguard.cli import main; sys.exit(main())"


def fast_installed(python: str = sys.executable) -> bool:
    """Whether ``python`` has msgspec, so ``trailguard classify`` takes its faster way."""
    found = subprocess.run([python, "-c", "import msgspec"], check=False, capture_output=True)
    return found.returncode == 0


def measure(directory: Path, python: str = sys.executable, fast: bool = True) -> dict[str, Any]:
    """Run ``trailguard classify`` over ``directory`` (``fast=False``: msgspec hidden from it); lines
    out, verdict counts, a hash of the output, CPU, wall, max RSS."""
    how = ["-m", "trailguard"] if fast else ["-c", _WITHOUT_FAST]
    cmd = [python, *how, "classify", str(directory)]
    digest = hashlib.sha256()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _one_core(proc.pid)
    assert proc.stdout is not None
    lines = 0
    verdicts: Counter[str] = Counter()
    tail = b""
    while chunk := proc.stdout.read(1 << 20):
        digest.update(chunk)
        lines += chunk.count(b"\n")
        for verdict in ("tamper", "attempt", "allowed", "unreadable"):
            verdicts[verdict] += chunk.count(f'"verdict": "{verdict}"'.encode())
        tail = chunk[-4096:]
    stderr = proc.stderr.read() if proc.stderr is not None else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    verdicts["benign"] = lines - sum(verdicts.values())
    return {
        "exit": proc.returncode,
        "lines": lines,
        "sha256": digest.hexdigest(),
        "verdicts": dict(verdicts),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": wall,
        "max_rss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
        "stderr": stderr.decode(errors="replace")[-2000:],
        "last_line": tail.rsplit(b"\n", 2)[-2].decode(errors="replace") if lines else "",
    }


_FLOOR = """
import gzip, json, pathlib, sys
n = 0
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.json.gz")):
    n += len(json.loads(gzip.decompress(path.read_bytes()))["Records"])
print(n)
"""


def measure_floor(directory: Path, python: str = sys.executable) -> dict[str, Any]:
    """The floor of any exact reader in Python's standard library: decompress and ``json.loads`` each
    file whole (no streaming, no judging, no output); records and CPU seconds, on one core."""
    proc = subprocess.Popen([python, "-c", _FLOOR, str(directory)], stdout=subprocess.PIPE)
    _one_core(proc.pid)
    assert proc.stdout is not None
    records = int(proc.stdout.read() or 0)
    _, _, usage = os.wait4(proc.pid, 0)
    return {"records": records, "cpu_s": usage.ru_utime + usage.ru_stime}


def _startup() -> dict[bool, float]:
    """CPU seconds of the command over one empty log file, with and without msgspec (median of 3)."""
    where = Path(tempfile.mkdtemp(prefix="trailguard-classify-empty-"))
    try:
        (where / "empty.json").write_text('{"Records": []}')
        return {
            fast: sorted(measure(where, fast=fast)["cpu_s"] for _ in range(3))[1] for fast in (True, False)
        }
    finally:
        shutil.rmtree(where, ignore_errors=True)


def run(size_bytes: int = 10**9, seed: int = 13, directory: Path | None = None, keep: bool = False) -> int:
    """Generate, measure, print; 0 when every record came out and the targets are met, else 1."""
    own = directory is None
    where = Path(tempfile.mkdtemp(prefix="trailguard-classify-bench-")) if own else directory
    assert where is not None
    try:
        t0 = time.perf_counter()
        made = generate(where, size_bytes, seed)
        gen_s = time.perf_counter() - t0
        print(
            f"classify bench: {made['files']} gzip CloudTrail log files, {made['records']:,} records "
            f"({made['real']:,} real), {made['json_bytes'] / 1e6:,.0f} MB of JSON, "
            f"{made['gzip_bytes'] / 1e6:,.0f} MB gzip (generated in {gen_s:.0f} s)"
        )
        paths = {"without trailguard[fast] (json)": False}
        if fast_installed():
            paths = {"with trailguard[fast] (msgspec)": True, **paths}
        got = {label: measure(where, fast=fast) for label, fast in paths.items()}
        startup = _startup()
        floor = measure_floor(where)
        floor_per_cpu = floor["records"] / floor["cpu_s"] if floor["cpu_s"] else float("inf")
        print("| figure | " + " | ".join(got) + " | target |")
        print("|---|" + "---|" * len(got) + "---|")

        def row(figure: str, cells: list[str], target: str = "") -> None:
            print(f"| {figure} | " + " | ".join(cells) + f" | {target} |")

        per_cpu = {k: made["records"] / g["cpu_s"] if g["cpu_s"] else float("inf") for k, g in got.items()}
        row(
            "records per second, one core (CPU time)",
            [f"{v:,.0f}" for v in per_cpu.values()],
            f">= {TARGET_RECORDS_PER_SECOND:,}",
        )
        row("records per second, wall", [f"{made['records'] / g['wall_s']:,.0f}" for g in got.values()])
        row(
            "MB of JSON per second (CPU time)",
            [f"{made['json_bytes'] / 1e6 / g['cpu_s']:,.1f}" for g in got.values()],
        )
        row("max RSS", [f"{g['max_rss_mb']:.1f} MB" for g in got.values()], f"< {TARGET_MAX_RSS_MB} MB")
        row("CPU / wall", [f"{g['cpu_s']:.1f} s / {g['wall_s']:.1f} s" for g in got.values()])
        row("of which start-up (an empty log file), CPU", [f"{startup[f]:.2f} s" for f in paths.values()])
        row(
            "floor: gzip + json.loads per file, no judging, records per second (CPU)",
            [f"{floor_per_cpu:,.0f} (classify {v / floor_per_cpu:.2f}x of it)" for v in per_cpu.values()],
        )
        row(
            "lines out / records in", [f"{g['lines']:,} / {made['records']:,}" for g in got.values()], "equal"
        )
        row(
            "verdicts",
            [", ".join(f"{k} {v:,}" for k, v in sorted(g["verdicts"].items())) for g in got.values()],
        )
        same = len({g["sha256"] for g in got.values()}) == 1
        row("output (sha256)", [g["sha256"][:16] for g in got.values()], "the same")
        ok = same and all(g["exit"] == 0 and g["lines"] == made["records"] for g in got.values())
        met = all(v >= TARGET_RECORDS_PER_SECOND for v in per_cpu.values()) and all(
            g["max_rss_mb"] < TARGET_MAX_RSS_MB for g in got.values()
        )
        for label, g in got.items():
            if g["exit"] != 0:
                print(f"classify {label} exited {g['exit']}: {g['stderr']}", file=sys.stderr)
        if not same:
            print("classify bench: the outputs differ with and without trailguard[fast]", file=sys.stderr)
        if not met:
            print("classify bench: below target", file=sys.stderr)
        return 0 if ok and met else 1
    finally:
        if own and not keep:
            shutil.rmtree(where, ignore_errors=True)
        elif keep:
            print(f"classify bench: data kept in {where}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", default="1GB", help="JSON bytes to generate (default 1GB)")
    parser.add_argument("--dir", type=Path, default=None, help="generate here (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--measure-only", action="store_true", help="measure --dir as it is")
    args = parser.parse_args(argv)
    if args.measure_only:
        if args.dir is None:
            parser.error("--measure-only needs --dir")
        got = measure(args.dir)
        print(json.dumps({k: v for k, v in got.items() if k != "stderr"}, indent=2))
        return 0 if got["exit"] == 0 else 1
    return run(parse_size(args.size), args.seed, args.dir, args.keep)


if __name__ == "__main__":
    sys.exit(main())
