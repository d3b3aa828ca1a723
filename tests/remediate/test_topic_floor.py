"""The topic floor (issue 9, Deliver: "trailguard subscribes only the endpoints the stack was deployed
with"). The attacker the MAC does not stop (one allowed ``kms:GenerateMac``: ``test_floors.forge``)
re-signs the topic's baseline with their own address in its subscriptions, then unsubscribes the
contact so trailguard subscribes the baseline's endpoints again: only the stack's
``SecurityContactEmail`` may be subscribed, and the refused address is named in an [ACTION REQUIRED]
message. Before the floor, the attacker's address
was subscribed from the baseline and would have read every later alert."""

from __future__ import annotations

from typing import Any

from worlds import Deployed

from .guard_support import aws_region, call, incident_of
from .test_floors import forge

__all__ = ["aws_region"]  # the deployed stack's region, a fixture

SPY = "spy@attacker.example"


def _add_spy(doc: dict[str, Any]) -> None:
    doc["Subscriptions"] = [*doc.get("Subscriptions", []), {"Protocol": "email", "Endpoint": SPY}]


def test_a_forged_subscriber_is_never_subscribed_and_the_contact_still_is(deployed: Deployed) -> None:
    sns, arn = deployed.client("sns"), deployed.outputs["TopicArn"]
    forge(deployed, "topic", arn, _add_spy)
    (email,) = [
        s for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] if s["Protocol"] == "email"
    ]
    sns.unsubscribe(SubscriptionArn=email["SubscriptionArn"])

    incident = incident_of(
        deployed.call(call("sns", "Unsubscribe", {"subscriptionArn": email["SubscriptionArn"]}))
    )

    endpoints = {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]}
    assert SPY not in endpoints, endpoints
    assert "security@example.com" in endpoints
    assert incident["status"] == "failed" and incident["action_required"], incident
    (message,) = deployed.messages()
    assert message["subject"].startswith("[ACTION REQUIRED]"), message["subject"]
    summary = message["doc"]["incident"]["remediation"]["summary"]
    assert "safety floor" in summary and SPY in summary, summary
    subscribed = [
        c["params"]["Endpoint"]
        for c in message["doc"]["incident"]["remediation"]["calls"]
        if c["operation"] == "Subscribe"
    ]
    assert subscribed == ["security@example.com"], subscribed
