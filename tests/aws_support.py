"""moto helpers every in-process test area shares, as small pieces a fixture composes: fake
credentials, moto itself, and an :class:`Account` that adds what a test needs (the alert topic read
through an SQS queue, the stack's state table, buckets, keys, log groups, roles, rules, trails, Security
Hub, the real stack deployed). The worlds each area tests against are built from these pieces in
``tests/worlds.py``; the one fixture, ``account``, and the worlds' fixtures live in ``tests/conftest.py``.
A uniquely named module (``tests`` is on ``pythonpath``), so no directory's ``conftest`` can shadow it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import corpus
from trailguard import aws
from trailguard.events import Record
from trailguard.inventory import parse_trail_ref
from trailguard.local import cloudtrail_patch

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
TABLE = "trailguard-state"
TOPIC_NAME = "trailguard-alerts"
GUARD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/trailguard-remediation"
EVENTS: Path = corpus.EVENTS
KNOWN_REGIONS = frozenset(boto3.session.Session().get_available_regions("cloudtrail"))


def fake_credentials(monkeypatch: pytest.MonkeyPatch, region: str = REGION) -> dict[str, str]:
    """Fake credentials and region in the environment, no profile, endpoint or config files; returns
    the credentials (with ``AWS_DEFAULT_REGION``) for a function's environment."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/trailguard-test-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/trailguard-test-credentials")
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": region}
    for name, value in creds.items():
        monkeypatch.setenv(name, value)
    return creds


@contextmanager
def in_moto() -> Iterator[None]:
    """moto in-process, with no cached trailguard clients on either side, and CloudTrail's event
    selectors behaving as on AWS (the local cloud's patch: ``trailguard.local.cloudtrail_patch``)."""
    aws.clear_cache()
    try:
        with mock_aws(), cloudtrail_patch.patched():
            yield
    finally:
        aws.clear_cache()


@contextmanager
def moto_server() -> Iterator[str]:
    """A standalone moto server on 127.0.0.1, its endpoint, stopped on the way out."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto_server(endpoint: str) -> str:
    """Every account and region of the server at ``endpoint`` emptied (moto's reset API); the endpoint."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return endpoint


def moto_region(*candidates: str | None, default: str = REGION) -> str:
    """The first candidate region moto serves; real records carry made-up ones (``apiso-centralnorth-2r``)."""
    return next((r for r in candidates if r and r in KNOWN_REGIONS), default)


def create_state_table(region: str = REGION, table: str = TABLE) -> None:
    """The stack's state table as the template makes it: keys ``pk``/``sk``, TTL on ``expires_at``."""
    dynamodb = boto3.client("dynamodb", region_name=region)
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True}
    )


def stack_allowing(principal: str, region: str = REGION, name: str = "tg-allow") -> str:
    """A stack whose AllowedPrincipalArns parameter lists ``principal``: the allow-list trailguard trusts
    (``trailguard.allowlist``); pass its name as ``TRAILGUARD_STACK_NAME``."""
    template = {
        "Parameters": {"AllowedPrincipalArns": {"Type": "CommaDelimitedList", "Default": ""}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    }
    boto3.client("cloudformation", region_name=region).create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "AllowedPrincipalArns", "ParameterValue": principal}],
    )
    return name


def subscribe_reader(topic_arn: str, region: str = REGION) -> str:
    """An SQS queue subscribed to ``topic_arn``, to read what it publishes; returns the queue URL."""
    sqs = boto3.client("sqs", region_name=region)
    queue_url = str(sqs.create_queue(QueueName="alerts-reader")["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns", region_name=region).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


@dataclass
class Alerts:
    """The alert topic and the SQS queue reading it."""

    topic_arn: str
    queue_url: str
    region: str = REGION

    @classmethod
    def create(cls, region: str = REGION) -> Alerts:
        topic_arn = str(boto3.client("sns", region_name=region).create_topic(Name=TOPIC_NAME)["TopicArn"])
        return cls(topic_arn, subscribe_reader(topic_arn, region), region)

    def received(self) -> list[tuple[str | None, dict[str, Any]]]:
        """Every message published since the last read, oldest first: (SNS subject, JSON document)."""
        return read_queue(self.queue_url, self.region)

    def documents(self) -> list[dict[str, Any]]:
        """Every alert since the last read: the JSON document of each message, with ``_sns_subject``."""
        return [{**document, "_sns_subject": subject} for subject, document in self.received()]


@dataclass
class MotoAccount:
    """The moto account as a test sees it: the alert topic with its reader, and a trailguard function's
    environment (:func:`function_env`)."""

    alerts: Alerts
    env: dict[str, str] = field(default_factory=dict)

    @property
    def topic_arn(self) -> str:
        return self.alerts.topic_arn

    @property
    def queue_url(self) -> str:
        return self.alerts.queue_url

    def messages(self) -> list[dict[str, Any]]:
        """Every alert delivered since the last read, oldest first, with ``_sns_subject``."""
        return self.alerts.documents()


def read_queue(
    queue_url: str, region: str = REGION, sqs: Any = None
) -> list[tuple[str | None, dict[str, Any]]]:
    """Drain an SQS queue subscribed to a topic: (SNS subject, JSON document) of each message; ``sqs``
    is a client to reuse (a caller draining many times: making one costs more than the calls)."""
    sqs = sqs or boto3.client("sqs", region_name=region)
    out: list[tuple[str | None, dict[str, Any]]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        batch = got.get("Messages", [])
        if not batch:
            return out
        for message in batch:
            body = json.loads(message["Body"])
            out.append((body.get("Subject"), json.loads(body["Message"])))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def function_env(creds: Mapping[str, str], alerts: Alerts, **settings: str) -> dict[str, str]:
    """A trailguard function's environment: the credentials, the alert topic and the guard role, plus
    ``settings`` (``TRAILGUARD_STATE_TABLE=...``)."""
    return {
        **creds,
        "TRAILGUARD_TOPIC_ARN": alerts.topic_arn,
        "TRAILGUARD_GUARD_ROLE_ARNS": GUARD_ROLE,
        **settings,
    }


load_event = corpus.load  # a file of ``tests/data/events`` (``"tamper/stop_logging.json"``), parsed


# --------------------------------------------------------------------------- the composable account


@dataclass
class Account:
    """The moto account (moto running, fake credentials bound: the ``account`` fixture) and the pieces a
    world adds to it, each one call: ``account.key()``, ``account.bucket(name, policy=...)``,
    ``account.trail(name, bucket, KmsKeyId=...)``, ``account.deploy(stack)``. Everything is made in
    :attr:`region` unless a piece is given another."""

    creds: dict[str, str]
    region: str = REGION
    _alerts: Alerts | None = None

    def client(self, service: str, region: str | None = None) -> Any:
        return boto3.client(service, region_name=region or self.region)

    @property
    def alerts(self) -> Alerts:
        """The alert topic and its SQS reader, made on first use."""
        if self._alerts is None:
            self._alerts = Alerts.create(self.region)
        return self._alerts

    def env(self, **settings: str) -> dict[str, str]:
        """A trailguard function's environment here (:func:`function_env`)."""
        return function_env(self.creds, self.alerts, **settings)

    def state_table(self) -> str:
        """The stack's state table (:func:`create_state_table`); returns its name."""
        create_state_table(self.region)
        return TABLE

    def security_hub(self) -> None:
        self.client("securityhub").enable_security_hub()

    def bucket(
        self,
        name: str,
        *,
        region: str | None = None,
        policy: Mapping[str, Any] | None = None,
        versioning: bool = False,
        encryption: Mapping[str, Any] | None = None,
        lifecycle: list[dict[str, Any]] | None = None,
    ) -> str:
        """A bucket (with its LocationConstraint outside us-east-1) and whatever of its settings is given."""
        where = region or self.region
        s3 = self.client("s3", where)
        if where == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": where})
        if policy is not None:
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if encryption is not None:
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [encryption]})
        if lifecycle is not None:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": lifecycle})
        return name

    def key(self, description: str = "trail key", *, alias: str | None = None) -> dict[str, Any]:
        """A KMS key (and its alias); returns its ``KeyMetadata``."""
        kms = self.client("kms")
        key: dict[str, Any] = kms.create_key(Description=description)["KeyMetadata"]
        if alias:
            kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        return key

    def log_group(self, name: str) -> str:
        """A CloudWatch Logs group; returns the ARN a trail names (``...:log-group:NAME:*``)."""
        self.client("logs").create_log_group(logGroupName=name)
        return f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{name}:*"

    def role(self, name: str) -> str:
        arn: str = self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        return arn

    def rules(self, *names: str, target_arn: str) -> None:
        """Enabled EventBridge rules, each with one target (``alerts``)."""
        events = self.client("events")
        for rule in names:
            events.put_rule(
                Name=rule, EventPattern=json.dumps({"source": ["aws.cloudtrail"]}), State="ENABLED"
            )
            events.put_targets(Rule=rule, Targets=[{"Id": "alerts", "Arn": target_arn}])

    def trail(
        self,
        name: str,
        bucket: str,
        *,
        region: str | None = None,
        logging: bool = True,
        selectors: list[dict[str, Any]] | None = None,
        **options: Any,
    ) -> str:
        """A trail writing to ``bucket`` (``options`` as CreateTrail takes them), logging unless told not
        to; returns its ARN."""
        cloudtrail = self.client("cloudtrail", region)
        arn = str(cloudtrail.create_trail(Name=name, S3BucketName=bucket, **options)["TrailARN"])
        if selectors is not None:
            cloudtrail.put_event_selectors(TrailName=arn, EventSelectors=selectors)
        if logging:
            cloudtrail.start_logging(Name=arn)
        return arn

    def deploy(self, stack: str, *, baseline: bool = True) -> dict[str, str]:
        """The real stack deployed (``trailguard.deploy.deploy``, which records the baselines unless
        told not to); its outputs."""
        from trailguard.deploy import deploy

        return deploy(
            stack, "security@example.com", progress=lambda _: None, poll_seconds=0.01, baseline=baseline
        )


@dataclass
class Cloud(MotoAccount):
    """The moto account with trails made per region on demand (each region's trails write to one
    bucket), as the handler and notification tests see it."""

    buckets: set[str] = field(default_factory=set)
    _cloudtrail: dict[str, Any] = field(default_factory=dict, repr=False)

    def cloudtrail(self, region: str) -> Any:
        """A CloudTrail client in ``region``, made once (a fuzz test asks for one per example)."""
        if region not in self._cloudtrail:
            self._cloudtrail[region] = boto3.client("cloudtrail", region_name=region)
        return self._cloudtrail[region]

    def _bucket(self, region: str) -> str:
        bucket = f"trail-logs-{region}"
        if bucket not in self.buckets:
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
            self.buckets.add(bucket)
        return bucket

    def create_trail(
        self,
        name: str,
        region: str,
        *,
        multi_region: bool = False,
        logging: bool = True,
        validation: bool = False,
    ) -> str:
        arn = self.cloudtrail(region).create_trail(
            Name=name,
            S3BucketName=self._bucket(region),
            IsMultiRegionTrail=multi_region,
            EnableLogFileValidation=validation,
        )["TrailARN"]
        if logging:
            self.cloudtrail(region).start_logging(Name=name)
        return str(arn)

    def trail_for(self, record: Record, *, stopped: bool = True) -> tuple[str, str]:
        """Create (and stop) the trail a record names; returns (name, region)."""
        ref = record.request_parameters.get("name") if record.kind == "cloudtrail" else record.finding_trail
        assert isinstance(ref, str) and ref
        name, arn_region = parse_trail_ref(ref)
        region = moto_region(arn_region, record.region)
        existing = {t["Name"] for t in self.cloudtrail(region).describe_trails()["trailList"]}
        if name not in existing:
            self.cloudtrail(region).create_trail(Name=name, S3BucketName=self._bucket(region))
        self.cloudtrail(region).start_logging(Name=name)
        if stopped:
            self.cloudtrail(region).stop_logging(Name=name)
        return name, region

    def stop(self, name: str, region: str) -> None:
        self.cloudtrail(region).stop_logging(Name=name)
        assert not self.is_logging(name, region)

    def is_logging(self, name: str, region: str) -> bool:
        return bool(self.cloudtrail(region).get_trail_status(Name=name)["IsLogging"])

    def invoke(self, handler: Any, event: Any, region: str = REGION, **extra: str) -> dict[str, Any]:
        """Run a handler with the function's environment bound, as the local cloud's runner does."""
        env = {**self.env, "AWS_REGION": region, "AWS_DEFAULT_REGION": region, **extra}
        with aws.using_environ(env):
            result: dict[str, Any] = handler(event, None)
        return result
