"""A Publish reaches the topic's Lambda subscriptions, as SNS delivers it (moto would hand them to a
container runtime the local cloud does not run): the central function hears an account's own message
through its subscription, which is how it stays quiet when the account told first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import localcloud_sample_handler as sample
import pytest
from localcloud_support import invocations_of, unique, wire

from trailguard.local.server import LocalCloud

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _calls_restored() -> Iterator[None]:
    """The sample handler's calls are shared with the router's tests, which read every event's ``id``:
    SNS's events have none, so they are taken out again."""
    before = list(sample.CALLS)
    yield
    sample.CALLS[:] = before


def _subscribed(cloud: LocalCloud, *, permitted: bool) -> tuple[str, Any]:
    w = wire(cloud, {"source": [unique("never.sent")]}, permission=False)
    sns = cloud.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=w.function_arn)
    if permitted:
        cloud.client("lambda").add_permission(
            FunctionName=w.function_name,
            StatementId="sns",
            Action="lambda:InvokeFunction",
            Principal="sns.amazonaws.com",
            SourceArn=topic,
        )
    return topic, w


def test_a_publish_invokes_the_subscribed_function_with_snss_event(cloud: LocalCloud) -> None:
    topic, w = _subscribed(cloud, permitted=True)
    cloud.client("sns").publish(TopicArn=topic, Message=json.dumps({"k": "v"}), Subject="hello")
    assert cloud.wait_idle(10)
    [inv] = invocations_of(cloud, w.function_name)
    assert inv.invoked and inv.error is None, inv
    [call] = [c for c in sample.CALLS if c["function"] == w.function_name]
    [record] = call["event"]["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["TopicArn"] == topic and record["Sns"]["Subject"] == "hello"
    assert json.loads(record["Sns"]["Message"]) == {"k": "v"}


def test_without_the_topics_permission_the_function_is_not_invoked(cloud: LocalCloud) -> None:
    topic, w = _subscribed(cloud, permitted=False)
    cloud.client("sns").publish(TopicArn=topic, Message="m")
    assert cloud.wait_idle(10)
    [inv] = invocations_of(cloud, w.function_name)
    assert not inv.invoked and "sns.amazonaws.com" in str(inv.reason)
    assert [c for c in sample.CALLS if c["function"] == w.function_name] == []
