"""Lambda entry points, thin: parse, inventory, classify, remediate, notify; each step lives elsewhere.

Rules the handlers keep:

- Bad input is logged (one JSON line with the reason) and skipped, never raised: a raise would make
  EventBridge and Lambda retry a poison event over and over.
- A repair is never held back by the alert. If publishing fails, that is logged at once, the message is
  kept in the state table's outbox (every backstop sweep sends what is kept until SNS takes it:
  ``notify.outbox``) and, only after every record's repair is done,
  :class:`~trailguard.notify.NotificationError` is raised so Lambda's asynchronous retries give the
  alert earlier chances and make the failure visible in the function's error metrics. (The dead-letter
  queues on the rule targets catch only EventBridge's failures to invoke the function, not this.)
  Repairs are idempotent, so a retry re-checks the trail (finding it "already restored") rather than
  repeating anything harmful.
- Cold start stays small: importing this module loads no boto3 (the CLI and tests pay for it only when
  they make a client). On Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set at import) the function's init
  prepares what the first event would otherwise make on its path (:func:`prepare`): the clients of the
  StopLogging repair, made at once, and the ledger's derived key, in a background thread whose KMS round
  trip overlaps the rest of the init and the event's own first calls.
"""

from __future__ import annotations

import contextvars
import gc
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal

from trailguard import aws, remediate
from trailguard.allowlist import allowed_for
from trailguard.baseline import Baselines
from trailguard.config import Config
from trailguard.events import MalformedEvent, Record, entries_from_object, is_schedule
from trailguard.integrity import DerivedMac
from trailguard.inventory import LiveInventory, load
from trailguard.inventory import build as inventory_build
from trailguard.log import log_event, setup
from trailguard.notify import Incident, Ledger, NotificationError, ledger_for, send
from trailguard.notify.delivery import import_bursts, imported_by_the_sweep
from trailguard.notify.securityhub import report as report_to_security_hub
from trailguard.policy import Inventory, Verdict, classify, technique_for_call
from trailguard.resources import trail as trail_kind

LOG = logging.getLogger(__name__)


def api_call(event: Any, context: Any) -> dict[str, Any]:
    """CloudTrail API calls (``AWS API Call via CloudTrail`` envelopes, or bare records / log files)."""
    return handle(event, context, handler="api_call")


def finding(event: Any, context: Any) -> dict[str, Any]:
    """GuardDuty ``GuardDuty Finding`` and ``Security Hub Findings - Imported`` envelopes."""
    return handle(event, context, handler="finding")


def handle(event: Any, context: Any, *, handler: str) -> dict[str, Any]:
    """Process every record of one event; returns ``{"records", "incidents", "skipped"}``."""
    setup()
    started = time.monotonic()
    request_id = getattr(context, "aws_request_id", None)
    summary: dict[str, Any] = {"records": 0, "incidents": [], "skipped": []}
    if is_schedule(event):
        return _sweep(summary, handler, request_id, started)
    try:
        entries = entries_from_object(event)
    except MalformedEvent as exc:
        return _skip_all(summary, handler, request_id, str(exc))
    except Exception as exc:  # a parser bug must not turn into a retry loop either
        return _skip_all(
            summary, handler, request_id, f"could not read the event ({type(exc).__name__}: {exc})"
        )
    if not entries:
        return _skip_all(summary, handler, request_id, "the event holds no records")
    # Each entry on its own: one that is not understood is reported with its index, the rest still run.
    records: list[tuple[int, Record]] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, Record):
            records.append((index, entry))
            continue
        log_event(
            LOG,
            logging.WARNING,
            "handler.malformed-entry",
            handler=handler,
            request_id=request_id,
            index=index,
            reason=str(entry),
        )
        summary["skipped"].append({"index": index, "event_id": None, "reason": str(entry)})
    summary["records"] = len(records)
    if not records:
        return summary

    config = Config.from_env()
    region = aws.default_region()
    session = _Invocation(config, region, handler)
    failures: list[str] = []
    for index, record in records:
        try:
            incident, publish_error = session.process(record)
        except Exception as exc:  # a bug on one record is reported; the other records still run
            reason = f"record {index} could not be processed ({type(exc).__name__}: {exc})"
            log_event(LOG, logging.ERROR, "handler.record-failed", handler=handler, index=index, error=reason)
            summary["skipped"].append({"index": index, "event_id": _safe_id(record), "reason": reason})
            continue
        if incident is not None:
            summary["incidents"].append(incident)
        if publish_error:
            failures.append(publish_error)
    log_event(
        LOG,
        logging.INFO,
        "handler.done",
        handler=handler,
        request_id=request_id,
        records=summary["records"],
        incidents=len(summary["incidents"]),
        skipped=len(summary["skipped"]),
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
    )
    if failures:
        raise NotificationError(f"{len(failures)} alert(s) not published: {'; '.join(failures)}")
    return summary


def _sweep(summary: dict[str, Any], handler: str, request_id: str | None, started: float) -> dict[str, Any]:
    """The backstop schedule fired: compare every baseline with the live account and repair drift.

    A message that could not be published is raised (after the repairs), as for records, so Lambda
    retries it and the failure shows in the function's error metrics. Then each CloudTrail burst the
    event path recorded goes to Security Hub with its count (``notify.delivery.import_bursts``).
    """
    from trailguard import sweep  # the whole registry and every kind's capture: off the events' path

    config, region = Config.from_env(), aws.default_region()
    report = sweep.run(config, region)
    summary["sweep"] = report.to_dict()
    bursts = import_bursts(config, region)  # Security Hub: the bursts the event path left to the sweep
    if bursts is not None:
        summary["sweep"]["bursts_security_hub"] = bursts
    log_event(
        LOG,
        logging.INFO,
        "handler.done",
        handler=handler,
        request_id=request_id,
        sweep=True,
        drift=len(report.drift),
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
    )
    if report.publish_error:
        raise NotificationError(f"the sweep's alert was not published: {report.publish_error}")
    return summary


class _Invocation:
    """State of one invocation: the live inventory, built on first need and never reused afterwards."""

    def __init__(self, config: Config, region: str, handler: str) -> None:
        self.config = config
        self.region = region
        self.handler = handler
        self._live: LiveInventory | None = None
        self._baselines: Baselines | None = None
        self._ledger: Ledger | Literal[False] | None = False

    @property
    def baselines(self) -> Baselines:
        """The recorded baselines (an empty reader when no state table is configured)."""
        if self._baselines is None:
            self._baselines = Baselines.from_config(self.config, self.region)
        return self._baselines

    @property
    def live(self) -> LiveInventory:
        if self._live is None:
            self._live = load(self.config, self.region, self.baselines)
        return self._live

    def process(self, record: Record) -> tuple[dict[str, Any] | None, str | None]:
        """Classify one record and act on it: (incident summary or None, publish error or None)."""
        call_technique = technique_for_call(record.event_source, record.event_name)
        if record.kind == "cloudtrail" and call_technique is None:
            verdict = classify(record, Inventory())  # not a technique's call: no need to ask AWS anything
        else:
            # A call on a trail may name one DescribeTrails no longer lists (just deleted): its kind says
            # the inventory must be built for that trail (findings always name a trail).
            on_trail = record.kind != "cloudtrail" or (
                call_technique is not None and call_technique.kind is trail_kind.KIND
            )
            if (
                call_technique is not None
                and not call_technique.needs_baseline
                and record.kind == "cloudtrail"
            ):
                inventory = self.light(record).inventory  # its condition needs the configuration only
            else:
                inventory = (
                    self.live.inventory_for(_trail_ref(record), record_account=record.account_id)
                    if on_trail
                    else self.live.inventory
                )
            verdict = classify(record, inventory)
        log_event(
            LOG,
            logging.INFO,
            "handler.verdict",
            handler=self.handler,
            event_id=record.event_id,
            event_name=record.event_name,
            verdict=verdict.verdict,
            technique=verdict.technique_id,
            resource=verdict.resource,
            principal=verdict.principal,
            reason=verdict.reason,
        )
        if verdict.verdict == "benign":
            if call_technique is not None and call_technique.id == "trail.create":  # its first baseline
                self._first_seen(record)
            return None, None
        light = (
            verdict.technique is not None
            and not verdict.technique.needs_baseline
            and record.kind == "cloudtrail"
        )
        # read before an allow-listed change re-records it; a technique whose repair and message need no
        # baseline (StopLogging) reads none
        before = None if light else self._baseline(verdict)
        live = self.light(record) if light else self.live
        outcome = (
            remediate.remediate(
                remediate.Context(
                    live, self.baselines, config=self.config, wider=(lambda: self.live) if light else None
                ),
                verdict,
            )
            if verdict.verdict == "tamper"
            else None
        )
        if verdict.verdict == "allowed":
            from trailguard.baseline.rebaseline import rebaseline  # an allow-listed change only

            outcome = rebaseline(verdict, self.baselines, self.region)
        if outcome is not None:  # a baseline that failed verification was not used: say so in this alert
            outcome.errors.extend(t.text() for t in self.baselines.tampered if t.text() not in outcome.errors)
        incident = Incident(
            verdict=verdict,
            record=record,
            handler=self.handler,
            handler_region=self.region,
            account=self.config.account,
            outcome=outcome,
            baseline=before,
        )
        line = incident.summary()
        # Dedup and storms gate only the message; the repair above has already run.
        delivery = send(incident, self.config.topic_arn, self.ledger, security_hub=self.config.security_hub)
        line.update(delivery.fields())
        error = delivery.error
        # Security Hub, once per burst and never before the alert: a burst the ledger recorded is imported
        # by the backstop sweep (with its count, off this path); a repeat it folded into a count is not
        # imported again. Logs its own failures loudly; never blocks the repair or the email.
        folded = (line.get("notification") or {}).get("action") == "suppress" and record.kind == "cloudtrail"
        if self.config.security_hub and not folded:  # a finding that raised it is still answered
            if imported_by_the_sweep(incident, delivery):
                line["security_hub"] = {"deferred": "the backstop sweep imports it, with the burst's count"}
            else:
                report_to_security_hub(incident, line)
        return line, error

    def _first_seen(self, record: Record) -> None:
        """A new protected trail is baselined from its confirmed create event (pending until CloudTrail's
        history has it; the sweep retries). Logged, never raised, never mailed (the sweep's message tells
        what it confirms later)."""
        from trailguard.baseline import discover  # a trail's first baseline: off the repairs' path

        for kind, ident, outcome in discover.created(record, self.config, self.region, self.baselines):
            log_event(
                LOG,
                logging.INFO if outcome.ok else logging.ERROR,
                "handler.first-seen",
                kind=kind,
                id=ident,
                status=outcome.status,
                summary=outcome.summary,
            )

    def light(self, record: Record) -> LiveInventory:
        """The inventory from the configuration alone, for a technique that needs no trail list and no
        baseline (``Technique.needs_baseline`` False): the trail the call names is protected when the
        configuration protects it (every trail of the account, or it is listed by name or ARN); no
        ``DescribeTrails``, no baseline read, and no ``DescribeStacks`` unless the caller could be
        allow-listed (:func:`~trailguard.allowlist.allowed_for`). A successful ``StopLogging`` is made
        in the trail's home region, so the call's region (or the ARN's) is where it is started again."""
        ref = _trail_ref(record)
        trails: list[Mapping[str, Any]] = []
        if ref:
            entry = _trail_entry(ref, record, self.config.account, self.region)
            config = self.config
            ours = trail_kind.watched(ref, config.account, record.account_id, config.org_trail_role)
            if ours and trail_kind.is_protected(entry, self.config.protected_trails):
                trails.append(entry)
        # the stack's allow-list is read only when the environment's could make this caller allowed
        allowed = allowed_for(self.config, self.region, (record.issuer_arn, record.principal_arn))
        return inventory_build(self.config, self.region, trails, allowed=allowed)

    def _baseline(self, verdict: Verdict) -> Mapping[str, Any] | None:
        """The recorded baseline of the verdict's resource, for the message's before -> after (None when
        there is none or it cannot be read: the message then says "not recorded")."""
        technique = verdict.technique
        if technique is None or not verdict.resource:
            return None
        try:
            return self.baselines.get(technique.kind.name, verdict.resource)
        except Exception:
            return None

    @property
    def ledger(self) -> Ledger | None:
        """The incident ledger on the state table (None without one: every incident is published)."""
        if self._ledger is False:
            self._ledger = ledger_for(self.config, self.region)
        return self._ledger


def _skip_all(summary: dict[str, Any], handler: str, request_id: str | None, reason: str) -> dict[str, Any]:
    log_event(
        LOG, logging.WARNING, "handler.malformed-event", handler=handler, request_id=request_id, reason=reason
    )
    summary["skipped"].append({"index": None, "event_id": None, "reason": reason})
    return summary


def _trail_ref(record: Record) -> str | None:
    """The trail a record names: the call's ``trailName`` / ``name``, or the finding's trail."""
    if record.kind != "cloudtrail":
        return record.finding_trail
    for key in ("trailName", "name"):
        value = record.request_parameters.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _trail_entry(ref: str, record: Record, account: str | None, region: str) -> dict[str, Any]:
    """A trail as DescribeTrails would list it, from what the call says: its name, ARN and home region.

    A name is the trail of that name in the handler's region: EventBridge delivers a call to the rules of
    the region it was made in, and a StopLogging that succeeded was made in the trail's home region."""
    if ref.startswith("arn:"):
        home = aws.region_of_arn(ref) or region
        return {"Name": ref.rsplit("/", 1)[-1], "TrailARN": ref, "HomeRegion": home}
    entry: dict[str, Any] = {"Name": ref, "HomeRegion": region}
    owner = account or record.account_id
    if owner:
        entry["TrailARN"] = f"arn:aws:cloudtrail:{region}:{owner}:trail/{ref}"
    return entry


def _safe_id(record: Record) -> str | None:
    try:
        return record.event_id
    except Exception:
        return None


def prepare(*, background: bool = True) -> threading.Thread | None:
    """Make now, before any event, what a fresh process's first StopLogging would make on its path:
    the clients of its four calls (CloudTrail, the state table, the topic; and the state key's KMS) and
    the technique family that judges it (the only one imported until another call comes), at once;
    then, in a thread when ``background`` (returned), the ledger's derived key
    (:meth:`~trailguard.integrity.DerivedMac.prepare`: its one ``GenerateMac``, a network wait that
    overlaps the event's own calls) and, without a state table (no ledger: every incident is imported
    after its alert), the Security Hub client, the largest model, made while the event waits on the
    network. Never raises: whatever failed is logged and is made on first use instead, as without
    this."""
    try:
        config = Config.from_env()
        region = aws.default_region()
        services: list[tuple[str, str | None]] = [("cloudtrail", region)]
        if config.state_table:
            services.append(("dynamodb", region))
        if config.topic_arn:
            services.append(("sns", aws.region_of_arn(config.topic_arn) or region))
        if config.state_key:
            services.append(("kms", region))
        aws.prepare(services)
        technique_for_call("cloudtrail.amazonaws.com", "StopLogging")  # imports its family, pure
    except Exception as exc:
        log_event(LOG, logging.ERROR, "handler.prepare-failed", step="clients", error=aws.error_text(exc))
        return None

    def later() -> None:
        if config.state_key:
            try:
                DerivedMac(config.state_key, region).prepare()  # as notify.ledger_for makes it
            except Exception as exc:
                error = aws.error_text(exc)
                log_event(LOG, logging.ERROR, "handler.prepare-failed", step="state key", error=error)
        if config.security_hub and not config.state_table:  # with a table, the sweep imports bursts
            try:
                aws.prepare([("securityhub", region)])
            except Exception as exc:
                error = aws.error_text(exc)
                log_event(LOG, logging.ERROR, "handler.prepare-failed", step="securityhub", error=error)

    if not background:
        later()
        return None
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(later,), name="trailguard-prepare", daemon=True
    )
    thread.start()
    return thread


def _init() -> None:
    """Lambda's init: :func:`prepare`, with the garbage collector paused while it runs. What the init
    allocates (botocore's modules, the service models, the clients) lives as long as the process, yet
    each full collection walks all of it: two such passes, some 40 ms each, fell inside a cold start's
    client making. Frozen afterwards (``gc.freeze``), so the warm events' collections skip it too; the
    few cycles the init leaves as garbage stay for the life of the process, once."""
    gc.disable()
    try:
        prepare()
    finally:
        gc.freeze()
        gc.enable()


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # Lambda's init (never the CLI, tests or the local cloud)
    _init()
