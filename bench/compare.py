"""trailguard's StopLogging repair beside Cloud Custodian, the floor and the aws-sample, in one run.

Each handler runs in fresh interpreters (``compare_worker.py``: the same measuring lines for every
handler), in interleaved rounds (the order rotates each round, so a neighbour's load spike falls on all
of them), and the table gives the medians and trailguard's ratio to each. Measured:

- AWS calls per repair (first event of a burst / a repeat), counted on botocore's request path;
- a warm repair with a new event id each time;
- the first event in a fresh process (the first of its burst: against the server, trailguard's bursts
  are deleted before each round's worker, so it is never a repeat of the last round's burst);
- the handler's import plus its first event (in-process moto has loaded boto3 and botocore before any
  timer; against the server nothing is loaded first, so that figure includes boto3's own import), in
  wall-clock and in the CPU time of the handler's process (steadier on a busy machine; against the server
  it leaves out moto's own work, in-process it includes it);
- a storm of StopLogging calls, one event each: ms per event, emails (SNS Publish) and whether the trail
  is logging at the end. In-process each worker is a new account, so the storm (one worker) opens its
  own burst; against the server the account is shared, so the storm continues the burst the rounds
  opened (its first email was sent there), and it runs in one chunk per round, interleaved like the
  rounds, each chunk a fresh process whose first (cold) event is left out after the first chunk.

Two backends: moto in each worker's process (trailguard's stack deployed there by ``trailguard deploy``),
and a standalone moto server (``moto_server.py``) where the stack is deployed by ``trailguard deploy``
and each handler runs with the deployed function's own environment.

The handlers: trailguard (the Lambda package ``trailguard package`` builds, unzipped: with its compiled
modules when the bench's Python is the one it is built for); the floor (``floor.py``); Cloud Custodian
(``custodian_handler.py``, in its own environment ``.venv-bench-custodian`` that ``make bench`` installs
from PyPI; skipped when absent); the aws-samples handler (``aws-samples/aws-cloudtrail-auto-remediate``,
MIT-0, never copied here: give its checkout or its ``lambda/index-cwe.py`` in ``TRAILGUARD_BENCH_SAMPLE``;
skipped when unset). Every worker runs with ``PYTHONDONTWRITEBYTECODE=1``: Lambda's code directory is
read-only, so what a package does not ship compiled is compiled on every cold start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORKER = BENCH / "compare_worker.py"
CUSTODIAN_PYTHON = ROOT / ".venv-bench-custodian" / "bin" / "python"
ACCOUNT = "123456789012"
REGION = "us-east-1"
LABELS = {
    "floor": "floor",
    "trailguard": "trailguard",
    "custodian": "Cloud Custodian",
    "sample": "aws-sample",
}
TIMES = "\N{MULTIPLICATION SIGN}"


def custodian_config(topic_arn: str) -> dict[str, Any]:
    """Custodian's config.json: one policy that, on StopLogging, restarts a trail that is not logging
    and notifies the topic; the execution options custodian serialises beside it (the account id, so
    no STS call)."""
    return {
        "execution-options": {"account_id": ACCOUNT, "region": REGION, "metrics_enabled": False},
        "policies": [
            {
                "name": "cloudtrail-restart-logging",
                "resource": "aws.cloudtrail",
                "mode": {
                    "type": "cloudtrail",
                    "role": f"arn:aws:iam::{ACCOUNT}:role/custodian",
                    "events": [
                        {
                            "source": "cloudtrail.amazonaws.com",
                            "event": "StopLogging",
                            "ids": "requestParameters.name",
                        }
                    ],
                },
                "filters": [{"type": "status", "key": "IsLogging", "value": False}],
                "actions": [
                    {"type": "set-logging", "enabled": True},
                    {
                        "type": "notify",
                        "subject": "CloudTrail logging restarted",
                        "template": "default",
                        "to": ["security@example.com"],
                        "transport": {"type": "sns", "topic": topic_arn},
                    },
                ],
            }
        ],
    }


def sample_path() -> str | None:
    """The aws-sample's handler file from ``TRAILGUARD_BENCH_SAMPLE`` (its checkout or the file)."""
    given = os.environ.get("TRAILGUARD_BENCH_SAMPLE", "").strip()
    if not given:
        return None
    path = Path(given)
    if path.is_dir():
        path = path / "lambda" / "index-cwe.py"
    if not path.is_file():
        raise SystemExit(f"TRAILGUARD_BENCH_SAMPLE: {path} not found")
    return str(path)


def build_code(into: Path) -> tuple[Path, bool]:
    """The trailguard Lambda package for the bench's Python, unzipped: (directory, compiled?)."""
    from trailguard.deploy.package import build_zip, running_runtime, template_runtime

    compiled = bool(running_runtime())
    zip_path = into / "trailguard-lambda.zip"
    build_zip(zip_path, compile_modules=compiled)
    code = into / "code"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(code)
    if running_runtime() != template_runtime():
        print(
            f"(the bench runs on {running_runtime()}; the stack's functions run {template_runtime()}: "
            f"the package measured here is built for {running_runtime()})"
        )
    return code, compiled


class Server:
    """The standalone moto server with the stack deployed and the protected trail logging."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH / "moto_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        self.endpoint = f"http://127.0.0.1:{port}"
        self.env: dict[str, str] = {}

    def deploy(self) -> dict[str, str]:
        """The trail (as the worker's in-process world has it), then the stack by ``trailguard deploy``;
        returns the API-call function's environment."""
        import boto3

        from trailguard import aws
        from trailguard.deploy import deploy
        from trailguard.remediate.bucket import cloudtrail_policy

        creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        os.environ.update(creds, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)

        def client(service: str) -> Any:
            return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)

        bucket, trail = "org-audit-trail-logs", "org-audit-trail"
        client("s3").create_bucket(Bucket=bucket)
        arn = client("cloudtrail").create_trail(Name=trail, S3BucketName=bucket, IsMultiRegionTrail=True)[
            "TrailARN"
        ]
        client("s3").put_bucket_policy(
            Bucket=bucket, Policy=json.dumps(cloudtrail_policy(bucket, [{"TrailARN": arn}]))
        )
        client("cloudtrail").start_logging(Name=trail)
        with aws.using_environ({**creds, "AWS_REGION": REGION}):
            outputs = deploy(
                "trailguard",
                "security@example.com",
                region=REGION,
                endpoint_url=self.endpoint,
                progress=lambda _line: None,
                poll_seconds=0.05,
            )
        function = client("lambda").get_function_configuration(FunctionName=outputs["ApiCallFunctionName"])
        self.env = dict(function["Environment"]["Variables"])
        return self.env

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_worker(handler: str, spec: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
    if spec["backend"] == "server":  # the worker's first event must find the trail stopped
        import boto3

        boto3.client("cloudtrail", region_name=REGION, endpoint_url=spec["endpoint"]).stop_logging(
            Name="org-audit-trail"
        )
    python = str(CUSTODIAN_PYTHON) if handler == "custodian" else sys.executable
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [python, str(WORKER), json.dumps({**spec, "handler": handler})],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{handler} worker failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def forget_bursts(spec: dict[str, Any]) -> None:
    """Delete trailguard's bursts on the server, so a fresh process's first event is the first of its
    burst (a full message, as after a quiet spell) and not a repeat of the last round's burst."""
    import boto3

    table = spec["env"]["TRAILGUARD_STATE_TABLE"]
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=spec["endpoint"])
    query = {"TableName": table, "KeyConditionExpression": "pk = :p"}
    items = dynamodb.query(**query, ExpressionAttributeValues={":p": {"S": "bursts"}})["Items"]
    for item in items:
        dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def measure(
    backend: str, handlers: list[str], base: dict[str, Any], *, rounds: int, warm: int, storm: int
) -> dict[str, dict[str, Any]]:
    """Interleaved rounds of (import, first event, warm repairs) per handler, then one storm each."""
    figures: dict[str, dict[str, Any]] = {
        h: {
            "import": [],
            "first": [],
            "cold": [],
            "cold_cpu": [],
            "warm": [],
            "first_calls": None,
            "repeat_calls": None,
            "init_calls": None,
        }
        for h in handlers
    }
    for round_no in range(rounds):
        shift = round_no % len(handlers)
        for handler in handlers[shift:] + handlers[:shift]:
            if backend == "server" and handler == "trailguard":
                forget_bursts(base)
            got = run_worker(handler, {**base, "backend": backend, "n": warm})
            f = figures[handler]
            f["import"].append(got["import_ms"])
            f["first"].append(got["first_ms"])
            f["cold"].append(got["import_ms"] + got["first_ms"])
            f["cold_cpu"].append(got["cold_cpu_ms"])
            f["warm"].extend(got["times"])
            if f["first_calls"] is None:  # every round's first event is its burst's first
                f["first_calls"], f["repeat_calls"] = got["first_calls"], got["repeat_calls"]
                f["init_calls"] = got.get("init_calls") or []
        print(f"  {backend}: round {round_no + 1}/{rounds} done", file=sys.stderr)
    # Against the server, the storm in one chunk per round, interleaved as the rounds are (a storm takes
    # long enough for the machine's load to change under it): the account is shared, so the chunks are one
    # burst. Each chunk is a fresh process: its first event is a cold start (measured above), so after the
    # first chunk it is made but not counted. In-process a worker is its own account: one storm, one chunk.
    chunks = max(1, min(rounds, storm)) if backend == "server" else 1
    storms: dict[str, dict[str, Any]] = {h: {"times": [], "emails": 0, "events": 0} for h in handlers}
    for chunk in range(chunks):
        size = storm // chunks + (1 if chunk < storm % chunks else 0)
        shift = chunk % len(handlers)
        for handler in handlers[shift:] + handlers[:shift]:
            got = run_worker(handler, {**base, "backend": backend, "n": size - 1 if chunk == 0 else size})
            kept = storms[handler]
            kept["times"] += [got["first_ms"], *got["times"]] if chunk == 0 else got["times"]
            uncounted = got["first_calls"].count("sns.Publish") if chunk else 0  # the chunk's cold event
            kept["emails"] += got["emails"] - uncounted
            kept["events"] += got["events"]
            kept["logging"] = got["logging_at_end"]
        print(f"  {backend}: storm chunk {chunk + 1}/{chunks} ({size} calls each) done", file=sys.stderr)
    for handler in handlers:
        kept = storms[handler]
        figures[handler]["storm"] = {
            "events": len(kept["times"]),
            "per_event": statistics.fmean(kept["times"]),
            "emails": kept["emails"],
            "logging": kept["logging"],
        }
    return figures


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def table(figures: dict[str, dict[str, Any]], storm: int) -> list[str]:
    """The README's performance table (markdown) from one backend's figures."""
    handlers = list(figures)
    others = [h for h in handlers if h != "trailguard"]
    head = ["measure", *(LABELS[h] for h in handlers), *(f"trailguard ÷ {LABELS[h]}" for h in others)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def to_alert(h: str) -> int:
        return len(split_calls(figures[h]["first_calls"])[0])

    def calls(h: str) -> str:
        f = figures[h]
        hot, after, elsewhere = split_calls(f["first_calls"])
        repeat = f["repeat_calls"] or []
        extra = [f"+{len(after)} after the alert"] if after else []
        init = len(elsewhere) + len(f.get("init_calls") or [])
        extra += [f"+{init} by its init"] if init else []
        return f"{len(hot)} first{' (' + ', '.join(extra) + ')' if extra else ''} / {len(repeat)} repeat"

    lines.append(
        "| AWS calls per StopLogging repair, to the alert | "
        + " | ".join(calls(h) for h in handlers)
        + " | "
        + " | ".join(f"{to_alert('trailguard') / max(1, to_alert(h)):.2f}{TIMES}" for h in others)
        + " |"
    )
    rows = [
        ("warm repair, new event id each time (median)", "warm"),
        ("first event in a fresh process (median)", "first"),
        ("handler import + first event (median)", "cold"),
        ("handler import + first event, CPU of the handler's process (median)", "cold_cpu"),
    ]
    for label, key in rows:
        medians = {h: statistics.median(figures[h][key]) for h in handlers}
        lines.append(
            f"| {label} | "
            + " | ".join(_ms(medians[h]) for h in handlers)
            + " | "
            + " | ".join(f"{medians['trailguard'] / medians[h]:.2f}{TIMES}" for h in others)
            + " |"
        )
    per_event = {h: figures[h]["storm"]["per_event"] for h in handlers}
    lines.append(
        f"| storm of {storm:,} StopLogging, per event | "
        + " | ".join(_ms(per_event[h]) for h in handlers)
        + " | "
        + " | ".join(f"{per_event['trailguard'] / per_event[h]:.2f}{TIMES}" for h in others)
        + " |"
    )
    lines.append(
        "| storm: emails sent during it, trail logging at the end | "
        + " | ".join(
            f"{figures[h]['storm']['emails']}, {'yes' if figures[h]['storm']['logging'] else 'NO'}"
            for h in handlers
        )
        + " |" * (len(others) + 1)
    )
    return lines


def split_calls(calls: list[str]) -> tuple[list[str], list[str], list[str]]:
    """One event's calls as (to the alert: up to the first ``Publish``; after it, on the handler's
    thread; on the handler's other threads, its init's)."""
    own = [c for c in calls if "@" not in c]
    elsewhere = [c for c in calls if "@" in c]
    cut = own.index("sns.Publish") + 1 if "sns.Publish" in own else len(own)
    return own[:cut], own[cut:], elsewhere


def done_when(figures: dict[str, dict[str, Any]]) -> list[str]:
    """Issue 13's "Done when" against the server figures, each line met or not (printed, never failed on:
    a benchmark reports)."""
    tg = figures["trailguard"]
    warm = statistics.median(tg["warm"])
    hot, after, elsewhere = split_calls(tg["first_calls"])
    repeat = len(tg["repeat_calls"])
    besides = ", ".join(after + elsewhere + list(tg.get("init_calls") or [])) or "none"
    checks = [
        (
            f"at most 4 AWS calls per repair to the alert: {len(hot)} first, {repeat} repeat (besides: "
            f"{besides})",
            max(len(hot), repeat) <= 4,
        ),
        (
            f"storm: at most 3 emails and the trail logging at the end: {tg['storm']['emails']} emails, "
            f"{'logging' if tg['storm']['logging'] else 'NOT logging'}",
            tg["storm"]["emails"] <= 3 and tg["storm"]["logging"],
        ),
    ]
    if "sample" in figures:
        storm = tg["storm"]["per_event"] / figures["sample"]["storm"]["per_event"]
        checks.append(
            (
                f"storm of {tg['storm']['events']:,}: at most the {LABELS['sample']}'s time per event: "
                f"{storm:.2f}{TIMES}",
                storm <= 1.0,
            )
        )
    for other, limit in (("sample", 0.8), ("floor", 2.0)):
        if other in figures:
            ratio = warm / statistics.median(figures[other]["warm"])
            checks.append(
                (
                    f"warm repair at most {limit}{TIMES} the {LABELS[other]}'s: {ratio:.2f}{TIMES}",
                    ratio <= limit,
                )
            )
    return ["issue 13's done-when, against the server:"] + [
        f"  {'met    ' if ok else 'NOT met'}  {text}" for text, ok in checks
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default: 5)")
    parser.add_argument("--warm", type=int, default=20, help="warm repairs per worker (default: 20)")
    parser.add_argument("--storm", type=int, default=1000, help="storm size, in-process (default: 1000)")
    parser.add_argument(
        "--server-storm", type=int, default=1000, help="storm size against the server (default: 1000)"
    )
    parser.add_argument(
        "--backend", choices=("inprocess", "server", "both"), default="both", help="default: both"
    )
    args = parser.parse_args(argv)

    handlers = ["floor", "trailguard"]
    if CUSTODIAN_PYTHON.exists():
        handlers.append("custodian")
    else:
        print(f"Cloud Custodian column skipped: {CUSTODIAN_PYTHON} not found (`make bench` installs it)")
    sample = sample_path()
    if sample:
        handlers.append("sample")
    else:
        print("aws-sample column skipped: set TRAILGUARD_BENCH_SAMPLE to its checkout")

    code = 0
    with tempfile.TemporaryDirectory(prefix="trailguard-compare-") as tmp:
        code_dir, compiled = build_code(Path(tmp))
        base: dict[str, Any] = {"code_dir": str(code_dir), "sample_path": sample, "workdir": tmp}
        backends = ["inprocess", "server"] if args.backend == "both" else [args.backend]
        for backend in backends:
            started = time.perf_counter()
            server = Server() if backend == "server" else None
            try:
                if server is not None:
                    env = server.deploy()
                    base = {**base, "endpoint": server.endpoint, "env": env}
                    topic = env["TRAILGUARD_TOPIC_ARN"]
                else:
                    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:trailguard-alerts"  # the worker's world
                Path(tmp, "config.json").write_text(json.dumps(custodian_config(topic)), encoding="utf-8")
                storm = args.storm if backend == "inprocess" else args.server_storm
                figures = measure(backend, handlers, base, rounds=args.rounds, warm=args.warm, storm=storm)
            finally:
                if server is not None:
                    server.close()
            where = (
                "moto in each worker's process (boto3 and botocore loaded before the timers)"
                if backend == "inprocess"
                else "a standalone moto server, the stack deployed by `trailguard deploy`, the function's "
                "own environment (nothing loaded before the timers: cold includes boto3's import)"
            )
            print(
                f"\nStopLogging repair, {where}; {args.rounds} interleaved rounds of a fresh process + "
                f"{args.warm} warm repairs; trailguard's package {'with' if compiled else 'without'} "
                f"compiled modules ({time.perf_counter() - started:.0f} s):"
            )
            print("\n".join(table(figures, storm)))
            if backend == "server":
                print("\n".join(done_when(figures)))
            if not all(f["storm"]["logging"] for f in figures.values()):
                code = 1  # a handler left the trail stopped: a failure, not a figure
    return code


if __name__ == "__main__":
    sys.exit(main())
