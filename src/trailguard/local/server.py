"""The local cloud: moto in server mode on 127.0.0.1 with the recorder, router, runner, findings, outbox.

:class:`LocalCloud` is what ``trailguard emulator``, ``trailguard demo`` and the tests start. moto keeps
its state in process-global backends, so one process runs one local cloud at a time; starting one
resets moto to an empty account.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trailguard import aws
from trailguard.local import kms_patch, lookup, moto_patches, securityhub_patch
from trailguard.local.findings import FindingEmitter
from trailguard.local.org import Organization
from trailguard.local.orggate import OrgGate
from trailguard.local.outbox import Outbox
from trailguard.local.recorder import CallCapture, Recorder
from trailguard.local.router import ENABLED_STATES, Activity, Delivery, Router, rule_matches, rules_for
from trailguard.local.runner import Invocation, LambdaRunner

log = logging.getLogger(__name__)

ACCOUNT = "123456789012"
REGION = "us-east-1"
HOST = "127.0.0.1"
# Keys moto does not know belong to the account's root: the emulator's own setup calls use these.
ADMIN_ACCESS_KEY_ID = "AKIAEMULATORROOT0001"
ADMIN_SECRET_ACCESS_KEY = "local-cloud-root-secret"


class _Patch:
    """moto's ``Rule.send_to_targets`` as found, and the router that replaces it while a cloud runs."""

    active: Router | None = None
    original: Any = None
    lock = threading.Lock()


def _routed_send_to_targets(rule: Any, event: dict[str, Any], transform_input: bool = True) -> None:
    """Replaces moto's ``Rule.send_to_targets`` (used by ``PutEvents``) while a local cloud runs."""
    router = _Patch.active
    if router is None:
        _Patch.original(rule, event, transform_input)
        return
    event = dict(event)
    if isinstance(event.get("time"), (int, float)):
        event["time"] = datetime.fromtimestamp(float(event["time"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event.pop("ingestion-time", None)
    if rule_matches(rule, event):
        router.deliver_to_rule(rule, event)


def _install(router: Router) -> None:
    from moto.events.models import Rule

    with _Patch.lock:
        if _Patch.active is not None:
            raise RuntimeError("a local cloud is already running in this process (moto state is global)")
        if _Patch.original is None:
            _Patch.original = Rule.send_to_targets
        setattr(Rule, "send_to_targets", _routed_send_to_targets)  # noqa: B010
        _Patch.active = router


def _uninstall() -> None:
    from moto.events.models import Rule

    with _Patch.lock:
        if _Patch.original is not None:
            setattr(Rule, "send_to_targets", _Patch.original)  # noqa: B010
        _Patch.active = None


def _make_server(app_wrapper: Any, port: int) -> Any:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    class Server(ThreadedMotoServer):
        """moto's threaded server with its WSGI app wrapped by the recorder."""

        error: BaseException | None = None

        def _server_entry(self) -> None:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from werkzeug.serving import make_server

            try:
                app = app_wrapper(DomainDispatcherApplication(create_backend_app))
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
                )
            except BaseException as exc:
                self.error = exc
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            self._server.serve_forever(poll_interval=0.1)

    return Server(ip_address=HOST, port=port, verbose=False)


class LocalCloud:
    """moto on 127.0.0.1 plus CloudTrail, EventBridge delivery, Lambda execution, findings and email."""

    def __init__(
        self,
        *,
        port: int = 0,
        outbox_dir: Path | str,
        records_path: Path | str | None = None,
        invocations_path: Path | str | None = None,
        finding_delay: float | None = 1.0,
        workers: int = 8,
        event_delay: float = 0.0,
        schedule_rules: Iterable[str] | None = None,
    ) -> None:
        self.port = port
        self.account = ACCOUNT
        self.region = REGION
        self.outbox = Outbox(Path(outbox_dir).resolve())
        self.records_path = Path(records_path).resolve() if records_path else None
        self.invocations_path = Path(invocations_path).resolve() if invocations_path else None
        self.finding_delay = finding_delay
        self.event_delay = event_delay
        """Seconds from a recorded call to its event on EventBridge (0: at once; Router.from_cloudtrail)."""
        self.schedule_names = frozenset(schedule_rules) if schedule_rules is not None else None
        """The schedule rules :meth:`fire_schedules` fires (None: every one)."""
        self.workers = workers
        self.activity = Activity()
        self.recorder = Recorder(journal=self.records_path)
        self.extra_guard_roles: set[str] = set()
        self.organization: Organization | None = None
        """Set by the organization world (``--org``); None keeps the single-account behaviour."""
        self.accounts: list[str] = [ACCOUNT]
        """Accounts whose schedule rules fire (the organization world adds its accounts)."""
        self._server: Any = None
        self._findings: FindingEmitter | None = None
        self._router: Router | None = None
        self._runner: LambdaRunner | None = None
        self._journal_lock = threading.Lock()
        self._schedule_stop = threading.Event()
        self._schedule_thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        from moto.moto_api._internal.models import moto_api_backend

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        moto_api_backend.reset()
        aws.clear_cache()
        capture = CallCapture(lambda environ, start: [], observers=[self.recorder, self.outbox])
        # moto lacks Security Hub BatchUpdateFindings; routes are read when the server builds its app.
        securityhub_patch.install()
        moto_patches.install()  # the other moto gaps (local/moto_patches.py)
        kms_patch.install()  # moto's CloudFormation KMS key ignores KeySpec / KeyUsage (the state key)

        def wrap(app: Any) -> CallCapture:
            capture.app = OrgGate(  # what an organization means to CloudTrail and SNS (local/orggate.py)
                lookup.LookupEvents(app, self.recorder),  # moto has no CloudTrail LookupEvents
                lambda: self.organization,
            )
            return capture

        self._server = _make_server(wrap, self.port)
        self._server.start()
        if self._server.error is not None:
            error, self._server = self._server.error, None
            securityhub_patch.uninstall()
            moto_patches.uninstall()
            kms_patch.uninstall()
            raise OSError(f"cannot serve on {HOST}:{self.port}: {error}")
        self.port = int(self._server.get_host_and_port()[1])
        self._runner = LambdaRunner(self.endpoint, self.admin_environ, listeners=[self._journal_invocation])
        self._router = Router(
            self._runner,
            self.outbox,
            workers=self.workers,
            activity=self.activity,
            organization=lambda: self.organization,
            event_delay=self.event_delay,
        )
        self.recorder.listeners.append(self._router.from_cloudtrail)
        capture.observers.append(self._router.on_call)  # a topic's Lambda subscriptions (moto has no runtime)
        if self.finding_delay is not None:
            self._findings = FindingEmitter(
                self._router.submit,
                self.guard_roles,
                delay=self.finding_delay,
                activity=self.activity,
                import_finding=securityhub_patch.import_finding,
                handled=self._router.delivered,
            )
            self.recorder.listeners.append(self._findings)
        _install(self._router)
        log.info("local cloud on %s", self.endpoint)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, let deliveries in flight finish (up to ``timeout``), leave no thread behind."""
        if self._server is None:
            return
        self._schedule_stop.set()
        if self._schedule_thread is not None:
            self._schedule_thread.join(timeout)
            self._schedule_thread = None
        if self._findings is not None:
            self._findings.close()
        if self._router is not None:
            self._router.close(timeout)
        self._server.stop()
        self._server = None
        _uninstall()
        securityhub_patch.uninstall()
        moto_patches.uninstall()
        kms_patch.uninstall()
        aws.clear_cache()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- access ------------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def admin_environ(self) -> dict[str, str]:
        """Environment for the emulator's own calls: the account root, this endpoint, the region."""
        return {
            "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    @contextmanager
    def as_admin(self) -> Iterator[None]:
        """Bind :attr:`admin_environ` so :func:`trailguard.aws.client` calls reach this cloud as root."""
        with aws.using_environ(self.admin_environ):
            yield

    def client(self, service: str, environ: Mapping[str, str] | None = None) -> Any:
        """A boto3 client to this cloud, as root or with the credentials in ``environ``."""
        with aws.using_environ({**self.admin_environ, **(environ or {})}):
            return aws.client(service, self.region, endpoint_url=self.endpoint)

    @property
    def router(self) -> Router:
        assert self._router is not None, "start() first"
        return self._router

    @property
    def runner(self) -> LambdaRunner:
        assert self._runner is not None, "start() first"
        return self._runner

    @property
    def findings(self) -> FindingEmitter | None:
        return self._findings

    @property
    def invocations(self) -> list[Invocation]:
        return list(self.runner.invocations)

    def guard_roles(self) -> set[str]:
        """The guard's own principals: roles the runner gave to functions, plus any named explicitly."""
        roles = set(self.extra_guard_roles)
        if self._runner is not None:
            roles |= self._runner.role_arns()
        return roles

    def wait_idle(self, timeout: float = 10.0, settle: float = 0.05) -> bool:
        """Wait until no delivery, invocation or pending finding is in flight (and stays so briefly)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.activity.wait_idle(max(0.0, deadline - time.monotonic())):
                return False
            time.sleep(settle)
            if self.activity.busy == 0:
                return True
        return False

    # -- schedules ---------------------------------------------------------------------------------
    def schedule_rules(self, account: str | None = None) -> list[str]:
        """Names of the EventBridge rules that run on a schedule (``ScheduleExpression``) in ``account``
        (default: the cloud's own account)."""
        return [r.name for r in rules_for(account or self.account, self.region) if r.scheduled_expression]

    def fire_schedule(self, rule_name: str, account: str | None = None) -> list[Delivery]:
        """Fire a schedule rule now, as EventBridge does at each period (moto never fires schedules).

        The ``Scheduled Event`` goes through the same router and runner as every other event, so a
        disabled rule, a deleted or throttled function or a missing permission stops it as on AWS.
        """
        account = account or self.account
        rule = next((r for r in rules_for(account, self.region) if r.name == rule_name), None)
        if rule is None or not rule.scheduled_expression:
            raise ValueError(f"no schedule rule named {rule_name}")
        if rule.state not in ENABLED_STATES:
            return []
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [rule.arn],
            "detail": {},
        }
        return self.router.deliver_to_rule(rule, event)

    def fire_schedules(self) -> list[Delivery]:
        """Fire every schedule rule of every account in :attr:`accounts` once (the on-demand backstop),
        or only those :attr:`schedule_names` names."""
        return [
            d
            for account in self.accounts
            for name in self.schedule_rules(account)
            if self.schedule_names is None or name in self.schedule_names
            for d in self.fire_schedule(name, account)
        ]

    def run_schedules(self, interval: float) -> None:
        """Fire every schedule rule each ``interval`` seconds until :meth:`stop` (a stand-in for the
        rules' own rate, which would make a demo wait minutes)."""
        if interval <= 0 or self._schedule_thread is not None:
            return

        def loop() -> None:
            while not self._schedule_stop.wait(interval):
                try:
                    self.fire_schedules()
                except Exception:
                    log.exception("firing the schedule rules failed")

        self._schedule_thread = threading.Thread(target=loop, name="trailguard-schedules", daemon=True)
        self._schedule_thread.start()

    def _journal_invocation(self, inv: Invocation) -> None:
        if self.invocations_path is None:
            return
        line = json.dumps(inv.to_dict(), default=str, separators=(",", ":"))
        with self._journal_lock, self.invocations_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
