"""The event router: delivers each event to the targets of the EventBridge rules that exist in moto.

Rules, patterns, state and targets are read from moto's events backend at delivery time, so the rules
the deployed template created are the ones that fire, with their real patterns (moto's
``EventPattern``), and a disabled rule delivers nothing (plain moto delivers regardless). Delivery runs
on a worker pool so the caller that caused the event (an attacker's HTTP request) never waits for it.
moto's own ``PutEvents`` delivery is routed here too (it cannot reach Lambda or SNS targets).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from trailguard.local.org import Organization, policy_allows
from trailguard.local.outbox import Outbox
from trailguard.local.recorder import Call
from trailguard.local.runner import LambdaRunner

log = logging.getLogger(__name__)
SNS_PRINCIPAL = "sns.amazonaws.com"

ENABLED_STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


class Activity:
    """Counts work in flight (deliveries, pending findings) so callers can wait until the cloud is idle."""

    def __init__(self) -> None:
        self._busy = 0
        self._cond = threading.Condition()

    def begin(self) -> None:
        with self._cond:
            self._busy += 1

    def end(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    @property
    def busy(self) -> int:
        return self._busy

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is in flight; False if ``timeout`` seconds pass first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout=timeout)


@dataclass
class Delivery:
    """One event matched by one rule, delivered to one target."""

    rule_name: str
    rule_arn: str
    target_id: str
    target_arn: str
    event_id: str | None
    detail_type: str | None
    time: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_name,
            "rule_arn": self.rule_arn,
            "target_id": self.target_id,
            "target_arn": self.target_arn,
            "event_id": self.event_id,
            "detail_type": self.detail_type,
            "time": self.time,
        }


def rules_for(account: str, region: str, bus: str = "default") -> list[Any]:
    """The rules on an event bus in moto, as they are now."""
    from moto.events.models import events_backends

    backend = events_backends[account][region]
    event_bus = backend.event_buses.get(bus)
    return list(event_bus.rules.values()) if event_bus is not None else []


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, value in b.items():
            merged[key] = _merge(merged[key], value) if key in merged else value
        return merged
    return (a if isinstance(a, list) else [a]) + (b if isinstance(b, list) else [b])


def flatten_arrays(node: Any) -> Any:
    """Arrays of objects as EventBridge matches them: ``findings[].Types`` is every element's ``Types``.

    moto's matcher does not descend into arrays of objects (so a Security Hub pattern on
    ``detail.findings.Types`` never matches there); EventBridge does, without element correlation.
    """
    if isinstance(node, dict):
        return {key: flatten_arrays(value) for key, value in node.items()}
    if isinstance(node, list):
        items = [flatten_arrays(item) for item in node]
        if items and all(isinstance(item, dict) for item in items):
            merged: Any = items[0]
            for item in items[1:]:
                merged = _merge(merged, item)
            return merged
        return items
    return node


def rule_matches(rule: Any, event: Mapping[str, Any]) -> bool:
    """An enabled rule with an event pattern that matches the event (schedule rules match nothing)."""
    if rule.state not in ENABLED_STATES or not rule.event_pattern.get_pattern():
        return False
    return bool(rule.event_pattern.matches_event(flatten_arrays(dict(event))))


def target_input(target: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    """What a target receives: the event, or what ``Input`` / ``InputPath`` / ``InputTransformer`` make."""
    if target.get("Input"):
        return json.loads(target["Input"])
    path = target.get("InputPath")
    if path:
        node: Any = event
        for part in [p for p in str(path).lstrip("$").split(".") if p]:
            node = node.get(part) if isinstance(node, Mapping) else None
        return node
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        source: Any = dict(event)
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=source,
        )
    return dict(event)


class Router:
    """Matches events against moto's rules and delivers to Lambda (the runner), SNS (the outbox) and SQS."""

    def __init__(
        self,
        runner: LambdaRunner,
        outbox: Outbox | None = None,
        workers: int = 8,
        activity: Activity | None = None,
        limit: int = 2000,
        *,
        organization: Callable[[], Organization | None] | None = None,
        event_delay: float = 0.0,
    ) -> None:
        self.runner = runner
        self.event_delay = event_delay
        """Seconds CloudTrail takes to deliver a recorded call to EventBridge (:meth:`from_cloudtrail`)."""
        self.organization = organization or (lambda: None)
        self.outbox = outbox
        self.activity = activity or Activity()
        self.deliveries: deque[Delivery] = deque(maxlen=limit)
        self.listeners: list[Callable[[Delivery], None]] = []
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trailguard-router")
        self._closed = False
        self._pending: Counter[str] = Counter()
        """Per event id: its routing and its deliveries not yet finished."""
        self._pending_cond = threading.Condition()
        self._arrivals: deque[tuple[float, dict[str, Any]]] = deque()
        self._arrivals_cond = threading.Condition()
        self._arrivals_thread: threading.Thread | None = None

    def from_cloudtrail(self, event: Mapping[str, Any]) -> None:
        """A recorded call's event, as CloudTrail delivers it to EventBridge: at once, or with
        :attr:`event_delay`, that many seconds later, in the order the calls were made. It is matched
        against the rules as they are when it arrives (:meth:`route`), as on AWS, where the delivery is
        best effort and takes seconds to minutes: rules disabled in the meantime receive nothing."""
        if self.event_delay <= 0:
            self.submit(event)
            return
        with self._arrivals_cond:
            if self._closed:
                return
            self.activity.begin()
            self._arrivals.append((time.monotonic() + self.event_delay, dict(event)))
            if self._arrivals_thread is None:
                self._arrivals_thread = threading.Thread(
                    target=self._arrive, name="trailguard-cloudtrail-delivery", daemon=True
                )
                self._arrivals_thread.start()
            self._arrivals_cond.notify_all()

    def _arrive(self) -> None:
        """Route each delayed event when it is due. The log says which rules it reached (none: every
        rule it would have matched was disabled or deleted when it arrived), once its deliveries have
        finished (the functions they invoked returned), so a reader of the log knows it is settled."""
        while True:
            with self._arrivals_cond:
                while not self._closed and (not self._arrivals or self._arrivals[0][0] > time.monotonic()):
                    wait = self._arrivals[0][0] - time.monotonic() if self._arrivals else None
                    self._arrivals_cond.wait(wait)
                if self._closed:
                    return
                _, event = self._arrivals.popleft()
            try:
                deliveries = self.route(event)
                if deliveries:
                    threading.Thread(target=self._log_arrival, args=(event, deliveries), daemon=True).start()
                else:
                    self._log_arrival(event, [])
            except Exception:
                log.exception("delayed event %s could not be routed", event.get("id"))
            finally:
                self.activity.end()

    def _log_arrival(self, event: Mapping[str, Any], deliveries: list[Delivery]) -> None:
        if deliveries:
            self.delivered(str(event.get("id", "")), 300)
        log.info(
            "CloudTrail event %s (%s, account %s) reached EventBridge after %.1fs: rules %s",
            event.get("id"),
            (event.get("detail") or {}).get("eventName"),
            event.get("account"),
            self.event_delay,
            ", ".join(sorted({d.rule_name for d in deliveries})) or "none",
        )

    def submit(self, event: Mapping[str, Any]) -> None:
        """Route an event in the background."""
        self._spawn(str(event.get("id", "")), self.route, dict(event))

    def delivered(self, event_id: str, timeout: float) -> bool:
        """Wait until the event ``event_id`` has been routed and every delivery of it has finished
        (the invoked functions returned); False if ``timeout`` seconds pass first."""
        with self._pending_cond:
            return self._pending_cond.wait_for(lambda: not self._pending[event_id], timeout=timeout)

    def _spawn(self, event_id: str, fn: Callable[..., Any], *args: Any) -> None:
        if self._closed:
            return
        self.activity.begin()
        with self._pending_cond:
            self._pending[event_id] += 1
        try:
            future: Future[Any] = self._pool.submit(fn, *args)
        except RuntimeError:  # the pool is shutting down
            self._settle(event_id)
            return
        future.add_done_callback(lambda f: self._done(event_id, f))

    def _settle(self, event_id: str) -> None:
        with self._pending_cond:
            self._pending[event_id] -= 1
            if self._pending[event_id] <= 0:
                del self._pending[event_id]
            self._pending_cond.notify_all()
        self.activity.end()

    def _done(self, event_id: str, future: Future[Any]) -> None:
        try:
            exc = future.exception()
            if exc is not None:
                log.error("delivery failed: %s", exc, exc_info=exc)
        except Exception:  # cancelled
            pass
        finally:
            self._settle(event_id)

    def route(
        self, event: Mapping[str, Any], bus_arn: str | None = None, forwarded: bool = False
    ) -> list[Delivery]:
        """Deliver to every target of every matching rule; each target is its own background task.

        Every rule is matched before any delivery starts, as EventBridge matches an event against the
        rules as they are when it arrives: a delivery that re-enables a rule must not make that rule
        receive the very event that disabled it. An event goes to the default bus of the account in its
        ``account`` field (where CloudTrail recorded the call), or, ``forwarded`` from another account's
        rule, to the bus ``bus_arn`` names (its ``account`` stays the sender's, as on AWS).
        """
        account = str(event.get("account", ""))
        region = str(event.get("region", ""))
        bus = "default"
        if bus_arn:
            parts = bus_arn.split(":")
            region, account, bus = parts[3], parts[4], parts[5].split("/", 1)[1]
        matched = []
        for rule in rules_for(account, region) if bus == "default" else rules_for(account, region, bus):
            try:
                if rule_matches(rule, event):
                    matched.append(rule)
            except Exception:
                log.exception("rule %s: pattern could not be evaluated", rule.name)
        deliveries = []
        for rule in matched:
            deliveries.extend(self.deliver_to_rule(rule, event, forwarded=forwarded))
        return deliveries

    def deliver_to_rule(self, rule: Any, event: Mapping[str, Any], forwarded: bool = False) -> list[Delivery]:
        """Hand the event to each target of a rule that matched it."""
        deliveries = []
        for target in list(rule.targets):
            delivery = Delivery(
                rule.name, rule.arn, target["Id"], target["Arn"], event.get("id"), event.get("detail-type")
            )
            self.deliveries.append(delivery)
            for listener in self.listeners:
                listener(delivery)
            deliveries.append(delivery)
            self._spawn(
                str(event.get("id", "")), self._deliver, rule.arn, dict(target), dict(event), forwarded
            )
        return deliveries

    def _deliver(
        self, rule_arn: str, target: Mapping[str, Any], event: Mapping[str, Any], forwarded: bool = False
    ) -> None:
        arn = str(target["Arn"])
        payload = target_input(target, event)
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        if service == "events" and ":event-bus/" in arn:
            self._forward(rule_arn, target, event, forwarded)
        elif service == "lambda":
            self.runner.invoke(arn, payload, rule_arn)
        elif service == "sns":
            self._publish(arn, payload)
        elif service == "sqs":
            from moto.sqs.models import sqs_backends

            parts = arn.split(":")
            sqs_backends[parts[4]][parts[3]].send_message(queue_name=parts[5], message_body=_text(payload))
        else:
            log.warning("target type of %s is not delivered by the local cloud", arn)

    def _forward(
        self, rule_arn: str, target: Mapping[str, Any], event: Mapping[str, Any], forwarded: bool
    ) -> None:
        """A rule's event-bus target: the event, unchanged, on that bus (moto drops the sender's
        ``account`` and ``region`` and cannot deliver what arrives to Lambda or SNS).

        As on AWS: an event that arrived from another bus is not forwarded again; another account's bus
        takes it only if its policy allows ``events:PutEvents`` to the sender's account, and a grant to
        the organization (``aws:PrincipalOrgID``) also needs the target's ``RoleArn``.
        """
        bus_arn = str(target["Arn"])
        sender = rule_arn.split(":")[4]
        if forwarded:
            log.info("%s: not forwarding an event that came from another bus to %s", rule_arn, bus_arn)
            return
        receiver = bus_arn.split(":")[4]
        if receiver != sender and not self._bus_accepts(bus_arn, sender, bool(target.get("RoleArn"))):
            log.warning("%s: bus %s does not accept events from account %s", rule_arn, bus_arn, sender)
            return
        self.route(event, bus_arn=bus_arn, forwarded=True)

    def _bus_accepts(self, bus_arn: str, sender: str, has_role: bool) -> bool:
        from moto.events.models import events_backends

        parts = bus_arn.split(":")
        bus = events_backends[parts[4]][parts[3]].event_buses.get(parts[5].split("/", 1)[1])
        if bus is None:
            return False
        org = self.organization()
        if policy_allows(bus.policy, "events:PutEvents", sender):
            return True
        org_id = org.id if org is not None and org.contains(sender) else ""
        return (
            bool(org_id) and has_role and policy_allows(bus.policy, "events:PutEvents", sender, org_id=org_id)
        )

    def _publish(self, topic_arn: str, payload: Any) -> None:
        from moto.sns.models import sns_backends

        parts = topic_arn.split(":")
        message = _text(payload)
        message_id = sns_backends[parts[4]][parts[3]].publish(message, arn=topic_arn)
        if self.outbox is not None:
            self.outbox.deliver(topic_arn, message, message_id=message_id)
        self.to_lambda_subscribers(topic_arn, message)

    def on_call(self, call: Call) -> None:
        """A successful SNS ``Publish``: delivered to the topic's Lambda subscriptions (moto hands them to
        a container runtime the local cloud does not have), each in the background, as SNS invokes them
        asynchronously; the function's permission must let ``sns.amazonaws.com`` invoke it from the topic."""
        op = call.operation
        if op is None or op.service != "sns" or op.name != "Publish" or not call.succeeded:
            return
        params = op.request_parameters
        topic_arn = str(params.get("topicArn") or params.get("targetArn") or "")
        if topic_arn:
            message = str(params.get("message", ""))
            self.to_lambda_subscribers(
                topic_arn, message, params.get("subject"), params.get("messageStructure")
            )

    def to_lambda_subscribers(
        self, topic_arn: str, message: str, subject: str | None = None, structure: str | None = None
    ) -> None:
        """Invoke every Lambda subscribed to the topic with SNS's event (one record)."""
        from moto.sns.models import sns_backends

        parts = topic_arn.split(":")
        if len(parts) < 6:
            return
        backend = sns_backends[parts[4]][parts[3]]
        topic = backend.topics.get(topic_arn)
        if topic is None:
            return
        subs = [
            s for s in list(backend.subscriptions.values()) if s.topic is topic and s.protocol == "lambda"
        ]
        if not subs:
            return
        if structure == "json":
            try:
                members = json.loads(message)
                message = str(members.get("lambda", members.get("default", message)))
            except (ValueError, AttributeError):
                pass
        message_id = str(uuid.uuid4())
        for sub in subs:
            event = {
                "Records": [
                    {
                        "EventSource": "aws:sns",
                        "EventVersion": "1.0",
                        "EventSubscriptionArn": sub.arn,
                        "Sns": {
                            "Type": "Notification",
                            "MessageId": message_id,
                            "TopicArn": topic_arn,
                            "Subject": subject,
                            "Message": message,
                            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                            "MessageAttributes": {},
                        },
                    }
                ]
            }
            self._spawn(message_id, self.runner.invoke, str(sub.endpoint), event, topic_arn, SNS_PRINCIPAL)

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking work, give running deliveries ``timeout`` seconds, drop queued ones."""
        with self._arrivals_cond:
            self._closed = True
            dropped = len(self._arrivals)
            self._arrivals.clear()
            self._arrivals_cond.notify_all()
        for _ in range(dropped):
            self.activity.end()
        if self._arrivals_thread is not None:
            self._arrivals_thread.join(timeout)
        self.activity.wait_idle(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _text(payload: Any) -> str:
    return payload if isinstance(payload, str) else json.dumps(payload)
