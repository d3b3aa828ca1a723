"""The outbox holds one file per email an SNS publish would send to the topic's email subscribers."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest
from localcloud_support import unique

from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration


def new_emails(cloud: LocalCloud, before: int) -> list[dict[str, object]]:
    return cloud.outbox.emails()[before:]


def test_publish_writes_one_email_per_subscriber(cloud: LocalCloud) -> None:
    sns = cloud.client("sns")
    topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="b@example.com")
    sqs_arn = (
        "arn:aws:sqs:us-east-1:123456789012:"
        + cloud.client("sqs").create_queue(QueueName=unique("q"))["QueueUrl"].rsplit("/", 1)[-1]
    )
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sqs_arn)
    before = len(cloud.outbox.emails())
    sns.publish(TopicArn=topic, Subject="Trail stopped", Message="line one\nline two")
    emails = new_emails(cloud, before)
    assert sorted(e["to"] for e in emails) == ["a@example.com", "b@example.com"]
    for email in emails:
        assert email["subject"] == "Trail stopped"
        assert email["body"] == "line one\nline two"
        assert email["topic_arn"] == topic
        assert str(email["time"]).endswith("Z")


def test_message_structure_json_uses_the_email_member(cloud: LocalCloud) -> None:
    sns = cloud.client("sns")
    topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="team@example.com")
    before = len(cloud.outbox.emails())
    message = json.dumps({"default": '{"machine": true}', "email": "Hello team"})
    sns.publish(TopicArn=topic, Message=message, MessageStructure="json")
    [email] = new_emails(cloud, before)
    assert email["body"] == "Hello team"
    assert email["subject"] == "AWS Notification Message"  # what SNS uses without a subject
    sns.publish(TopicArn=topic, Message=json.dumps({"default": "only default"}), MessageStructure="json")
    assert new_emails(cloud, before + 1)[0]["body"] == "only default"


def test_no_email_without_email_subscribers_or_when_publish_fails(cloud: LocalCloud) -> None:
    sns = cloud.client("sns")
    topic = sns.create_topic(Name=unique("quiet"))["TopicArn"]
    before = len(cloud.outbox.emails())
    sns.publish(TopicArn=topic, Message="nobody listens")
    with pytest.raises(botocore.exceptions.ClientError):
        sns.publish(TopicArn=topic + "-missing", Message="no topic")
    assert new_emails(cloud, before) == []
