"""Trail actions: get a stopped trail logging again, recreate a deleted one, undo a weakening update or
selector change, all back to the recorded baseline, in the trail's home region, and prove it.

Idempotent: the live state is read first and only what differs from the baseline is changed, so a
repeated event or the finding that follows the API-call event finds the trail restored and changes
nothing. Without a baseline nothing is guessed: the repair is escalated with the command that records
one (StartLogging needs no baseline and always runs).

In a member account (``OrgTrailRole`` ``member``) an organization trail, whose ARN carries the management
account, is never changed: :func:`route` answers every trail action for it by reading it (DescribeTrails
with shadow trails, GetTrailStatus by ARN) and reporting, the repair routed to the trail's owner.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from trailguard import aws
from trailguard.events import Record
from trailguard.remediate import floors
from trailguard.remediate.base import (
    NO_BASELINE,
    Context,
    Outcome,
    RepairRequest,
    action,
    request_param,
    router,
    squash,
    target,
)
from trailguard.remediate.floors import FloorRefused
from trailguard.resources.trail import KIND, arn_account, management_coverage, verify_only
from trailguard.resources.trail import PROPERTIES as TRAIL_PROPERTIES

TrailState = Literal["restarted", "already-logging", "unverified", "failed"]
UNREADABLE = "trailguard's state table could not be read"
UNVERIFIED = "the recorded baseline failed verification"


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


START_SKEW_SECONDS = 1.5
"""A start closer than this to trailguard's own StartLogging cannot be told from it: GetTrailStatus's
times and a response's ``Date`` header may carry whole seconds only (moto truncates both), and the
function's clock and CloudTrail's may differ a little."""


@dataclasses.dataclass
class _Start:
    """When trailguard's StartLogging was made: by the function's clock (before the call) and by the
    service's (its response's ``Date`` header, when it has one)."""

    local: float
    server: float | None = None

    @classmethod
    def made(cls, outcome: Outcome, region: str, name: str) -> _Start:
        local = time.time()
        response = outcome.call("cloudtrail", region, "StartLogging", Name=name)
        header = aws_date(response)
        return cls(local, header)

    @property
    def earliest(self) -> float:
        """The earliest moment the call can have been made, on either clock."""
        return self.local if self.server is None else min(self.local, self.server)


def aws_date(response: Any) -> float | None:
    """The ``Date`` header of a response (epoch seconds), None when it has none or it does not parse."""
    try:
        header = response["ResponseMetadata"]["HTTPHeaders"]["date"]
        return parsedate_to_datetime(str(header)).timestamp()
    except Exception:
        return None


def _epoch(value: Any) -> float | None:
    """A GetTrailStatus time (botocore's datetime, or epoch seconds) as epoch seconds; None otherwise."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def event_epoch(value: str | None) -> float | None:
    """A CloudTrail ``eventTime`` (``2024-05-01T12:00:00Z``) as epoch seconds; None when absent or odd."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def _status(outcome: Outcome, name: str, region: str) -> Mapping[str, Any]:
    status: Mapping[str, Any] = outcome.call("cloudtrail", region, "GetTrailStatus", Name=name)
    outcome.calls[-1].result = f"IsLogging {str(bool(status.get('IsLogging'))).lower()}"
    return status


def _is_logging(outcome: Outcome, name: str, region: str) -> bool:
    return bool(_status(outcome, name, region).get("IsLogging"))


def logging_before(status: Mapping[str, Any], start: _Start, stopped_at: float | None) -> bool:
    """Whether the verification's GetTrailStatus proves the trail was logging again before trailguard's
    StartLogging: then that call changed nothing (ALREADY RESTORED); otherwise it restarted the trail.

    What AWS documents: StartLoggingTime is "the most recent date and time when CloudTrail started
    recording API calls" and StopLoggingTime "the most recent date and time when CloudTrail stopped
    recording API calls" (GetTrailStatus, CloudTrail API reference); StartLogging "starts the recording
    of AWS API calls and log file delivery for a trail" and returns an empty body (StartLogging, same
    reference). Whether StartLogging on a trail that is logging moves StartLoggingTime is not documented;
    moto (``moto/cloudtrail/models.py``, ``TrailStatus.start_logging``) moves it on every call.

    So the proof is read only where both readings agree: the trail logs, its latest stop is the event's
    own stop or a later one (``stopped_at``, the event's time: so CloudTrail's clock and the event's
    agree), its latest start follows that stop, and that start is more than :data:`START_SKEW_SECONDS`
    before trailguard's call on both clocks. A StartLogging that moved StartLoggingTime (moto, or AWS if
    it does the same) always reads as a restart: where AWS is ambiguous trailguard says REPAIRED, since
    "nothing changed" must never be said of a call that may have started the trail.
    """
    started, last_stop = _epoch(status.get("StartLoggingTime")), _epoch(status.get("StopLoggingTime"))
    if not status.get("IsLogging") or started is None or last_stop is None or stopped_at is None:
        return False
    return (
        last_stop >= stopped_at - START_SKEW_SECONDS
        and started >= last_stop
        and started + START_SKEW_SECONDS <= start.earliest
    )


def stopped_again(status: Mapping[str, Any], start: _Start) -> bool:
    """The trail is not logging and its latest stop came after trailguard's StartLogging (someone stopped
    it again between the start and its verification): trailguard's start took, and is made once more."""
    last_stop = _epoch(status.get("StopLoggingTime"))
    return not status.get("IsLogging") and last_stop is not None and last_stop >= start.earliest - 1.0


def ensure_logging(
    ctx: Context,
    outcome: Outcome,
    ref: str,
    prefer_region: str | None,
    *,
    stopped: bool = False,
    stopped_at: float | None = None,
) -> TrailState:
    """Start the trail if it is not logging, then check until ``IsLogging`` is true (a few short tries).

    ``stopped``: a StopLogging call that succeeded (at ``stopped_at``, the event's time) says the trail
    was stopped, so it is started at once, with no status read first: the repair is StartLogging and its
    verification, two calls, and the verification's times tell whether that start changed anything
    (:func:`logging_before`). The verification is what "restarted" rests on. A trail found stopped again
    after trailguard's start is started again (within ``ctx.verify_attempts``)."""
    label, name, region = _target(ctx, ref, prefer_region)
    if not stopped:
        try:
            if _is_logging(outcome, name, region):
                return "already-logging"
        except Exception as exc:  # an unreadable status must not stop the repair: start it anyway
            outcome.errors.append(f"GetTrailStatus on {label} in {region}: {outcome.calls[-1].error or exc}")
    try:
        start = _Start.made(outcome, region, name)
    except Exception:
        outcome.errors.append(f"StartLogging on {label} in {region}: {outcome.calls[-1].error}")
        return "failed"
    restarts = 0
    for attempt in range(max(1, ctx.verify_attempts)):
        if attempt:
            ctx.sleep(ctx.verify_delay)
        try:
            status = _status(outcome, name, region)
        except Exception:
            outcome.errors.append(f"GetTrailStatus on {label} in {region}: {outcome.calls[-1].error}")
            continue
        if status.get("IsLogging"):
            if stopped and not restarts and logging_before(status, start, stopped_at):
                return "already-logging"
            return "restarted"
        if stopped_again(status, start) and attempt + 1 < max(1, ctx.verify_attempts):
            try:
                start = _Start.made(outcome, region, name)
            except Exception:
                outcome.errors.append(f"StartLogging on {label} in {region}: {outcome.calls[-1].error}")
                return "failed"
            restarts += 1
    return "unverified"


def _not_found(outcome: Outcome) -> bool:
    """The last call met no such trail there (or that region cannot be reached), rather than a refusal."""
    error = outcome.calls[-1].error if outcome.calls else None
    if not error:
        return False
    code = error.split(":", 1)[0]
    return code in KIND.gone_codes or code in (
        "KeyError",
        "InvalidHomeRegionException",
        "EndpointConnectionError",
    )


def _conclude(outcome: Outcome, states: Mapping[str, TrailState]) -> Outcome:
    """Fold per-trail states into the outcome's status, verification and one summary sentence."""
    names = ", ".join(states)
    values = set(states.values())
    if values == {"already-logging"}:
        outcome.unchanged(f"trail {names} was already logging again when trailguard checked; nothing changed")
    elif values <= {"restarted", "already-logging"}:
        started = ", ".join(n for n, s in states.items() if s == "restarted")
        outcome.repaired(
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


@action(
    "trail.start_logging",
    permissions=("cloudtrail:StartLogging", "cloudtrail:GetTrailStatus"),
    restores=KIND,
    manual_steps="Start the trail again: "
    "aws cloudtrail start-logging --name {resource} --region {region}, "
    "then check that aws cloudtrail get-trail-status shows IsLogging true.",
)
def start_logging(ctx: Context, request: RepairRequest) -> Outcome:
    """``trail.stop-logging``: StartLogging in the trail's home region, verified by GetTrailStatus."""
    record = request.record
    ref = target(request, "name")
    outcome = Outcome("trail.start_logging", ref)
    if not ref:
        outcome.errors.append("the event does not say which trail was stopped")
        outcome.summary = "could not tell which trail was stopped, so none was restarted"
        return outcome
    # From a StopLogging event that succeeded, the trail is known to have been stopped: start it at once.
    stopped = record is not None and record.kind == "cloudtrail" and not record.error_code
    prefer = record.region if record is not None else None
    at = event_epoch(record.event_time) if stopped and record is not None else None
    state = ensure_logging(ctx, outcome, ref, prefer, stopped=stopped, stopped_at=at)
    if state == "failed" and ctx.wider is not None and _not_found(outcome):
        # Not found where the call said (real records name trails with other account ids or regions than
        # the trail's): look it up in the full inventory, and try once more there.
        errors = len(outcome.errors)
        ctx = dataclasses.replace(ctx, live=ctx.wider(), wider=None)
        ref = request_param(request, "name") or ref  # as the call named it, not as the hot path read it
        state = ensure_logging(ctx, outcome, ref, prefer, stopped=stopped, stopped_at=at)
        if state != "failed":
            del outcome.errors[errors - 1 : errors]
    _conclude(outcome, {_target(ctx, ref, None)[0]: state})
    started = [c for c in outcome.calls if c.operation == "StartLogging" and not c.error]
    if state == "restarted" and len(started) > 1:
        outcome.summary += " (it was stopped again after trailguard's start, and started once more)"
    return outcome


# -- organization trails seen from a member account ---------------------------------------------------

ROUTED = "repair routed to the organization trail's owner"
VERIFY_PERMISSIONS = ("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus")
"""What :func:`verify_routed` calls (granted on every account's trails: the template's
OrganizationTrails policy; the registry's actions declare both too)."""


def organization_trail(
    ctx: Context, ref: str, prefer_region: str | None = None, *, finding_account: str | None = None
) -> tuple[str, str, bool] | None:
    """(ARN, home region) of the trail ``ref`` names when this stack may only verify it (a member's
    view of an organization trail), and whether it is one (False: another account's own trail); None
    when it is the stack's to repair.

    ``finding_account``: the account a finding was raised in, when it names the trail. A finding raised
    in another account (GuardDuty's administrator account receives every member's) about a trail this
    stack cannot see is another account's trail, whatever the stack's role: CloudTrail refuses to change
    it from here, so it is verified and reported, never started (its own account's stack repairs it).
    Every account of a StackSet has trails of the same names: a trail listed here under that name is
    not the one such a finding names, unless its ARN is exactly the one named."""
    account = ctx.scope.account
    trail = ctx.live.find_trail(ref, prefer_region=prefer_region)
    other = _other_accounts_ref(ref, account, finding_account, trail, prefer_region or ctx.region)
    if trail is not None and other is not None and trail.get("TrailARN") != other:
        trail = None  # the same name in this account: not the other account's trail the finding names
    listed = str(trail.get("TrailARN") or "") if trail is not None else ""
    arn = listed or other or (ref if ref.startswith("arn:") else "")
    if not arn:
        return None
    foreign = trail is None and other is not None
    if not foreign and not verify_only(arn, account, ctx.config.org_trail_role):
        return None
    region = (ctx.live.home_region(trail) if trail is not None else None) or aws.region_of_arn(arn)
    return arn, region or ctx.region, not foreign


def _other_accounts_ref(
    ref: str,
    account: str | None,
    finding_account: str | None,
    same_name: Mapping[str, Any] | None,
    region: str,
) -> str | None:
    """The ARN of the trail a finding (raised in ``finding_account``) names when it is in another account
    than the stack's ``account``: its ARN's account, else the finding's (a bare name becomes that
    account's ARN in ``region``, in the partition of the trail listed here under that name, if any);
    None for a CloudTrail call, the stack's own trail, or unknown accounts."""
    owner = arn_account(ref) if ref.startswith("arn:") else finding_account
    if not finding_account or not account or not owner or owner == account:
        return None
    if ref.startswith("arn:"):
        return ref
    listed = str(same_name.get("TrailARN") or "") if same_name is not None else ""
    partition = listed.split(":")[1] if listed.startswith("arn:") else "aws"
    return f"arn:{partition}:cloudtrail:{region}:{owner}:trail/{ref}"


def _finding_account(record: Record | None) -> str | None:
    """The account a finding was raised in (None: no record, or a CloudTrail call)."""
    return record.account_id if record is not None and record.kind != "cloudtrail" else None


def verify_routed(
    ctx: Context,
    arn: str,
    region: str,
    organization: bool = True,
    action_name: str = "trail.verify_routed",
) -> Outcome:
    """Read the organization trail by ARN and report; never StartLogging, UpdateTrail, CreateTrail or
    PutEventSelectors (a member cannot change it). Logging: ``already-restored`` (nothing for this
    account to do); not logging, not listed or unreadable: ``routed``, which needs a person. Not
    ``organization``: another account's own trail a finding named (this account cannot see it, so
    the message does not say it may be deleted, and routes it to that account's stack)."""
    name, owner = arn.rsplit("/", 1)[-1], arn_account(arn) or "another account"
    outcome = Outcome(action_name, arn)
    listed: bool | None = None
    try:
        answer = outcome.call(
            "cloudtrail", region, "DescribeTrails", trailNameList=[arn], includeShadowTrails=True
        )
        listed = any(t.get("TrailARN") == arn for t in answer.get("trailList") or [])
        outcome.calls[-1].result = "found" if listed else "not listed"
    except Exception:
        outcome.errors.append(f"DescribeTrails on {arn} in {region}: {outcome.calls[-1].error}")
    logging_now: bool | None = None
    try:
        logging_now = _is_logging(outcome, arn, region)
    except Exception:
        outcome.errors.append(f"GetTrailStatus on {arn} in {region}: {outcome.calls[-1].error}")
    whose = f"organization trail {name} belongs to account {owner}: this account only verifies it"
    routed = f"{ROUTED} ({owner}, or CloudTrail's delegated administrator)"
    if not organization:
        whose = (
            f"trail {name} belongs to account {owner}, where the finding was raised, and is not an "
            "organization trail: this account only verifies it"
        )
        routed = f"repair routed to account {owner}, whose own trailguard stack repairs its trails"
        listed = None if listed is False else listed  # another account's trail is never listed here
    if logging_now and listed is not False:
        return outcome.unchanged(
            f"{whose}; GetTrailStatus by ARN reports IsLogging true, so nothing changed here "
            "(its other settings are its owner's to check)"
        )
    if logging_now is False:
        state = "is NOT logging (GetTrailStatus by ARN reports IsLogging false)"
        step = f"start it there: aws cloudtrail start-logging --name {arn} --region {region}"
    elif listed is False:
        state = "is not listed by DescribeTrails (with shadow trails): it may have been deleted"
        step = "check there that it exists, and recreate it from its baseline if it does not"
    else:
        state = "could not be verified (see the errors)"
        step = f"check it there: aws cloudtrail get-trail-status --name {arn} --region {region}"
    outcome.status, outcome.verified = "routed", False  # the trail is not shown to be logging
    outcome.summary = f"{whose}, and it {state}; {routed}: {step}"
    return outcome


@router(KIND)
def route(ctx: Context, request: RepairRequest) -> Outcome | None:
    """Every trail action's first step: an organization trail a member may only verify is verified and
    reported (:func:`verify_routed`) instead of repaired."""
    ref = request.ident or request_param(request, "name", "trailName")
    if not ref:
        return None
    prefer = request.record.region if request.record is not None else None
    found = organization_trail(ctx, ref, prefer, finding_account=_finding_account(request.record))
    return verify_routed(ctx, *found) if found is not None else None


# -- baseline repairs ---------------------------------------------------------------------------------


_STRING_FIELDS = floors.DESTINATIONS
_BOOL_FIELDS = floors.SWITCHES


def _norm(field: str, value: Any) -> Any:
    return bool(value) if field in _BOOL_FIELDS else floors.normalise(field, value)


def _shown(value: Any, field: str) -> str:
    """A property's value as a message shows it (``none`` for an unset reference)."""
    if field in _BOOL_FIELDS:
        return str(bool(value)).lower()
    return str(value) if isinstance(value, str) and value else "none"


def configuration_drift(baseline: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """The DescribeTrails properties where ``live`` differs from ``baseline`` (KMS keys by key id)."""
    return [
        field
        for field in (*_STRING_FIELDS, *_BOOL_FIELDS)
        if _norm(field, baseline.get(field)) != _norm(field, live.get(field))
    ]


def baseline_selectors(baseline: Mapping[str, Any]) -> tuple[str, list[Any]] | None:
    """("AdvancedEventSelectors" | "EventSelectors", selectors) recorded in the baseline, or None."""
    for key in ("AdvancedEventSelectors", "EventSelectors"):
        value = baseline.get(key)
        if isinstance(value, list) and value:
            return key, value
    return None


def selectors_match(wanted: tuple[str, list[Any]], live: Mapping[str, Any]) -> bool:
    key, selectors = wanted
    other = "EventSelectors" if key == "AdvancedEventSelectors" else "AdvancedEventSelectors"
    return _selectors(live.get(key) or []) == _selectors(selectors) and not live.get(other)


def _selectors(value: Any) -> Any:
    """Selectors compared without empty lists / None that one side spells and the other omits."""
    return squash(value, blank_strings=False)


def selectors_text(answer: Mapping[str, Any]) -> str:
    """Event selectors as a message shows them: the kind, each selector in brief, and which management
    events they log (``advanced [reads: eventCategory Equals Management; readOnly Equals true]
    (management reads only)``)."""
    advanced = answer.get("AdvancedEventSelectors") or []
    basic = answer.get("EventSelectors") or []
    parts: list[str] = []
    if advanced:
        for selector in advanced:
            fields = "; ".join(
                f"{f.get('Field')} {op} {','.join(map(str, values))}"
                for f in selector.get("FieldSelectors") or []
                for op, values in f.items()
                if op != "Field" and isinstance(values, list)
            )
            parts.append(f"{selector.get('Name') or 'unnamed'}: {fields}")
        text = f"advanced [{' | '.join(parts)}]"
    elif basic:
        for selector in basic:
            data = len(selector.get("DataResources") or [])
            parts.append(
                f"{selector.get('ReadWriteType', 'All')}, management events "
                f"{'on' if selector.get('IncludeManagementEvents', True) else 'off'}"
                + (f", {data} data resource(s)" if data else "")
            )
        text = f"classic [{' | '.join(parts)}]"
    else:
        return "none"
    coverage = management_coverage(answer)
    logged = {
        (True, True): "all management events",
        (True, False): "management reads only",
        (False, True): "management writes only",
        (False, False): "no management events",
    }.get(coverage or (False, False), "")
    text = f"{text} ({logged})"
    return text if len(text) <= 400 else text[:397] + "..."


class TrailRepair:
    """One trail brought back to its baseline: what was done, what is still off, and every error."""

    def __init__(self, ctx: Context, outcome: Outcome, baseline: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.outcome = outcome
        self.baseline = baseline
        self.arn = str(baseline["TrailARN"])
        self.name = str(baseline.get("Name") or self.arn.rsplit("/", 1)[-1])
        self.region = str(baseline.get("HomeRegion") or aws.region_of_arn(self.arn) or ctx.region)
        self.done: list[str] = []
        self.still_off: list[str] = []

    # reads ----------------------------------------------------------------------------------------
    def describe(self) -> Mapping[str, Any] | None:
        """The live trail by ARN (moto ignores ``trailNameList``, so the full list is filtered here)."""
        answer = self.outcome.call("cloudtrail", self.region, "DescribeTrails", includeShadowTrails=False)
        for trail in answer.get("trailList") or []:
            if trail.get("TrailARN") == self.arn:
                self.outcome.calls[-1].result = "found"
                return dict(trail)
        self.outcome.calls[-1].result = "not found"
        return None

    def live_selectors(self) -> Mapping[str, Any]:
        answer: Mapping[str, Any] = self.outcome.call(
            "cloudtrail", self.region, "GetEventSelectors", TrailName=self.arn
        )
        return answer

    # repairs --------------------------------------------------------------------------------------
    def create(self) -> None:
        """CreateTrail with every baseline property and its tags (the KMS key and roles as recorded)."""
        params: dict[str, Any] = {"Name": self.name}
        for field, param in TRAIL_PROPERTIES.items():
            value = self.baseline.get(field)
            if field in _BOOL_FIELDS:
                params[param] = bool(value)
            elif isinstance(value, str) and value:
                params[param] = value
        tags = self.baseline.get("TagsList") or []
        if tags:
            params["TagsList"] = [dict(t) for t in tags]
        floors.check_trail_properties(
            "CreateTrail", f"trail {self.name}", params, None, self.baseline, account=self.account()
        )
        self.outcome.call("cloudtrail", self.region, "CreateTrail", **params)
        self.done.append(f"recreated trail {self.name} in {self.region}")

    def account(self, live: Mapping[str, Any] | None = None) -> str | None:
        """The account the trail is in: the stack's, else the live trail ARN's (never the baseline's)."""
        found = self.ctx.scope.account
        if found is None and live is not None:
            found = floors.arn_account(str(live.get("TrailARN") or ""))
        for trail in () if found is not None else self.ctx.live.trails:
            found = found or floors.arn_account(str(trail.get("TrailARN") or ""))
        return found

    def update(self, drift: Sequence[str], live: Mapping[str, Any]) -> None:
        """UpdateTrail with the drifted properties back at their baseline values ("" removes one); the
        message lists each property as live -> baseline."""
        fields = set(drift)
        if fields & {"CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn"}:
            fields |= {"CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn"}  # AWS wants both together
        if "IsMultiRegionTrail" in fields:
            fields.add("IncludeGlobalServiceEvents")  # a multi-region trail must include global events
        params: dict[str, Any] = {"Name": self.arn}
        for field in sorted(fields):
            value = self.baseline.get(field)
            params[TRAIL_PROPERTIES[field]] = bool(value) if field in _BOOL_FIELDS else (value or "")
        floors.check_trail_properties(
            "UpdateTrail", f"trail {self.name}", params, live, self.baseline, account=self.account(live)
        )
        self.outcome.call("cloudtrail", self.region, "UpdateTrail", **params)
        changes = ", ".join(
            f"{field} {_shown(live.get(field), field)} -> {_shown(self.baseline.get(field), field)}"
            for field in sorted(drift)
        )
        self.done.append(f"restored {changes} of trail {self.name}")

    def tags(self) -> bool:
        wanted = {t["Key"]: t.get("Value", "") for t in self.baseline.get("TagsList") or []}
        if not wanted:
            return True
        answer = self.outcome.call("cloudtrail", self.region, "ListTags", ResourceIdList=[self.arn])
        have = {
            t["Key"]: t.get("Value", "")
            for entry in answer.get("ResourceTagList") or []
            for t in entry.get("TagsList") or []
        }
        missing = [{"Key": k, "Value": v} for k, v in wanted.items() if have.get(k) != v]
        if missing:
            self.outcome.call("cloudtrail", self.region, "AddTags", ResourceId=self.arn, TagsList=missing)
            self.done.append(f"restored {len(missing)} tag(s) of trail {self.name}")
        return True

    def selectors(self) -> bool | None:
        """PutEventSelectors with the baseline's when the live ones differ; None: baseline has none."""
        wanted = baseline_selectors(self.baseline)
        if wanted is None:
            return None
        live = self.live_selectors()
        if selectors_match(wanted, live):
            return True
        key, value = wanted
        params: dict[str, Any] = {key: value}
        floors.check_selectors(f"trail {self.name}", params, live)
        self.outcome.call("cloudtrail", self.region, "PutEventSelectors", TrailName=self.arn, **params)
        self.done.append(
            f"restored the {'advanced ' if key.startswith('Advanced') else ''}event selectors "
            f"of trail {self.name}: {selectors_text(live)} -> {selectors_text(params)}"
        )
        return selectors_match(wanted, self.live_selectors())

    def insights(self) -> bool:
        wanted = self.baseline.get("InsightSelectors")
        if not isinstance(wanted, list) or not wanted:
            return True
        try:
            have = self.outcome.call("cloudtrail", self.region, "GetInsightSelectors", TrailName=self.arn)
            current = have.get("InsightSelectors") or []
        except Exception:
            current = []
        if _selectors(current) != _selectors(wanted):
            self.outcome.call(
                "cloudtrail", self.region, "PutInsightSelectors", TrailName=self.arn, InsightSelectors=wanted
            )
            self.done.append(f"restored the insight selectors of trail {self.name}")
        return True

    def configuration(self, *, create: bool) -> bool:
        """Recreate (when allowed) or update the trail until DescribeTrails matches the baseline."""
        live = self.describe()
        if live is None:
            if not create:
                self.still_off.append(f"trail {self.name} does not exist in {self.region}")
                return False
            self.create()
            live = self.describe()
            if live is None:
                self.still_off.append(f"trail {self.name} is still missing after CreateTrail")
                return False
        drift = configuration_drift(self.baseline, live)
        if drift:
            self.update(drift, live)
            live = self.describe()
            drift = configuration_drift(self.baseline, live) if live is not None else ["the trail"]
        if drift:
            self.still_off.append(f"{', '.join(drift)} of trail {self.name} still differ from the baseline")
            return False
        return True


def _find_baseline(
    ctx: Context, ref: str, prefer_region: str | None, outcome: Outcome | None = None
) -> Mapping[str, Any] | None:
    """The baseline of the trail ``ref`` names: by the live inventory's ARN, else by name or ARN. An
    unreadable state table (deleted, throttled, denied) reads as none, noted in ``outcome``: what needs
    no baseline (logging) is still checked, and nothing is reported failed that is not."""
    trail = ctx.live.find_trail(ref, prefer_region=prefer_region)
    arn = str(trail.get("TrailARN") or "") if trail is not None else ""
    try:
        found = ctx.baselines.get("trail", arn) if arn else None
        found = found if found is not None else ctx.baselines.trail(ref)
        if found is None and outcome is not None and arn in ctx.live.inventory.tampered_trails:
            outcome.errors.append(f"{UNVERIFIED} for trail {arn}, so it was not applied")
        return found
    except Exception as exc:
        if outcome is not None:
            outcome.errors.append(f"{UNREADABLE}: {aws.error_text(exc)}")
        return None


def _no_baseline(outcome: Outcome, ref: str, what: str) -> Outcome:
    if any(e.startswith(UNREADABLE) for e in outcome.errors):
        return outcome.fail(f"{UNREADABLE}, so trailguard cannot restore {what} of trail {ref}")
    if any(e.startswith(UNVERIFIED) for e in outcome.errors):  # tampered state: trailguard.integrity
        return outcome.fail(
            f"{UNVERIFIED} and was not applied, so trailguard cannot restore {what} of trail {ref}"
        )
    return outcome.fail(
        f"no baseline recorded for trail {ref}; cannot restore {what}. {NO_BASELINE}",
        f"no baseline recorded for trail {ref}",
    )


def _trail_baseline(
    ctx: Context, request: RepairRequest, name: str, keys: tuple[str, ...], *, unnamed: str, what: str
) -> tuple[Outcome, Mapping[str, Any] | None]:
    """(the outcome, the baseline of the trail the request names); the outcome is already concluded
    (failed) when the trail is not named or has no baseline, and the baseline is then None."""
    ref = target(request, *keys)
    outcome = Outcome(name, ref)
    if not ref:
        outcome.summary = unnamed
        outcome.errors.append("the event does not name the trail")
        return outcome, None
    prefer = request.record.region if request.record is not None else None
    baseline = _find_baseline(ctx, ref, prefer, outcome)
    if baseline is None:
        _no_baseline(outcome, ref, what)
    return outcome, baseline


def _finish(outcome: Outcome, repair: TrailRepair, ok: bool, verified_what: str) -> Outcome:
    return outcome.finish(f"trail {repair.name}", repair.done, repair.still_off, verified_what, ok=ok)


def _guarded(outcome: Outcome, repair: TrailRepair, step: Any) -> bool:
    """Run one repair step; a refused call is recorded (the outcome says which) instead of raised, and
    so is a call a safety floor refused before it was made."""
    try:
        return bool(step())
    except FloorRefused as refused:
        outcome.errors.append(str(refused))
        repair.still_off.append(refused.describe())
        return False
    except Exception as exc:
        error = outcome.calls[-1].error if outcome.calls and outcome.calls[-1].error else str(exc)
        outcome.errors.append(error)
        repair.still_off.append(f"a call failed on trail {repair.name}: {error}")
        return False


_FULL_REPAIR = (
    "cloudtrail:CreateTrail",
    "cloudtrail:UpdateTrail",  # a trail still (or already again) present is updated to the baseline
    "cloudtrail:AddTags",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:PutInsightSelectors",
    "cloudtrail:StartLogging",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:GetEventSelectors",
    "cloudtrail:GetInsightSelectors",
    "cloudtrail:ListTags",
    "iam:PassRole",  # CreateTrail / UpdateTrail pass the CloudWatch Logs role to CloudTrail
)


@action(
    "trail.recreate",
    permissions=_FULL_REPAIR,
    restores=KIND,
    manual_steps="Re-create the trail with its previous settings (bucket, prefix, KMS key, "
    "CloudWatch Logs, multi-region, log file validation, tags, selectors) and start logging; "
    "redeploying its stack or Terraform restores it.",
)
def recreate(ctx: Context, request: RepairRequest) -> Outcome:
    """``trail.delete``: CreateTrail from the baseline, tags, selectors and insights, then StartLogging."""
    outcome, baseline = _trail_baseline(
        ctx,
        request,
        "trail.recreate",
        ("name",),
        unnamed="could not tell which trail was deleted, so none was recreated",
        what="the deleted trail",
    )
    if baseline is None:
        return outcome
    return _full_repair(ctx, outcome, baseline)


def _full_repair(ctx: Context, outcome: Outcome, baseline: Mapping[str, Any]) -> Outcome:
    repair = TrailRepair(ctx, outcome, baseline)
    outcome.resource = repair.arn
    ok = _guarded(outcome, repair, lambda: repair.configuration(create=True))
    if ok:
        ok = _guarded(outcome, repair, repair.tags)
        selectors = None
        if ok:
            try:
                selectors = repair.selectors()
            except FloorRefused as refused:
                outcome.errors.append(str(refused))
                repair.still_off.append(refused.describe())
                selectors = None
                ok = False
            except Exception as exc:
                outcome.errors.append(outcome.calls[-1].error or str(exc))
                selectors = False
            if selectors is False:
                ok = False
                repair.still_off.append(
                    f"the event selectors of trail {repair.name} differ from the baseline"
                )
        if ok:
            ok = _guarded(outcome, repair, repair.insights)
    state = ensure_logging(ctx, outcome, repair.arn, repair.region)
    if state == "restarted":
        repair.done.append(f"started logging on trail {repair.name}")
    elif state != "already-logging":
        ok = False
        repair.still_off.append(f"trail {repair.name} is not verified to be logging ({state})")
    return _finish(
        outcome, repair, ok, "DescribeTrails and GetEventSelectors match the baseline and IsLogging is true"
    )


@action(
    "trail.restore_configuration",
    permissions=("cloudtrail:UpdateTrail", "cloudtrail:DescribeTrails", "iam:PassRole"),
    restores=KIND,
    manual_steps="Put the trail's settings back (aws cloudtrail update-trail) to what they "
    "were before, and check them with aws cloudtrail describe-trails.",
)
def restore_configuration(ctx: Context, request: RepairRequest) -> Outcome:
    """``trail.update-degrade``: UpdateTrail back to the baseline values, verified by DescribeTrails."""
    outcome, baseline = _trail_baseline(
        ctx,
        request,
        "trail.restore_configuration",
        ("name",),
        unnamed="could not tell which trail was updated, so nothing was restored",
        what="its previous configuration",
    )
    if baseline is None:
        return outcome
    repair = TrailRepair(ctx, outcome, baseline)
    outcome.resource = repair.arn
    ok = _guarded(outcome, repair, lambda: repair.configuration(create=False))
    return _finish(outcome, repair, ok, "DescribeTrails matches the baseline")


@action(
    "trail.restore_event_selectors",
    permissions=("cloudtrail:PutEventSelectors", "cloudtrail:GetEventSelectors"),
    restores=KIND,
    manual_steps="Put the trail's event selectors back so that all management events "
    "(read and write) are logged (aws cloudtrail put-event-selectors), then check get-event-selectors.",
)
def restore_event_selectors(ctx: Context, request: RepairRequest) -> Outcome:
    """``trail.selectors-degrade``: PutEventSelectors with the baseline's, verified by GetEventSelectors."""
    outcome, baseline = _trail_baseline(
        ctx,
        request,
        "trail.restore_event_selectors",
        ("trailName", "name"),
        unnamed="could not tell which trail's selectors changed, so nothing was restored",
        what="its event selectors",
    )
    if baseline is None:
        return outcome
    ref = outcome.resource
    repair = TrailRepair(ctx, outcome, baseline)
    outcome.resource = repair.arn
    if baseline_selectors(baseline) is None:
        return _no_baseline(outcome, str(ref), "its event selectors (the baseline holds none)")
    ok = _guarded(outcome, repair, repair.selectors)
    if not ok:
        repair.still_off.append(f"the event selectors of trail {repair.name} differ from the baseline")
    return _finish(outcome, repair, ok, "GetEventSelectors returns the baseline selectors")


@action(
    "trail.reconcile",
    permissions=_FULL_REPAIR,
    restores=KIND,
    manual_steps="Check the trail: "
    "aws cloudtrail get-trail-status --name {resource} --region {region}; "
    "start it if IsLogging is false, and compare its settings with what they should be.",
)
def reconcile(ctx: Context, request: RepairRequest) -> Outcome:
    """``finding.trail-disabled``: the named trail, or every protected trail when the finding names none,
    is compared with its baseline and whatever is off is repaired (deleted: recreated; configuration,
    tags, selectors: restored; not logging: started). A trail without a baseline only gets logging
    started, and the summary says the rest could not be checked.
    """
    record = request.record
    ref = request.ident or (record.finding_trail if record is not None else None)
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
    summaries: list[str] = []
    statuses: list[str] = []
    unbaselined: list[str] = []
    for one in refs:
        routed_to = organization_trail(ctx, one, prefer, finding_account=_finding_account(record))
        baseline = None if routed_to is not None else _find_baseline(ctx, one, prefer, outcome)
        if routed_to is not None:
            part = verify_routed(ctx, *routed_to, action_name="trail.reconcile")
            outcome.calls.extend(part.calls)
            outcome.errors.extend(part.errors)
        elif baseline is None:
            label = _target(ctx, one, prefer)[0]
            state = ensure_logging(ctx, outcome, one, prefer)
            part = _conclude(Outcome("trail.reconcile", one), {label: state})
            unbaselined.append(label)
        else:
            part = _full_repair(ctx, Outcome("trail.reconcile", one), baseline)
            outcome.calls.extend(part.calls)
            outcome.errors.extend(part.errors)
        statuses.append(part.status)
        summaries.append(part.summary)
    if all(s == "already-restored" for s in statuses):
        outcome.status = "already-restored"
    elif all(s in ("remediated", "already-restored") for s in statuses):
        outcome.status = "remediated"
    elif all(s in ("remediated", "already-restored", "routed") for s in statuses):
        outcome.status = "routed"  # what this account could repair is repaired; the rest is its owner's
    else:
        outcome.status = "failed"
    outcome.verified = outcome.status not in ("failed", "routed")
    if unbaselined and any(e.startswith(UNREADABLE) for e in outcome.errors):
        summaries.append(
            f"{UNREADABLE} (see the errors), so for trail {', '.join(unbaselined)} only logging was "
            "checked; its other settings could not be compared with their baseline"
        )
    elif unbaselined:
        summaries.append(
            f"no baseline recorded for trail {', '.join(unbaselined)}: only logging was checked, its other "
            f"settings could not be compared; {NO_BASELINE}"
        )
    outcome.summary = "; ".join(summaries)
    return outcome
