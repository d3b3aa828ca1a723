"""The core every action module builds on: calls recorded in an Outcome, typed "gone" errors, the
repair request, the action declaration (its permissions written beside its calls) and shared helpers."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from trailguard import aws
from trailguard.aws import error_code, error_text
from trailguard.config import Config
from trailguard.events import Record
from trailguard.log import log_event
from trailguard.remediate.floors import Scope
from trailguard.resources import Kind

if TYPE_CHECKING:
    from trailguard.inventory import LiveInventory

LOG = logging.getLogger("trailguard.remediate")
T = TypeVar("T")

Status = Literal[
    "remediated",
    "already-restored",
    "failed",
    "not-implemented",
    "notify-only",
    "pending",
    "recorded",
    "routed",
]
"""``pending``: an allow-listed change waits for CloudTrail's history to confirm it; ``recorded``: a
resource first seen after deploy was baselined (both ``trailguard.baseline``); ``routed``: the resource
is another account's, which this stack may only verify (an organization trail in a member account), and
it is not verified to be right: the repair is routed to its owner, and a person must see it."""
VERIFY_ATTEMPTS = 3
"""GetTrailStatus-style checks after a repair: CloudTrail usually reflects StartLogging at once."""
VERIFY_DELAY = 1.0
NO_BASELINE = "run `trailguard baseline record --stack-name STACK` so trailguard can restore it"
"""What to do when a repair needs a baseline that was never recorded (every action says it alike)."""
REDEPLOY = "ACTION REQUIRED: redeploy the stack with trailguard deploy"
"""What to do when one of trailguard's own resources cannot be restored in place."""


class Gone(Exception):  # noqa: N818  (what it says: the resource is gone)
    """An AWS call met a resource that does not exist: the error code is one of its kind's gone codes.

    Raised by :meth:`Outcome.call` instead of the client error, so "absent" is answered by the call that
    met it (``except Gone``), never by matching error text afterwards. ``response`` is the original
    error's, so :func:`error_code` still reads the code.
    """

    def __init__(self, kind: Kind, code: str, cause: BaseException) -> None:
        super().__init__(f"{kind.noun} gone ({code}): {cause}")
        self.kind = kind
        self.code = code
        self.response = getattr(cause, "response", {})


@dataclass
class Call:
    """One AWS call made by an action: what, where, with which (summarised) parameters, and the result."""

    service: str
    operation: str
    region: str
    params: dict[str, str]
    error: str | None = None
    result: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "region": self.region,
            "params": dict(self.params),
            "result": self.result,
            "error": self.error,
        }

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        end = f"FAILED: {self.error}" if self.error else (self.result or "ok")
        return f"{self.service}:{self.operation} in {self.region} ({params}) -> {end}"


@dataclass
class Outcome:
    """What an action did: the calls, whether the repair was verified, and every error."""

    action: str
    resource: str | None = None
    status: Status = "failed"
    summary: str = ""
    verified: bool | None = None
    calls: list[Call] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    gone: bool = field(default=False, compare=False)
    """The resource did not exist (a call met one of its kind's gone codes): another repair (recreate)
    may apply. Not part of the message document."""

    @property
    def ok(self) -> bool:
        """Nothing for a person to repair by hand."""
        return self.status in ("remediated", "already-restored", "pending", "recorded")

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "resource": self.resource,
            "status": self.status,
            "summary": self.summary,
            "verified": self.verified,
            "calls": [c.to_dict() for c in self.calls],
            "errors": list(self.errors),
        }

    def last_error(self, exc: BaseException) -> str:
        """The error of the call that just failed, else ``Type: message`` of ``exc``."""
        return (self.calls[-1].error if self.calls else None) or f"{type(exc).__name__}: {exc}"

    def repaired(self, summary: str) -> Outcome:
        """Conclude: the repair was made and read back (``summary`` says what and how it was verified)."""
        self.status, self.verified, self.summary = "remediated", True, summary
        return self

    def unchanged(self, summary: str) -> Outcome:
        """Conclude: the live resource already matched, so nothing was changed."""
        self.status, self.verified, self.summary = "already-restored", True, summary
        return self

    def fail(self, summary: str, error: str | None = None) -> Outcome:
        """Mark the outcome failed and unverified with ``summary`` (and ``error`` kept, when given)."""
        self.status, self.verified, self.summary = "failed", False, summary
        if error:
            self.errors.append(error)
        return self

    def finish(
        self,
        label: str,
        done: list[str],
        off: list[str],
        verified: str,
        *,
        ok: bool | None = None,
        follow_up: str | None = None,
        unchanged: str | None = None,
    ) -> Outcome:
        """The one way an action concludes: one status and one sentence from what was done and what is
        still off (``ok`` False: a step failed even though nothing is listed as off). A verified repair
        ends with ``follow_up`` (what a person should still review); ``unchanged`` replaces the "already
        matched its baseline" sentence when nothing needed changing."""
        if ok is None:
            ok = not off
        if not ok:
            self.status, self.verified = "failed", False
            self.summary = (
                "; ".join([*done, *(f"STILL OFF: {o}" for o in off)]) or f"could not restore {label}"
            )
        elif done:
            self.status, self.verified = "remediated", True
            self.summary = f"{'; '.join(done)}; verified that {verified}"
            if follow_up:
                self.summary += f". {follow_up}"
        else:
            self.status, self.verified = "already-restored", True
            self.summary = (
                unchanged or f"{label} already matched its baseline when trailguard checked; nothing changed"
            )
        return self

    def call(
        self, service: str, region: str, operation: str, *, gone: Kind | None = None, **params: Any
    ) -> Any:
        """Make one AWS call through :func:`trailguard.aws.client`, recording it (and its error, if any).

        With ``gone``, an error code that kind lists as "does not exist" is raised as :class:`Gone`.
        """
        record = Call(service, operation, region, {k: _summary(v) for k, v in params.items()})
        self.calls.append(record)
        method = getattr(aws.client(service, region), _snake(operation))
        try:
            return method(**params)
        except Exception as exc:
            record.error = error_text(exc)
            code = error_code(exc)
            if gone is not None and gone.is_gone(code):
                raise Gone(gone, code, exc) from exc
            raise

    def pages(
        self,
        service: str,
        region: str,
        operation: str,
        items: str,
        *,
        gone: Kind | None = None,
        **params: Any,
    ) -> list[Any]:
        """Every ``items`` entry of a ``NextToken``-paginated operation, one recorded call a page."""
        found: list[Any] = []
        while True:
            page = self.call(service, region, operation, gone=gone, **params)
            found.extend(page.get(items) or [])
            if not page.get("NextToken"):
                return found
            params["NextToken"] = page["NextToken"]


class BaselineReader(Protocol):
    """What actions read baselines through (``trailguard.baseline.Baselines`` is one)."""

    def get(self, kind: str, ident: str) -> dict[str, Any] | None: ...

    def trail(self, ref: str) -> dict[str, Any] | None: ...


class NoBaselines:
    """The reader when no state table is configured: nothing is recorded."""

    available = False

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        return None

    def trail(self, ref: str) -> dict[str, Any] | None:
        return None


@dataclass(frozen=True)
class Context:
    """What an action may use: the invocation's live inventory, the recorded baselines (read them with
    ``ctx.baselines.get(kind, id)``; None when nothing is recorded or no table is configured) and how
    patiently to verify."""

    live: LiveInventory
    baselines: BaselineReader = field(default_factory=NoBaselines)
    verify_attempts: int = field(default_factory=lambda: VERIFY_ATTEMPTS)
    verify_delay: float = field(default_factory=lambda: VERIFY_DELAY)
    sleep: Callable[[float], None] = field(default_factory=lambda: time.sleep)
    config: Config = field(default_factory=Config)
    """The stack's settings: what the safety floors (:mod:`trailguard.remediate.floors`) call its own."""
    wider: Callable[[], LiveInventory] | None = None
    """``live`` was built from the configuration alone (the StopLogging hot path): this builds the full
    inventory (DescribeTrails, baselines) for an action that finds the trail not where the call said."""

    @property
    def region(self) -> str:
        return self.live.region

    @property
    def scope(self) -> Scope:
        """The stack's own account, rules, functions and queues, for the safety floors."""
        account = self.config.account or self.live.inventory.account
        return Scope(
            account=account,
            rule_names=self.config.rule_names or tuple(self.live.inventory.guard.rule_names),
            function_names=self.config.function_names or tuple(self.live.inventory.guard.function_names),
            queue_arns=self.config.queue_arns,
        )


@dataclass(frozen=True)
class RepairRequest:
    """What an action is asked to repair: one resource of one kind, and why.

    From an event (:meth:`of_verdict`): ``ident`` is the resource the verdict names and ``record`` the
    call or finding, whose parameters and region the action may read. From the backstop sweep:
    ``ident`` is the baseline's id, ``baseline`` its document, and there is no record.
    """

    kind: Kind
    ident: str | None
    reason: str
    baseline: Mapping[str, Any] | None = None
    record: Record | None = None
    technique: str | None = None

    @classmethod
    def of_verdict(cls, verdict: Any, kind: Kind) -> RepairRequest:
        """The request a tamper verdict makes (``verdict`` is a :class:`trailguard.policy.Verdict`)."""
        technique = verdict.technique
        return cls(
            kind,
            verdict.resource,
            verdict.reason,
            record=verdict.record,
            technique=technique.id if technique is not None else None,
        )


Remediation = Callable[[Context, RepairRequest], Outcome]
Router = Callable[[Context, RepairRequest], "Outcome | None"]
"""A kind's check before any of its actions runs: an Outcome when the resource is not this stack's to
change (only verified and reported), None to let the action repair it."""
ROUTERS: dict[str, Router] = {}


def router(kind: Kind) -> Callable[[Router], Router]:
    """Declare ``function`` as the router of ``kind`` (one per kind)."""

    def register(function: Router) -> Router:
        if kind.name in ROUTERS:
            raise ValueError(f"a router for {kind.name} registered twice")
        ROUTERS[kind.name] = function
        return function

    return register


def routed(ctx: Context, request: RepairRequest) -> Outcome | None:
    """The router's answer for ``request`` (None: no router, or the resource is this stack's to repair)."""
    found = ROUTERS.get(request.kind.name)
    return found(ctx, request) if found is not None else None


@dataclass(frozen=True)
class Action:
    """A repair: its stable name, the function, the IAM actions it and its verification call (declared
    here, beside the calls; the template grants them, a test checks each call against them), the
    resource kind it restores, whether the backstop sweep runs it, and what a person does by hand."""

    name: str
    function: Remediation | None
    permissions: frozenset[str] = frozenset()
    restores: Kind | None = None
    manual_steps: str = ""
    notify_only: bool = False

    def __call__(self, ctx: Context, request: RepairRequest) -> Outcome:
        if self.function is None:
            raise NotImplementedError(self.name)
        return self.function(ctx, request)


ACTIONS: dict[str, Action] = {}


def action(
    name: str, *, permissions: tuple[str, ...], restores: Kind, manual_steps: str = ""
) -> Callable[[Remediation], Action]:
    """Declare ``function`` as the action ``name``, with the IAM ``permissions`` its calls need."""

    def register(function: Remediation) -> Action:
        if name in ACTIONS:
            raise ValueError(f"remediation {name} registered twice")
        declared = Action(name, function, frozenset(permissions), restores, manual_steps)
        ACTIONS[name] = declared
        return declared

    return register


NOTIFY_ONLY = Action("notify.only", None, notify_only=True)
"""What a technique trailguard cannot undo names: the incident is reported so a person can act."""


# -- helpers shared by the action modules --------------------------------------------------------------


def request_param(request: RepairRequest, *names: str) -> str | None:
    """The first of ``names`` in the call's ``requestParameters`` that holds a non-empty string."""
    params = request.record.request_parameters if request.record is not None else {}
    for name in names:
        value = params.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def target(request: RepairRequest, *names: str) -> str | None:
    """The resource to repair: the request's, else the first of ``names`` the call's parameters give."""
    return request.ident or request_param(request, *names)


def action_region(
    ctx: Context, request: RepairRequest | None, arn: str | None = None, *, recorded: str | None = None
) -> str:
    """Where to act: the ``recorded`` region (a baseline's), else the ``arn``'s, else the call's region
    (``request`` None: not considered), else the handler's."""
    record = request.record if request is not None else None
    return recorded or aws.region_of_arn(arn) or (record.region if record is not None else None) or ctx.region


def read_until(ctx: Context, read: Callable[[], T], good: Callable[[T], bool]) -> T:
    """Read back until ``good(read())``: ``ctx.verify_attempts`` tries, ``ctx.verify_delay`` apart.
    Returns the last value read, good or not."""
    value = read()
    for _ in range(max(1, ctx.verify_attempts) - 1):
        if good(value):
            break
        ctx.sleep(ctx.verify_delay)
        value = read()
    return value


def verify_until(ctx: Context, check: Callable[[], bool]) -> bool:
    """Read back until ``check()`` holds (see :func:`read_until`)."""
    return read_until(ctx, check, bool)


def read_baseline(ctx: Context, outcome: Outcome, kind: str, ident: str) -> Mapping[str, Any] | None:
    """The recorded baseline, or None (an unreadable state table is noted in the outcome, not raised)."""
    try:
        found = ctx.baselines.get(kind, ident)
    except Exception as exc:
        outcome.errors.append(f"reading the baseline of {kind} {ident}: {type(exc).__name__}: {exc}")
        return None
    return found if isinstance(found, Mapping) else None


def delivery_errors(
    ctx: Context, outcome: Outcome, trails: Iterable[Mapping[str, Any]], status_field: str
) -> list[str]:
    """``"<trail>: <error>"`` for each trail whose GetTrailStatus reports ``status_field`` (a delivery
    error, e.g. ``LatestDeliveryError``); a status that cannot be read is an error of the outcome."""
    errors = []
    for trail in trails:
        ref = str(trail.get("TrailARN") or trail.get("Name"))
        try:
            status = outcome.call("cloudtrail", ctx.live.home_region(trail), "GetTrailStatus", Name=ref)
        except Exception:
            outcome.errors.append(f"GetTrailStatus on {ref}: {outcome.calls[-1].error}")
            continue
        error = status.get(status_field)
        outcome.calls[-1].result = f"{status_field} {error or 'none'}"
        if error:
            errors.append(f"{trail.get('Name') or ref}: {error}")
    return errors


def squash(value: Any, *, blank_strings: bool = True) -> Any:
    """Compare API answers without the empty values one side spells and the other omits (``""`` too,
    unless ``blank_strings`` is False: a trail's empty prefix is a value)."""
    empty: tuple[Any, ...] = (None, "", [], {}) if blank_strings else (None, [], {})
    if isinstance(value, Mapping):
        return {
            str(k): squash(v, blank_strings=blank_strings) for k, v in sorted(value.items()) if v not in empty
        }
    if isinstance(value, list):
        return [squash(v, blank_strings=blank_strings) for v in value]
    return value


def policy_json(value: Any, *, strict: bool = False) -> Any:
    """A policy document parsed from the JSON text APIs return (or as given when already parsed);
    None for blank text. Unparsable text is returned as is, or raised when ``strict``."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            if strict:
                raise
            return value
    return value


def repair(ctx: Context, technique: Any, request: RepairRequest) -> Outcome:
    """Run the ``technique``'s action (a :class:`trailguard.policy.Technique`) for ``request``. Never
    raises: failures come back in the Outcome."""
    chosen: Action = technique.action
    if chosen.notify_only:
        return Outcome(
            chosen.name,
            request.ident,
            "notify-only",
            "trailguard cannot undo this; it is reported so a person can act",
        )
    if chosen.function is None:
        return Outcome(
            chosen.name,
            request.ident,
            "not-implemented",
            f"not repaired automatically yet: {technique.title} ({chosen.name} is planned, not built)",
        )
    try:
        outcome = routed(ctx, request)
        if outcome is None:
            outcome = chosen(ctx, request)
    except Exception as exc:  # a refused call or a bug: report it loudly, never lose the incident
        outcome = Outcome(chosen.name, request.ident, "failed", f"{chosen.name} failed: {error_text(exc)}")
        outcome.errors.append(error_text(exc))
        log_event(LOG, logging.ERROR, "remediate.exception", action=chosen.name, error=error_text(exc))
    log_event(
        LOG,
        logging.INFO if outcome.ok else logging.ERROR,
        "remediate.outcome",
        technique=technique.id,
        **outcome.to_dict(),
    )
    return outcome


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        # a word starts at a capital after a small letter, or at the last capital of an acronym
        # (ListAWSServiceAccess... -> list_aws_service_access..., as botocore names it)
        after_acronym = i + 1 < len(operation) and operation[i + 1].islower()
        if ch.isupper() and i and (not operation[i - 1].isupper() or after_acronym):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _summary(value: Any) -> str:
    """A short, log-safe rendering of one parameter (long values and structures are abbreviated)."""
    if isinstance(value, Mapping):
        text = "{" + ", ".join(sorted(str(k) for k in value)) + "}"
    elif isinstance(value, (list, tuple)):
        text = f"[{len(value)} items]"
    else:
        text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."
