"""One measured run of one StopLogging handler, in a fresh interpreter: ``python compare_worker.py SPEC``.

``bench/compare.py`` starts this script with the Python of the environment the handler lives in
(trailguard's ``.venv`` for trailguard, the floor and the aws-sample; ``.venv-bench-custodian`` for Cloud
Custodian), so every handler is measured by the same lines. It prints one JSON line.

SPEC (JSON) says the handler (``trailguard``, ``floor``, ``sample``, ``custodian``), the backend and what
to measure:

- ``backend: "inprocess"``: moto in this process (imported, and the world built, before any timer: so
  boto3 and botocore are loaded before the handler is). trailguard's world is its stack deployed by
  ``trailguard deploy``; the others get the trail and a topic.
- ``backend: "server"``: a standalone moto server (``endpoint``) where the driver deployed the stack and
  the trail; this process imports nothing but the standard library before its timer starts, so the cold
  figure includes boto3's own import.

Measured, each on the handler's own time (the attacker's StopLogging before each event is not timed):
``import_ms`` (the handler module's import), ``first_ms`` (its first event), then ``warm`` (ms of each
of the next N events, each with a new event id), or for ``storm`` the ms of each of N events in a row.
AWS calls are counted with a wrapper on botocore's one request path (``BaseClient._make_api_call``),
while the handler's module is imported (Lambda's init: ``init_calls``, with every call of a thread the
init started, marked ``@<thread name>``, whenever it is made) and while the handler runs; ``Publish``
calls are the emails. Objects made before the timers (moto's
world) are frozen out of the garbage collector, as a Lambda process has no such heap.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys
import threading
import time
import uuid
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
TRAIL = "org-audit-trail"
BUCKET = "org-audit-trail-logs"
STACK = "trailguard"
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))


def envelope(trail: str) -> dict[str, Any]:
    """An EventBridge ``AWS API Call via CloudTrail`` envelope of a StopLogging, new ids each time."""
    event_id = str(uuid.uuid4())
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    detail = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEATTACKER01",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/attacker",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLEATTACKER1",
            "userName": "attacker",
        },
        "eventTime": now,
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0 md/command#cloudtrail.stop-logging",
        "requestParameters": {"name": trail},
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cloudtrail",
        "account": ACCOUNT,
        "time": now,
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


class Counter(importlib.abc.MetaPathFinder):
    """AWS calls made while :attr:`active`, as ``service.Operation``. Installed before anything imports
    botocore: it wraps ``BaseClient._make_api_call`` as ``botocore.client`` is first imported, so the
    cold figure still pays for botocore's import where the handler does."""

    def __init__(self) -> None:
        self.active = False
        self.calls: list[str] = []
        self.background: list[str] = []

    def install(self) -> None:
        if "botocore.client" in sys.modules:
            self.wrap(sys.modules["botocore.client"])
        else:
            sys.meta_path.insert(0, self)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "botocore.client":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.loader is not None
        real_exec = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            real_exec(module)
            self.wrap(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    def wrap(self, botocore_client: Any) -> None:
        base = botocore_client.BaseClient
        real = base._make_api_call
        counter = self

        def counted(client: Any, operation_name: str, api_params: Any) -> Any:
            call = f"{client.meta.service_model.service_name}.{operation_name}"
            if threading.current_thread() is not threading.main_thread():
                # the handler's own threads (its init's): counted whenever they call, never timed
                counter.background.append(f"{call}@{threading.current_thread().name}")
            elif counter.active:
                counter.calls.append(call)
            return real(client, operation_name, api_params)

        base._make_api_call = counted


def inprocess_world(handler: str) -> dict[str, str]:
    """moto in this process and what the handler needs; returns the handler's environment additions."""
    import boto3
    from moto import mock_aws

    mock_aws().start()
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    arn = cloudtrail.create_trail(Name=TRAIL, S3BucketName=BUCKET, IsMultiRegionTrail=True)["TrailARN"]
    cloudtrail.start_logging(Name=TRAIL)
    if handler == "trailguard":
        from trailguard.deploy import deploy
        from trailguard.local import kms_patch  # moto's CloudFormation KMS key ignores KeySpec (HMAC)
        from trailguard.remediate.bucket import cloudtrail_policy

        kms_patch.install()
        policy = cloudtrail_policy(BUCKET, [{"TrailARN": arn}])
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))

        outputs = deploy(STACK, "security@example.com", progress=lambda _line: None, poll_seconds=0.01)
        function = boto3.client("lambda", region_name=REGION).get_function_configuration(
            FunctionName=outputs["ApiCallFunctionName"]
        )
        env: dict[str, str] = dict(function["Environment"]["Variables"])
        env["TRAILGUARD_TOPIC_ARN"] = outputs["TopicArn"]
        # deploy imported trailguard and built its clients: forget both, so the handler's import and
        # first event below start as cold as on Lambda (moto's own imports stay, as for every handler)
        for module in [m for m in sys.modules if m == "trailguard" or m.startswith("trailguard.")]:
            del sys.modules[module]
        return env
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="trailguard-alerts")["TopicArn"]
    return {"TRAILGUARD_TOPIC_ARN": str(topic)}


def load_handler(spec: dict[str, Any]) -> Any:
    """Import the handler module (the timed import) and return the function Lambda would call."""
    name = spec["handler"]
    if name == "trailguard":
        sys.path.insert(0, spec["code_dir"])  # the Lambda package, unzipped: what the function runs
        import trailguard.handlers

        return trailguard.handlers.api_call
    if name == "custodian":
        import custodian_handler  # bench/, beside this script

        return custodian_handler.handler
    path = spec["sample_path"] if name == "sample" else os.path.join(BENCH_DIR, "floor.py")
    module_spec = importlib.util.spec_from_file_location(f"bench_{name}_handler", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.handler


def main() -> None:
    spec: dict[str, Any] = json.loads(sys.argv[1])
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
    )
    sys.path.insert(0, BENCH_DIR)
    if spec.get("workdir"):
        os.chdir(spec["workdir"])  # Cloud Custodian reads its config.json from there
    if spec["backend"] == "server":
        os.environ["AWS_ENDPOINT_URL"] = spec["endpoint"]
        os.environ.update(spec["env"])
    else:
        os.environ.update(inprocess_world(spec["handler"]))
    os.environ["SNSTOPIC"] = os.environ["TRAILGUARD_TOPIC_ARN"]  # what the aws-sample reads
    # Lambda sets this in every function's environment before the init (the handler's import): the same
    # for every handler (trailguard prepares its first event there, as on Lambda)
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = f"bench-{spec['handler']}"

    import gc
    import logging

    # In-process moto's world is a large heap; the collector's passes over it would be charged to
    # whichever handler happens to allocate then. Frozen out of the collector here (the same for every
    # handler), as a Lambda process has no such heap.
    gc.freeze()
    logging.disable(logging.CRITICAL)  # the same for every handler: measure the work, not log output
    counter = Counter()
    counter.install()
    counter.active = True  # the import is Lambda's init: what it calls is counted too (``init_calls``)
    started, cpu_started = time.perf_counter(), time.process_time()
    handler = load_handler(spec)
    import_ms = (time.perf_counter() - started) * 1000
    import_cpu_ms = (time.process_time() - cpu_started) * 1000
    counter.active = False
    init_calls = counter.calls
    attacker: Any = None

    def attack_and_handle() -> tuple[float, list[str]]:
        nonlocal attacker
        if attacker is not None:
            attacker.stop_logging(Name=TRAIL)
        elif spec["backend"] != "server":  # the driver stopped the trail before starting this process
            import boto3  # already loaded by moto

            attacker = boto3.client("cloudtrail", region_name=REGION)
            attacker.stop_logging(Name=TRAIL)
        event = envelope(TRAIL)
        counter.calls = []
        counter.active = True
        began = time.perf_counter()
        handler(event, None)
        spent = (time.perf_counter() - began) * 1000
        counter.active = False
        return spent, counter.calls

    cpu_started = time.process_time()
    first_ms, first_calls = attack_and_handle()
    first_cpu_ms = (time.process_time() - cpu_started) * 1000
    for thread in threading.enumerate():  # a thread the handler's init started and left running
        if thread is not threading.main_thread():
            thread.join(30)
    init_calls = init_calls + counter.background
    if attacker is None:  # the attacker and observer: loaded after the timed first event
        import boto3

        attacker = boto3.client("cloudtrail", region_name=REGION)
    times: list[float] = []
    calls: list[list[str]] = []
    for _ in range(int(spec.get("n", 0))):
        spent, made = attack_and_handle()
        times.append(spent)
        calls.append(made)
    logging_at_end = bool(attacker.get_trail_status(Name=TRAIL)["IsLogging"])
    all_calls = [first_calls, *calls]
    print(
        json.dumps(
            {
                "handler": spec["handler"],
                "import_ms": import_ms,
                "first_ms": first_ms,
                "cold_cpu_ms": import_cpu_ms + first_cpu_ms,
                "first_calls": first_calls,
                "init_calls": init_calls,
                "times": times,
                "calls": [len(c) for c in calls],
                "repeat_calls": calls[0] if calls else [],
                "emails": sum(c.count("sns.Publish") for c in all_calls),
                "events": len(all_calls),
                "logging_at_end": logging_at_end,
            }
        )
    )


if __name__ == "__main__":
    main()
