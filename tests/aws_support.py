"""moto helpers every in-process test area shares: fake credentials, the stack's state table, the alert
topic read through an SQS queue, and EventBridge envelopes around the real records of
``tests/data/events``. A uniquely named module (``tests`` is on ``pythonpath``), so no directory's
``conftest`` can shadow it; the fixtures built on it live in ``tests/conftest.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from envelopes import envelope  # noqa: F401 (re-exported: the one envelope builder, tests/envelopes.py)
from trailguard import aws

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
TABLE = "trailguard-state"
TOPIC_NAME = "trailguard-alerts"
GUARD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/trailguard-remediation"
EVENTS = Path(__file__).parent / "data" / "events"
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
    """moto in-process, with no cached trailguard clients on either side."""
    aws.clear_cache()
    try:
        with mock_aws():
            yield
    finally:
        aws.clear_cache()


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


def read_queue(queue_url: str, region: str = REGION) -> list[tuple[str | None, dict[str, Any]]]:
    """Drain an SQS queue subscribed to a topic: (SNS subject, JSON document) of each message."""
    sqs = boto3.client("sqs", region_name=region)
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


def load_event(path: str) -> Any:
    """A file of ``tests/data/events`` (``"tamper/stop_logging.json"``), parsed."""
    return json.loads((EVENTS / path).read_text())
