"""Trail actions: get a stopped trail logging again, in its home region, and prove it.

Idempotent: the trail's status is read first, so a repeated event or the finding that follows the
API-call event finds the trail already logging and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from trailguard import aws
from trailguard.remediate import Context, Outcome, action

if TYPE_CHECKING:
    from trailguard.policy import Verdict

TrailState = Literal["restarted", "already-logging", "unverified", "failed"]

START_LOGGING_PERMISSIONS = frozenset({"cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"})


def _target(ctx: Context, ref: str, prefer_region: str | None) -> tuple[str, str, str]:
    """(label, Name parameter, home region) for the trail ``ref`` names.

    A trail found in the inventory is addressed by its real ARN in its home region (StartLogging on a
    multi-region trail must be called there). One not found is tried as named, so the refusal is
    reported rather than guessed away.
    """
    trail = ctx.live.find_trail(ref, prefer_region=prefer_region)
    if trail is not None:
        arn = str(trail.get("TrailARN") or trail.get("Name") or ref)
        return str(trail.get("Name") or ref), arn, ctx.live.home_region(trail)
    region = aws.region_of_arn(ref) if ref.startswith("arn:") else None
    return ref.rsplit("/", 1)[-1], ref, region or ctx.region


def _is_logging(outcome: Outcome, name: str, region: str) -> bool:
    status = outcome.call("cloudtrail", region, "GetTrailStatus", Name=name)
    logging_now = bool(status.get("IsLogging"))
    outcome.calls[-1].result = f"IsLogging {str(logging_now).lower()}"
    return logging_now


def ensure_logging(ctx: Context, outcome: Outcome, ref: str, prefer_region: str | None) -> TrailState:
    """Start the trail if it is not logging, then check until ``IsLogging`` is true (a few short tries)."""
    label, name, region = _target(ctx, ref, prefer_region)
    try:
        if _is_logging(outcome, name, region):
            return "already-logging"
    except Exception as exc:  # an unreadable status must not stop the repair: start it anyway
        outcome.errors.append(f"GetTrailStatus on {label} in {region}: {outcome.calls[-1].error or exc}")
    try:
        outcome.call("cloudtrail", region, "StartLogging", Name=name)
    except Exception:
        outcome.errors.append(f"StartLogging on {label} in {region}: {outcome.calls[-1].error}")
        return "failed"
    for attempt in range(max(1, ctx.verify_attempts)):
        if attempt:
            ctx.sleep(ctx.verify_delay)
        try:
            if _is_logging(outcome, name, region):
                return "restarted"
        except Exception:
            outcome.errors.append(f"GetTrailStatus on {label} in {region}: {outcome.calls[-1].error}")
    return "unverified"


def _conclude(outcome: Outcome, states: Mapping[str, TrailState]) -> Outcome:
    """Fold per-trail states into the outcome's status, verification and one summary sentence."""
    names = ", ".join(states)
    values = set(states.values())
    if values == {"already-logging"}:
        outcome.status, outcome.verified = "already-restored", True
        outcome.summary = f"trail {names} was already logging again when trailguard checked; nothing changed"
    elif values <= {"restarted", "already-logging"}:
        outcome.status, outcome.verified = "remediated", True
        started = ", ".join(n for n, s in states.items() if s == "restarted")
        outcome.summary = (
            f"restarted logging on trail {started} and verified that GetTrailStatus reports IsLogging true"
        )
    else:
        outcome.status = "failed"
        outcome.verified = False
        parts = []
        for name, state in states.items():
            if state == "failed":
                parts.append(f"could not restart trail {name}")
            elif state == "unverified":
                parts.append(f"started trail {name} but could not verify that it is logging")
            elif state == "restarted":
                parts.append(f"restarted trail {name}")
            else:
                parts.append(f"trail {name} was already logging")
        outcome.summary = "; ".join(parts)
    return outcome


@action("trail.start_logging", permissions=START_LOGGING_PERMISSIONS)
def start_logging(ctx: Context, verdict: Verdict) -> Outcome:
    """``trail.stop-logging``: StartLogging in the trail's home region, verified by GetTrailStatus."""
    record = verdict.record
    ref = verdict.resource
    if not ref and record is not None:
        value: Any = record.request_parameters.get("name")
        ref = value if isinstance(value, str) and value else None
    outcome = Outcome("trail.start_logging", ref)
    if not ref:
        outcome.errors.append("the event does not say which trail was stopped")
        outcome.summary = "could not tell which trail was stopped, so none was restarted"
        return outcome
    state = ensure_logging(ctx, outcome, ref, record.region if record is not None else None)
    return _conclude(outcome, {_target(ctx, ref, None)[0]: state})


@action("trail.reconcile", permissions=START_LOGGING_PERMISSIONS)
def reconcile(ctx: Context, verdict: Verdict) -> Outcome:
    """``finding.trail-disabled``: the named trail, or every protected trail when the finding names none,
    is started if it is not logging. Usually the API-call path got there first ("already restored").

    This slice reconciles logging only; comparing the rest of the trail with a baseline comes with the
    baseline store, and the message says so.
    """
    record = verdict.record
    ref = verdict.resource or (record.finding_trail if record is not None else None)
    outcome = Outcome("trail.reconcile", ref)
    prefer = record.region if record is not None else None
    if ref:
        refs = [ref]
    else:
        refs = [str(t.get("TrailARN") or t.get("Name")) for t in ctx.live.protected]
        if not refs:
            outcome.errors.append(ctx.live.error or f"no protected trail is visible from {ctx.region}")
            outcome.summary = "the finding names no trail and trailguard found no protected trail to check"
            return outcome
    states: dict[str, TrailState] = {}
    for one in refs:
        states[_target(ctx, one, prefer)[0]] = ensure_logging(ctx, outcome, one, prefer)
    return _conclude(outcome, states)
