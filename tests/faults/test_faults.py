"""Fault injection (issue 9): 30% of trailguard's AWS calls answer throttling or a 5xx, injected with
botocore's event hooks on real (in-process moto) calls. Attacks on the configured trail are handled
with the faults on; then the resource is checked with calls trailguard does not make (no faults).

Two stages of injection, each a botocore event on every client ``trailguard.aws`` makes:

- ``before-send``: the fault is the HTTP answer (a ``ThrottlingException`` / ``Throttling`` /
  ``SlowDown`` body, or a 500 / 503), so botocore's standard retries meet it as they would AWS's
  (their back-off sleep is skipped: the test would wait, nothing else changes);
- ``before-call``: the fault skips the request and the retries, so every injected fault reaches
  trailguard's own code (the harsh case: most runs have a failed call).

Properties: an incident reported ``remediated`` and verified (the REPAIRED email) is restored for real;
a resource not restored is escalated (``action_required``, an ``[ACTION REQUIRED]`` email) or, if the
alert itself could not be published after Lambda's two retries, raised (NotificationError: the
function's error metric and on-failure destination); never REPAIRED. No repair is lost: the next
backstop sweep (without faults) restores whatever the event path could not.
"""

from __future__ import annotations

import copy
import os
import random
import time
import types
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse

from trailguard import aws, handlers
from trailguard.notify import NotificationError
from worlds import ConfiguredTrail as World
from worlds import Deployed

pytestmark = pytest.mark.integration

RATE = 0.3
# Attacks per scenario and stage; ``TRAILGUARD_FAULT_ROUNDS`` raises it for the figures in a report.
ROUNDS = int(os.environ.get("TRAILGUARD_FAULT_ROUNDS") or 4)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _error(protocol: str, throttle: bool) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an AWS throttling or server error, as ``protocol`` writes it."""
    if protocol == "rest-xml":  # S3
        code, status = ("SlowDown", 503) if throttle else ("InternalError", 500)
        return status, {}, f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
    if protocol == "query":  # SNS, STS, IAM
        code, status = ("Throttling", 400) if throttle else ("ServiceUnavailable", 503)
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message>"
            "</Error><RequestId>fault</RequestId></ErrorResponse>"
        )
        return status, {}, body.encode()
    code, status = ("ThrottlingException", 400) if throttle else ("InternalFailure", 500)
    headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.1"}
    return status, headers, f'{{"__type": "{code}", "message": "injected"}}'.encode()


@dataclass
class Faults:
    """Injects faults into a share ``rate`` of the calls made while :attr:`on`; counts what it did."""

    stage: str
    seed: int
    rate: float = RATE
    on: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    hooked: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def attach(self, client: Any) -> None:
        if id(client) in self.hooked:
            return
        self.hooked.add(id(client))
        protocol = client.meta.service_model.protocol
        if protocol not in ("json", "rest-json", "query", "rest-xml"):
            return  # no other protocol is used by the calls under test
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"{self.stage}.{service}", self._hook(protocol))

    def _hook(self, protocol: str) -> Callable[..., Any]:
        def hook(**kwargs: Any) -> Any:
            if not self.on:
                return None
            self.counts["calls"] += 1
            if self.random.random() >= self.rate:
                return None
            throttle = self.random.random() < 0.5
            self.counts["throttled" if throttle else "5xx"] += 1
            status, headers, body = _error(protocol, throttle)
            if self.stage == "before-send":
                return AWSResponse("https://fault.invalid/", status, headers, _Raw(body))
            code = "ThrottlingException" if throttle else "InternalFailure"
            parsed = {
                "Error": {"Code": code, "Message": "injected"},
                "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
            }
            return types.SimpleNamespace(status_code=status, headers=headers), parsed

        return hook


@pytest.fixture(params=["before-send", "before-call"])
def faults(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Faults:
    faults = Faults(stage=request.param, seed=20261201)
    real = aws._client

    def faulty(*args: Any) -> Any:
        client = real(*args)
        faults.attach(client)
        return client

    faulty.cache_clear = real.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(aws, "_client", faulty)
    # botocore's back-off between retries: the same retries, without the wait.
    monkeypatch.setattr(
        botocore.endpoint, "time", types.SimpleNamespace(sleep=lambda _s: None, time=time.time)
    )
    return faults


def _stop(world: World) -> None:
    world.cloudtrail.stop_logging(Name=world.trail_arn)


def _redirect(world: World) -> None:
    world.cloudtrail.update_trail(Name=world.trail_arn, S3BucketName=World.OTHER_BUCKET)


def _validation_off(world: World) -> None:
    world.cloudtrail.update_trail(Name=world.trail_arn, EnableLogFileValidation=False)


def _selectors(world: World) -> None:
    world.cloudtrail.put_event_selectors(
        TrailName=world.trail_arn, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False}]
    )


def _delete(world: World) -> None:
    world.cloudtrail.delete_trail(Name=World.TRAIL)  # by name: moto ignores a delete by ARN


def _restored(world: World) -> bool:
    trail = world.trail()
    if trail is None or not world.is_logging():
        return False
    return (
        trail["S3BucketName"] == World.BUCKET
        and trail["LogFileValidationEnabled"] is True
        and world.selectors()["EventSelectors"] == World.BASIC_SELECTORS
    )


SCENARIOS: dict[str, tuple[Callable[[World], None], str, dict[str, Any]]] = {
    "stop-logging": (_stop, "cloudtrail_stoplogging_stratus.json", {}),
    "redirect": (
        _redirect,
        "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json",
        {"s3BucketName": World.OTHER_BUCKET},
    ),
    "validation-off": (
        _validation_off,
        "cloudtrail_updatetrail_disable_logfilevalidation_elastic.json",
        {"enableLogFileValidation": False},
    ),
    "selectors": (
        _selectors,
        "cloudtrail_puteventselectors_no_mgmt_events_stratus.json",
        {"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}]},
    ),
    "delete": (_delete, "cloudtrail_deletetrail_stratus.json", {}),
}
TALLY: Counter[str] = Counter()


def _event(world: World, source: str, params: dict[str, Any], round_: int) -> dict[str, Any]:
    key = "trailName" if "puteventselectors" in source else "name"
    event = World.api_call_envelope(source, {key: world.trail_arn, **params})
    event_id = f"6f1b2a8e-0000-4000-8000-{round_:012d}"
    event["id"], event["detail"]["eventID"] = event_id, event_id
    return event


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_lost_repair_and_no_false_repaired_under_faults(
    world: World, faults: Faults, scenario: str
) -> None:
    attack, source, params = SCENARIOS[scenario]
    for round_ in range(ROUNDS):
        attack(world)
        world.messages()  # drop what earlier rounds left
        event = _event(world, source, params, round_)
        result: dict[str, Any] | None = None
        faults.on = True
        try:
            for _attempt in range(3):  # Lambda's asynchronous invocation: the first try and two retries
                try:
                    result = world.invoke(handlers.api_call, copy.deepcopy(event))
                    break
                except NotificationError:
                    TALLY["publish-raised"] += 1
        finally:
            faults.on = False
        TALLY["attacks"] += 1
        restored = _restored(world)
        incidents = result["incidents"] if result is not None else []
        claimed = False
        for incident in incidents:
            if incident["status"] == "remediated" and incident["verified"]:
                assert restored, (scenario, round_, incident)  # never REPAIRED when it is not
                claimed = True
        for message in world.messages():
            if message["_sns_subject"].startswith("[trailguard] REPAIRED"):
                assert restored, (scenario, round_, message["_sns_subject"])
                TALLY["REPAIRED emails"] += 1
        if restored:
            TALLY["repaired"] += 1
            # restored and said so (REPAIRED, verified), or restored while the alert escalated (a
            # verification read that failed: cautious, never a false REPAIRED)
            TALLY["repaired+verified" if claimed else "restored, escalated anyway"] += 1
        else:
            # every failure escalated: an [ACTION REQUIRED] incident, or the alert raised for Lambda (never
            # judged benign for want of a baseline: test_a_redirect_is_escalated_when_...)
            assert result is None or any(i["action_required"] for i in incidents), (scenario, round_)
            TALLY["escalated" if result is not None else "raised-after-retries"] += 1
            # no lost repair: the next backstop sweep, without faults, restores it
            world.invoke(handlers.finding, copy.deepcopy(Deployed.SCHEDULED))
            assert _restored(world), (scenario, round_, "not restored by the sweep")
            TALLY["restored-by-sweep"] += 1
    injected = faults.counts["throttled"] + faults.counts["5xx"]
    assert injected, (
        scenario,
        faults.stage,
        "no fault was injected: the hook is not on trailguard's clients",
    )
    TALLY[f"faults:{faults.stage}"] += injected
    TALLY[f"calls:{faults.stage}"] += faults.counts["calls"]
    print(f"\nfault tally after {scenario}/{faults.stage}: {dict(TALLY)}")


def test_a_redirect_is_escalated_when_the_state_table_cannot_be_read(world: World, faults: Faults) -> None:
    """Every DynamoDB Query fails (the rest answer): the redirect must still be treated as tampering
    (repaired, or escalated), not judged benign."""
    faults.rate = 1.0
    real_hook = faults._hook

    def only_inventory(protocol: str) -> Callable[..., Any]:
        hook = real_hook(protocol)

        def selective(**kwargs: Any) -> Any:
            name = kwargs.get("event_name", "")
            return hook(**kwargs) if name.endswith(".Query") else None

        return selective

    faults._hook = only_inventory  # type: ignore[method-assign]
    _redirect(world)
    event = _event(world, SCENARIOS["redirect"][1], SCENARIOS["redirect"][2], 99)
    faults.on = True
    try:
        result = world.invoke(handlers.api_call, event)
    finally:
        faults.on = False
    assert faults.counts["throttled"] + faults.counts["5xx"], "no Query was made, so none failed"
    assert result["incidents"], result
