"""trailguard's alert topic: re-create it under the same ARN, put attributes and subscribers back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trailguard import aws
from trailguard.config import Config
from trailguard.remediate import floors
from trailguard.remediate.base import (
    NO_BASELINE,
    Context,
    Gone,
    Outcome,
    RepairRequest,
    action,
    policy_json,
    read_baseline,
    squash,
    target,
)
from trailguard.resources.topic import KIND
from trailguard.resources.topic import name_of as topic_name

# Topic attributes SetTopicAttributes accepts; the rest (Owner, counts, Effective*) are read-only.
ATTRIBUTES = (
    "Policy",
    "DisplayName",
    "DeliveryPolicy",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
)


def _attribute(name: str, value: Any) -> Any:
    return (
        squash(policy_json(value)) if name in ("Policy", "DeliveryPolicy", "TracingConfig") else (value or "")
    )


def deployed_endpoints(config: Config, region: str) -> frozenset[tuple[str, str]] | None:
    """The subscriptions the stack itself makes, from its own parameters (DescribeStacks on the running
    function's stack, as for the allow-list and the code artifact): ``SecurityContactEmail`` by email,
    none when it publishes to an ``AlertTopicArn`` of its own. None when the stack cannot be read."""
    if not config.stack_name:
        return None
    try:
        (stack,) = aws.client("cloudformation", region).describe_stacks(StackName=config.stack_name)["Stacks"]
    except Exception:
        return None
    params = {
        str(p.get("ParameterKey")): str(p.get("ParameterValue") or "") for p in stack.get("Parameters") or []
    }
    email = params.get("SecurityContactEmail", "").strip().lower()
    return frozenset({("email", email)}) if email and not params.get("AlertTopicArn") else frozenset()


@action(
    "guard.restore_topic",
    permissions=(
        "sns:CreateTopic",
        "sns:Subscribe",
        "sns:SetTopicAttributes",
        "sns:GetTopicAttributes",
        "sns:ListSubscriptionsByTopic",
        "sns:Unsubscribe",
        "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes",
    ),
    restores=KIND,
)
def restore_topic(ctx: Context, request: RepairRequest) -> Outcome:
    """``guard.topic``: a deleted topic is created again with the same name (so the same ARN), its
    baseline attributes and subscriptions; a changed attribute or a removed subscription is put back.
    A subscriber the baseline does not list, added by the call being repaired, is unsubscribed; a filter
    policy the baseline does not record is removed from every subscription. An email subscription made
    again is pending until its owner confirms it, so the repair is never reported verified while it is
    (issue 9, items 13 and 17)."""
    ref = target(request, "topicArn", "TopicArn", "subscriptionArn", "SubscriptionArn")
    outcome = Outcome("guard.restore_topic", ref)
    if not ref:
        outcome.summary = "could not tell which SNS topic was changed, so nothing was restored"
        outcome.errors.append("the event does not name the topic")
        return outcome
    arn = ref if ref.count(":") == 5 else ref.rsplit(":", 1)[0]  # a subscription ARN names its topic
    outcome.resource = arn
    region = aws.region_of_arn(arn) or ctx.region
    baseline = read_baseline(ctx, outcome, "topic", arn)
    done: list[str] = []
    off: list[str] = []
    notes: list[str] = []
    try:

        def attributes() -> dict[str, Any] | None:
            try:
                answer = outcome.call("sns", region, "GetTopicAttributes", gone=KIND, TopicArn=arn)
            except Gone:
                outcome.calls[-1].error, outcome.calls[-1].result = None, "topic does not exist"
                return None
            return dict(answer.get("Attributes") or {})

        live = attributes()
        if live is None:
            created = outcome.call("sns", region, "CreateTopic", Name=topic_name(arn))["TopicArn"]
            if created != arn:
                off.append(f"CreateTopic returned {created}, not {arn}")
            done.append(f"re-created topic {topic_name(arn)} (same ARN)")
            live = attributes() or {}
        recorded = dict((baseline or {}).get("Attributes") or {})
        wrong = [
            a
            for a in ATTRIBUTES
            if a in recorded and _attribute(a, recorded[a]) != _attribute(a, live.get(a))
        ]
        for name in wrong:
            outcome.call(
                "sns",
                region,
                "SetTopicAttributes",
                TopicArn=arn,
                AttributeName=name,
                AttributeValue=recorded[name],
            )
        if wrong:
            done.append(f"restored the {', '.join(wrong)} of topic {topic_name(arn)}")

        listed: dict[tuple[str, str], str] = {}

        def subscriptions() -> set[tuple[str, str]]:
            found = outcome.pages("sns", region, "ListSubscriptionsByTopic", "Subscriptions", TopicArn=arn)
            listed.clear()
            for s in found:
                if s.get("SubscriptionArn") != "Deleted":
                    listed[(str(s.get("Protocol")), str(s.get("Endpoint")))] = str(s.get("SubscriptionArn"))
            outcome.calls[-1].result = f"{len(listed)} subscription(s)"
            return set(listed)

        wanted = {
            (str(s.get("Protocol")), str(s.get("Endpoint")))
            for s in (baseline or {}).get("Subscriptions") or []
            if isinstance(s, Mapping) and s.get("Protocol") and s.get("Endpoint")
        }
        have = subscriptions()
        record = request.record
        event = record.event_name if record is not None else None
        params = record.request_parameters if record is not None else {}
        if baseline is not None and event == "Subscribe":
            added = (str(params.get("protocol") or ""), str(params.get("endpoint") or ""))
            if added not in wanted and added in listed and listed[added].startswith(arn + ":"):
                outcome.call("sns", region, "Unsubscribe", SubscriptionArn=listed[added])
                done.append(
                    f"unsubscribed {added[1]}, which the baseline of topic {topic_name(arn)} does not list"
                )
            elif added not in wanted and added in listed:
                off.append(
                    f"{added[1]} was subscribed to topic {topic_name(arn)} and is not in its baseline; it is "
                    "pending confirmation, so it cannot be unsubscribed yet: delete it in the SNS console"
                )
        filters = {
            (str(s.get("Protocol")), str(s.get("Endpoint"))): s.get("FilterPolicy") or None
            for s in (baseline or {}).get("Subscriptions") or []
            if isinstance(s, Mapping)
        }
        if baseline is not None:
            for key, sub_arn in sorted(listed.items()):
                if key not in wanted or not sub_arn.startswith(arn + ":"):
                    continue
                got = outcome.call("sns", region, "GetSubscriptionAttributes", SubscriptionArn=sub_arn)
                policy = (got.get("Attributes") or {}).get("FilterPolicy") or None
                if policy and not filters.get(key):
                    outcome.call(
                        "sns",
                        region,
                        "SetSubscriptionAttributes",
                        SubscriptionArn=sub_arn,
                        AttributeName="FilterPolicy",
                        AttributeValue="{}",
                    )
                    done.append(f"removed the filter policy {policy} that muted alerts to {key[1]}")
        missing = sorted(wanted - have)
        refused: set[tuple[str, str]] = set()
        if missing:
            deployed = deployed_endpoints(ctx.config, region)
            for protocol, endpoint in missing:
                try:
                    floors.check_subscription(f"topic {topic_name(arn)}", protocol, endpoint, deployed)
                except floors.FloorRefused as floor:
                    refused.add((protocol, endpoint))
                    outcome.errors.append(str(floor))
                    off.append(floor.describe())
            missing = [m for m in missing if m not in refused]
        for protocol, endpoint in missing:
            outcome.call("sns", region, "Subscribe", TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
        if missing:
            done.append(f"subscribed {', '.join(e for _, e in missing)} to topic {topic_name(arn)} again")
        subscriptions()
        pending = sorted(
            e for (p, e), sub_arn in listed.items() if (p, e) in wanted and not sub_arn.startswith(arn + ":")
        )
        pending += sorted(e for p, e in missing if p in ("email", "email-json") and e not in pending)
        if pending:
            off.append(
                f"the subscription of {', '.join(pending)} to topic {topic_name(arn)} is pending "
                "confirmation: the recipient has to click the link AWS sends; until then alerts do not "
                "reach that address"
            )
        if baseline is None:
            if not have and not missing:
                off.append(f"topic {topic_name(arn)} has no subscriber and no baseline says whom to add")
        else:
            after = attributes() or {}
            if any(_attribute(a, recorded[a]) != _attribute(a, after.get(a)) for a in wrong):
                off.append(f"GetTopicAttributes on topic {topic_name(arn)} still differs from the baseline")
            if missing and not wanted - refused <= subscriptions():
                off.append(f"ListSubscriptionsByTopic on topic {topic_name(arn)} still lacks a subscriber")
    except Exception as exc:
        error = outcome.last_error(exc)
        outcome.errors.append(error)
        off.append(
            f"a call on topic {topic_name(arn)} failed: {error}; alerts may not be delivered, so this "
            "incident is recorded in Security Hub (when enabled) and in the function's logs"
        )
    what = "GetTopicAttributes and ListSubscriptionsByTopic match the baseline"
    if baseline is None:
        what = f"the topic exists ({NO_BASELINE} to restore its attributes and subscribers)"
    result = outcome.finish(f"topic {topic_name(arn)}", done, off, what)
    if notes:
        result.summary += "; " + "; ".join(notes)
    return result
