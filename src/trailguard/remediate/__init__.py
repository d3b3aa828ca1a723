"""Remediation: one small idempotent action per technique family, each acting and then verifying.

An action is a function ``(ctx, verdict) -> Outcome`` registered under the name a technique gives in
``Technique.remediation``. The IAM actions it may call are declared once, by the techniques that name it
(``Action.permissions`` is their union; the template grants them, and a test checks every call an action
makes against them). :func:`remediate` never raises: an action that
is not written yet, a refused AWS call or a bug all come back as an :class:`Outcome` that says so, so the
message escalates it instead of the handler swallowing it or crash-looping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from trailguard import aws
from trailguard.aws import error_code as error_code  # re-exported: the action modules use it
from trailguard.aws import error_text
from trailguard.log import log_event

if TYPE_CHECKING:
    from trailguard.baseline import Baselines
    from trailguard.inventory import LiveInventory
    from trailguard.policy import Verdict

LOG = logging.getLogger(__name__)
T = TypeVar("T")

Status = Literal["remediated", "already-restored", "failed", "not-implemented", "notify-only"]
NOTIFY_ONLY = "notify.only"
VERIFY_ATTEMPTS = 3
"""GetTrailStatus-style checks after a repair: CloudTrail usually reflects StartLogging at once."""
VERIFY_DELAY = 1.0


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

    @property
    def ok(self) -> bool:
        """Nothing for a person to repair by hand."""
        return self.status in ("remediated", "already-restored")

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

    def fail(self, summary: str, error: str | None = None) -> Outcome:
        """Mark the outcome failed and unverified with ``summary`` (and ``error`` kept, when given)."""
        self.status, self.verified, self.summary = "failed", False, summary
        if error:
            self.errors.append(error)
        return self

    def call(self, service: str, region: str, operation: str, **params: Any) -> Any:
        """Make one AWS call through :func:`trailguard.aws.client`, recording it (and its error, if any)."""
        record = Call(service, operation, region, {k: _summary(v) for k, v in params.items()})
        self.calls.append(record)
        method = getattr(aws.client(service, region), _snake(operation))
        try:
            return method(**params)
        except Exception as exc:
            record.error = error_text(exc)
            raise


def _no_baselines() -> Baselines:
    from trailguard.baseline import Baselines

    return Baselines(None)


@dataclass(frozen=True)
class Context:
    """What an action may use: the invocation's live inventory, the recorded baselines (read them with
    ``ctx.baselines.get(kind, id)``; None when nothing is recorded or no table is configured) and how
    patiently to verify."""

    live: LiveInventory
    baselines: Baselines = field(default_factory=_no_baselines)
    verify_attempts: int = field(default_factory=lambda: VERIFY_ATTEMPTS)
    verify_delay: float = field(default_factory=lambda: VERIFY_DELAY)
    sleep: Callable[[float], None] = field(default_factory=lambda: time.sleep)

    @property
    def region(self) -> str:
        return self.live.region


Remediation = Callable[[Context, "Verdict"], Outcome]


@dataclass(frozen=True)
class Action:
    name: str
    function: Remediation

    @property
    def permissions(self) -> frozenset[str]:
        """The IAM actions this action may call: declared by the techniques that name it, not here."""
        from trailguard.policy import action_permissions

        return action_permissions(self.name)


ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Remediation], Remediation]:
    """Register ``function`` as the action ``name`` (a ``Technique.remediation``)."""

    def register(function: Remediation) -> Remediation:
        if name in ACTIONS:
            raise ValueError(f"remediation {name} registered twice")
        ACTIONS[name] = Action(name, function)
        return function

    return register


# -- helpers shared by the action modules --------------------------------------------------------------


def request_param(verdict: Verdict, *names: str) -> str | None:
    """The first of ``names`` in the call's ``requestParameters`` that holds a non-empty string."""
    params = verdict.record.request_parameters if verdict.record is not None else {}
    for name in names:
        value = params.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def target(verdict: Verdict, *names: str) -> str | None:
    """The resource to repair: the verdict's, else the first of ``names`` the call's parameters give."""
    return verdict.resource or request_param(verdict, *names)


def action_region(
    ctx: Context, verdict: Verdict | None, arn: str | None = None, *, recorded: str | None = None
) -> str:
    """Where to act: the ``recorded`` region (a baseline's), else the ``arn``'s, else the call's region
    (``verdict`` None: not considered), else the handler's."""
    record = verdict.record if verdict is not None else None
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


def remediate(ctx: Context, verdict: Verdict) -> Outcome:
    """Run the technique's action for a tamper verdict. Never raises: failures come back in the Outcome."""
    from trailguard.policy import TECHNIQUES

    technique = TECHNIQUES.get(verdict.technique) if verdict.technique else None
    name = technique.remediation if technique is not None else "unknown"
    if name == NOTIFY_ONLY:
        return Outcome(
            name,
            verdict.resource,
            "notify-only",
            "trailguard cannot undo this; it is reported so a person can act",
        )
    registered = ACTIONS.get(name)
    if registered is None:
        what = technique.title if technique is not None else str(verdict.technique)
        return Outcome(
            name,
            verdict.resource,
            "not-implemented",
            f"not repaired automatically yet: {what} ({name} is planned, not built)",
        )
    try:
        outcome = registered.function(ctx, verdict)
    except Exception as exc:  # a refused call or a bug: report it loudly, never lose the incident
        outcome = Outcome(name, verdict.resource, "failed", f"{name} failed: {error_text(exc)}")
        outcome.errors.append(error_text(exc))
        log_event(LOG, logging.ERROR, "remediate.exception", action=name, error=error_text(exc))
    log_event(
        LOG,
        logging.INFO if outcome.ok else logging.ERROR,
        "remediate.outcome",
        technique=verdict.technique,
        **outcome.to_dict(),
    )
    return outcome


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i and not operation[i - 1].isupper():
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


from trailguard.remediate import bucket as bucket  # noqa: E402  (registers the bucket actions)
from trailguard.remediate import detector as detector  # noqa: E402  (registers guard.enable_detector)
from trailguard.remediate import guard as guard  # noqa: E402  (registers the guard.restore_* actions)
from trailguard.remediate import key as key  # noqa: E402  (registers the KMS key actions)
from trailguard.remediate import lake as lake  # noqa: E402  (registers the CloudTrail Lake actions)
from trailguard.remediate import trail as trail  # noqa: E402  (registers the trail actions)
