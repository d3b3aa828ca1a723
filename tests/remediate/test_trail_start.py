"""The StopLogging repair says REPAIRED when trailguard's StartLogging restarted the trail and ALREADY
RESTORED only when the trail was provably logging again before it, with no status read before the start
(StartLogging and GetTrailStatus: the verification's times decide).

moto moves ``StartLoggingTime`` on every StartLogging, even on a logging trail; AWS does not document
what it does there. Both readings are run: moto as it is, and moto patched (``noop_start``) so that
StartLogging on a logging trail changes nothing, which is the reading under which "already logging"
can be proven at all. The trail's recorded times are moved back (``_backdate``) to stand for seconds
passing, since moto's clock is the real one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from moto.cloudtrail import models as cloudtrail_models

from aws_support import ACCOUNT
from trailguard import handlers, remediate
from trailguard.policy import Verdict
from trailguard.remediate import Context, Outcome
from trailguard.remediate import trail as trail_actions
from worlds import REGION
from worlds import ConfiguredTrail as World

pytestmark = pytest.mark.integration

STOP = "cloudtrail_stoplogging_stratus.json"


@pytest.fixture
def aws_region() -> str:
    return REGION


@pytest.fixture
def noop_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """StartLogging on a trail that is logging changes nothing (not even StartLoggingTime)."""
    real = cloudtrail_models.TrailStatus.start_logging

    def start(status: Any) -> None:
        if not status.is_logging:
            real(status)

    monkeypatch.setattr(cloudtrail_models.TrailStatus, "start_logging", start)


def _status(world: World) -> Any:
    backend = cloudtrail_models.cloudtrail_backends[ACCOUNT][REGION]
    return backend.get_trail(world.TRAIL).status


def _backdate(world: World, seconds: float) -> None:
    """The trail's last start and stop happened ``seconds`` earlier than moto recorded."""
    status = _status(world)
    for name in ("started", "stopped"):
        if getattr(status, name) is not None:
            setattr(status, name, getattr(status, name) - timedelta(seconds=seconds))


def _event(world: World, n: int, at: str | None = None) -> dict[str, Any]:
    event = World.api_call_envelope(STOP, {"name": world.trail_arn})
    event = copy.deepcopy(event)
    event["detail"]["eventID"] = f"6f1b2a8e-0000-4000-8000-{n:012d}"
    if at is not None:
        event["detail"]["eventTime"] = at
    return event


def _stopped_at(world: World) -> str:
    stopped = _status(world).stopped
    assert stopped is not None
    return str(stopped.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _incident(result: dict[str, Any]) -> dict[str, Any]:
    (incident,) = result["incidents"]
    return incident


@pytest.fixture
def outcomes(monkeypatch: pytest.MonkeyPatch) -> list[Outcome]:
    """Every action outcome the handler produces, in order."""
    kept: list[Outcome] = []
    real = remediate.remediate

    def recording(ctx: Context, verdict: Verdict) -> Outcome:
        outcome = real(ctx, verdict)
        kept.append(outcome)
        return outcome

    monkeypatch.setattr(remediate, "remediate", recording)
    return kept


def _operations(outcomes: list[Outcome]) -> list[str]:
    return [c.operation for c in outcomes[-1].calls]


def test_a_stopped_trail_is_restarted_and_says_repaired_in_two_calls(
    world: World, outcomes: list[Outcome]
) -> None:
    world.cloudtrail.stop_logging(Name=world.trail_arn)

    incident = _incident(world.invoke(handlers.api_call, _event(world, 1, _stopped_at(world))))

    assert incident["status"] == "remediated", incident
    assert _operations(outcomes) == ["StartLogging", "GetTrailStatus"]
    assert world.is_logging()


def test_under_the_noop_reading_a_stopped_trail_still_says_repaired(world: World, noop_start: None) -> None:
    world.cloudtrail.stop_logging(Name=world.trail_arn)
    _backdate(world, 30)  # stopped long ago: the start below is trailguard's, whatever the clocks say

    incident = _incident(world.invoke(handlers.api_call, _event(world, 1, _stopped_at(world))))

    assert incident["status"] == "remediated", incident
    assert world.is_logging()


@pytest.mark.parametrize("reading", ["moto", "noop"])
def test_a_repeat_on_a_running_trail(
    world: World, request: pytest.FixtureRequest, reading: str, outcomes: list[Outcome]
) -> None:
    """The same StopLogging delivered again after the trail was restarted: ALREADY RESTORED when the
    trail's times prove it was logging before trailguard's start (noop reading), else REPAIRED, since
    moto's StartLogging may be what started it."""
    if reading == "noop":
        request.getfixturevalue("noop_start")
    world.cloudtrail.stop_logging(Name=world.trail_arn)
    at = _stopped_at(world)
    first = _incident(world.invoke(handlers.api_call, _event(world, 1, at)))
    assert first["status"] == "remediated"
    _backdate(world, 20)  # the retry comes 20 s later
    at = _stopped_at(world)

    again = _incident(world.invoke(handlers.api_call, _event(world, 2, at)))

    assert _operations(outcomes) == ["StartLogging", "GetTrailStatus"]
    assert again["status"] == ("already-restored" if reading == "noop" else "remediated"), again
    assert world.is_logging()


def test_a_start_within_the_skew_of_trailguards_own_reads_as_a_restart(
    world: World, noop_start: None
) -> None:
    """Someone started the trail a moment before trailguard did: too close to tell, so REPAIRED."""
    world.cloudtrail.stop_logging(Name=world.trail_arn)
    at = _stopped_at(world)
    world.cloudtrail.start_logging(Name=world.trail_arn)

    incident = _incident(world.invoke(handlers.api_call, _event(world, 1, at)))

    assert incident["status"] == "remediated", incident


def test_clocks_that_disagree_never_say_nothing_changed(world: World, noop_start: None) -> None:
    """The trail's last stop is long before the event's own stop: CloudTrail's clock and the event's do
    not agree, so the times prove nothing and the repair says REPAIRED."""
    world.cloudtrail.stop_logging(Name=world.trail_arn)
    world.cloudtrail.start_logging(Name=world.trail_arn)
    _backdate(world, 3600)

    incident = _incident(world.invoke(handlers.api_call, _event(world, 1, _iso_now())))

    assert incident["status"] == "remediated", incident


def _iso_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def stop_after_first_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The attacker stops the trail again right after trailguard's first StartLogging returns."""
    real = cloudtrail_models.CloudTrailBackend.start_logging
    seen: list[str] = []

    def start(backend: Any, name: str) -> None:
        real(backend, name)
        seen.append(name)
        if len(seen) == 1:
            backend.stop_logging(name)

    monkeypatch.setattr(cloudtrail_models.CloudTrailBackend, "start_logging", start)
    yield seen


def test_a_stop_after_trailguards_start_is_started_again(
    world: World, stop_after_first_start: list[str], outcomes: list[Outcome]
) -> None:
    world.cloudtrail.stop_logging(Name=world.trail_arn)

    incident = _incident(world.invoke(handlers.api_call, _event(world, 1, _stopped_at(world))))

    assert len(stop_after_first_start) == 2
    assert "stopped again after trailguard's start" in outcomes[-1].summary
    assert _operations(outcomes) == ["StartLogging", "GetTrailStatus", "StartLogging", "GetTrailStatus"]
    assert incident["status"] == "remediated", incident
    assert world.is_logging()


def test_logging_before_reads_the_times() -> None:
    """The rule itself, on GetTrailStatus answers as epoch seconds."""
    start = trail_actions._Start(local=1000.0, server=1000.0)
    logging = {"IsLogging": True, "StopLoggingTime": 990.0, "StartLoggingTime": 995.0}
    assert trail_actions.logging_before(logging, start, stopped_at=990.0)
    assert not trail_actions.logging_before({**logging, "StartLoggingTime": 999.0}, start, 990.0)  # too close
    assert not trail_actions.logging_before({**logging, "StartLoggingTime": 1000.0}, start, 990.0)  # ours
    assert not trail_actions.logging_before({**logging, "IsLogging": False}, start, 990.0)
    assert not trail_actions.logging_before(logging, start, stopped_at=None)  # no event time: cannot tell
    assert not trail_actions.logging_before(
        logging, start, stopped_at=997.0
    )  # the stop is older than the event
    assert not trail_actions.logging_before({"IsLogging": True, "StartLoggingTime": 995.0}, start, 990.0)
    skewed = trail_actions._Start(local=1000.0, server=996.0)  # the service's clock is the earlier one
    assert not trail_actions.logging_before(logging, skewed, stopped_at=990.0)
    assert trail_actions.event_epoch("1970-01-01T00:16:30Z") == 990.0
    assert trail_actions.event_epoch("not a time") is None
