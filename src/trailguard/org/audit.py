"""``trailguard audit``: every account and region against Security Hub's CloudTrail controls and
trailguard's own checks (:mod:`trailguard.org.checks`), concurrently, in four steps:

1. the organization (``--org``, the caller's credentials, the management account's): its accounts
   (``ListAccounts`` or the ``--ou`` OUs and the OUs below them; suspended ones skipped and noted), the
   account's path to the root, trailguard's SCPs, trusted access, delegated admins, the stack set's
   instances, the caller's organization trails;
2. per account: its credentials (``AssumeRole`` into ``--role-name``; the caller's own account with its
   own), its regions (``--region``'s that are enabled there, or every enabled one), its buckets;
3. per account and region: the trails visible there, the trailguard stack, its wiring, its baselines;
4. per account: each trail it owns read once in its home region (status, selectors), each log bucket it
   owns read once where it lives.

Steps 2-4 run on one thread pool; the rows are then judged from the facts and sorted by account,
region and check, whatever order the work finished in. A call that fails is the ERROR row of what it
would have shown (an account that cannot be assumed: an ERROR row for every check of every region),
never a crash, never a missing row, never a pass. Clients use botocore's standard retries and
timeouts; one client per service and region serves every account (:class:`Factory`).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TextIO, TypeVar

from trailguard.aws import error_text
from trailguard.org import audit_facts as facts
from trailguard.org import checks
from trailguard.org.checks import ANYWHERE, BaselineFacts, BucketFacts, OrgFacts, Row, StackFacts, TrailFacts

DEFAULT_ROLE = "OrganizationAccountAccessRole"
ORGANIZATIONS_REGION = "us-east-1"
SESSION_NAME = "trailguard-audit"
RETRIES: Any = {"mode": "standard", "max_attempts": 4}
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 20

T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """What to audit; ``home_region`` is where the global calls (STS, Organizations' answers) go."""

    home_region: str
    org: bool = False
    role_name: str = DEFAULT_ROLE
    regions: tuple[str, ...] = ()
    all_enabled_regions: bool = False
    ous: tuple[str, ...] = ()
    workers: int = 16
    stack_name: str = "trailguard"
    name_prefix: str = "trailguard"
    checks: tuple[str, ...] = ()
    """Check ids or prefixes to run (``CloudTrail`` selects CloudTrail.1-7); empty: every check."""
    profile: str | None = None
    endpoint_url: str | None = None

    def wants(self, check: str) -> bool:
        return not self.checks or any(
            check == c or check.startswith(c.rstrip(".") + ".") for c in self.checks
        )


_CALLING: ContextVar[tuple[str, Any] | None] = ContextVar("trailguard_audit_calling", default=None)
"""The account a call in flight is made for, and its frozen credentials (None: the caller's own)."""


def calling_account() -> str:
    """The account whose call is in flight on this thread ("" outside one): what a botocore event hook
    registered on :attr:`Factory.session` asks to tell one account's calls from another's."""
    bound = _CALLING.get()
    return bound[0] if bound is not None else ""


class _Bound:
    """One shared client, its calls made as one account: each method call binds the account's
    credentials for its duration (the signer reads them, :class:`_ContextCredentials`)."""

    def __init__(self, client: Any, account: str, frozen: Any) -> None:
        self._client = client
        self._binding = (account, frozen)

    def __getattr__(self, name: str) -> Any:
        if name in ("get_paginator", "get_waiter"):  # they would call the raw client, unbound
            raise AttributeError(f"{name} is not bound to an account; page by hand")
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            token = _CALLING.set(self._binding)
            try:
                return attr(*args, **kwargs)
            finally:
                _CALLING.reset(token)

        return call


class Factory:
    """Clients for any account from one session, one client per service and region shared by every
    account and thread: a call signs with the credentials of the account it is made for (bound per call,
    read by the signer), so a fleet of N accounts x M regions makes M clients per service, not N x M
    (making a client costs more than a call). Standard retries, timeouts, a pool as wide as the workers.
    Hooks registered on :attr:`session`'s events before the run reach every client (the benchmark's
    latency, the tests' call recorder and injected failures; :func:`calling_account` says whose call)."""

    def __init__(self, profile: str | None, endpoint_url: str | None, workers: int) -> None:
        import boto3
        import botocore.session
        from botocore.config import Config

        default = boto3.session.Session(profile_name=profile).get_credentials()
        core = botocore.session.Session(profile=profile)
        core.register_component("credential_provider", _resolver(default))
        self.session: Any = boto3.session.Session(botocore_session=core)
        self.endpoint_url = endpoint_url
        self.config = Config(
            retries=RETRIES,
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=max(10, workers),
            user_agent_extra="trailguard-audit",
        )
        self._lock = threading.Lock()
        self._made: dict[tuple[str, str], Any] = {}

    def _client(self, service: str, region: str) -> Any:
        with self._lock:  # a boto3 session is not thread-safe
            if (service, region) not in self._made:
                self._made[(service, region)] = self.session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=self.config
                )
            return self._made[(service, region)]

    def clients(self, credentials: Mapping[str, str] | None, account: str = "") -> facts.Clients:
        """``clients(service, region)`` calling as ``account`` with ``credentials`` (None: the caller's)."""
        frozen = None
        if credentials is not None:
            from botocore.credentials import ReadOnlyCredentials

            frozen = ReadOnlyCredentials(
                credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials.get("SessionToken")
            )

        def get(service: str, region: str) -> Any:
            return _Bound(self._client(service, region), account, frozen)

        return get


def _resolver(default: Any) -> Any:
    """A credential resolver whose one credentials object answers with the bound account's credentials,
    else the caller's own (``default``)."""
    from botocore.credentials import CredentialProvider, CredentialResolver, Credentials
    from botocore.exceptions import NoCredentialsError

    class _ContextCredentials(Credentials):
        def __init__(self) -> None:
            super().__init__("bound-per-call", "bound-per-call")

        def get_frozen_credentials(self) -> Any:
            bound = _CALLING.get()
            if bound is not None and bound[1] is not None:
                return bound[1]
            if default is None:
                raise NoCredentialsError()
            return default.get_frozen_credentials()

    class _Provider(CredentialProvider):
        METHOD = "trailguard-audit"

        def load(self) -> Any:
            return _ContextCredentials()

    return CredentialResolver([_Provider()])


class Progress:
    """``done/total`` on stderr, redrawn in place, only when stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def step(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            self.done += 1
            width = 30
            filled = width * self.done // max(1, self.total)
            self.stream.write(f"\raudit [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()

    def grow(self, more: int) -> None:
        with self._lock:
            self.total += more


@dataclass
class Account:
    id: str
    name: str = ""
    status: str = "ACTIVE"
    credentials: Mapping[str, str] | None = None
    regions: tuple[str, ...] = ()
    buckets: frozenset[str] = frozenset()
    error: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "audited": self.status == "ACTIVE" and not self.error,
            "regions": list(self.regions),
            "error": self.error,
            "note": self.note,
        }


@dataclass
class RegionResult:
    trails: list[TrailFacts] = field(default_factory=list)
    trails_error: str = ""
    stack: StackFacts = field(default_factory=StackFacts)
    baseline: BaselineFacts | None = None


@dataclass
class Report:
    rows: list[Row]
    accounts: list[Account]
    notes: list[str]
    organization: OrgFacts | None = None

    def failing(self, fail_on: str) -> list[Row]:
        return checks.failing(self.rows, fail_on)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in checks.STATUSES}
        for row in self.rows:
            out[row.status] = out.get(row.status, 0) + 1
        return out


def _status(account: Mapping[str, Any]) -> str:
    return str(account.get("State") or account.get("Status") or "ACTIVE")


class Audit:
    """One audit run (:func:`run`): the facts as they come in, then the rows."""

    def __init__(self, options: Options, factory: Factory, progress: Progress) -> None:
        self.options = options
        self.factory = factory
        self.progress = progress
        self.own = factory.clients(None)
        self.notes: list[str] = []
        self.org: OrgFacts | None = None
        self.instances: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.caller = ""
        self.partition = "aws"
        self.results: dict[tuple[str, str], RegionResult] = {}
        self.states: dict[str, TrailFacts] = {}
        self.caller_org_trails: list[TrailFacts] = []
        self.buckets: dict[tuple[str, str], list[BucketFacts]] = {}
        self._lock = threading.Lock()

    # -- step 1
    def discover(self) -> list[Account]:
        opts = self.options
        identity = self.own("sts", opts.home_region).get_caller_identity()
        self.caller = str(identity["Account"])
        self.own = self.factory.clients(None, self.caller)
        self.partition = str(identity.get("Arn") or "arn:aws:").split(":")[1] or "aws"
        if not opts.org:
            return [Account(self.caller)]
        self.org = facts.organization(self.own, ORGANIZATIONS_REGION)
        if self.org.management_account and self.org.management_account != self.caller:
            self.notes.append(
                f"run as {self.caller}, not the management account {self.org.management_account}: "
                "that account is reached through --role-name like the others"
            )
        listed = facts.accounts(self.own, ORGANIZATIONS_REGION, opts.ous)
        accounts = sorted(
            (Account(str(a["Id"]), str(a.get("Name") or ""), _status(a)) for a in listed), key=lambda a: a.id
        )
        for account in accounts:
            if account.status != "ACTIVE":
                account.note = f"skipped: {account.status.lower()}"
                self.notes.append(f"account {account.id} ({account.name}) skipped: {account.status}")
        active = [a.id for a in accounts if a.status == "ACTIVE"]
        if any(opts.wants(c) for c in (*checks.CLOUDTRAIL_CHECKS, "TG.only-trail")):
            self.read_caller_org_trails()
        paths, errors = facts.paths(self.own, ORGANIZATIONS_REGION, active)
        self.org = replace(self.org, paths=paths)
        self.notes.extend(errors)
        if any(opts.wants(c) for c in ("TG.instance", "TG.wiring", "TG.baseline")):
            try:
                where = list(opts.regions) or [opts.home_region]
                self.instances, found_in = facts.stack_instances(self.own, where)
                if found_in:
                    self.notes.append(f"stack set {facts.STACK_SET} read in {found_in}")
                else:
                    self.notes.append(f"no stack set {facts.STACK_SET} in {', '.join(where)}")
            except Exception as exc:
                self.notes.append(f"stack set {facts.STACK_SET} not readable: {error_text(exc)}")
        return accounts

    def read_caller_org_trails(self) -> None:
        """The organization trails the caller (the management account) owns, read once in their home
        region, so that every member counts them even where the caller's account is not audited
        (``--ou``) or a member's DescribeTrails does not list them; not readable: the members' own
        listings and reads stand, and a note says so."""
        try:
            listed = facts.trails(self.own, self.options.home_region)
            owned = [t for t in listed if t.organization and t.account == self.caller]
            read = [facts.trail_state(self.own, t) for t in owned]
        except Exception as exc:
            self.notes.append(f"the caller's organization trails not read: {error_text(exc)}")
            return
        self.caller_org_trails = read
        self.states.update({t.arn: t for t in read})

    # -- step 2
    def reach(self, account: Account) -> None:
        opts = self.options
        try:
            if account.id != self.caller:
                role = f"arn:{self.partition}:iam::{account.id}:role/{opts.role_name}"
                answer = self.own("sts", opts.home_region).assume_role(
                    RoleArn=role, RoleSessionName=SESSION_NAME
                )
                account.credentials = answer["Credentials"]
            clients = self.factory.clients(account.credentials, account.id)
            account.regions = self.regions(account, clients)
            if opts.wants("CloudTrail.6") or opts.wants("CloudTrail.7"):
                account.buckets = frozenset(facts.owned_buckets(clients, opts.home_region))
        except Exception as exc:
            what = "AssumeRole" if account.credentials is None and account.id != self.caller else "reading it"
            account.error = f"unreachable ({what}): {error_text(exc)}"
        finally:
            self.progress.step()

    def regions(self, account: Account, clients: facts.Clients) -> tuple[str, ...]:
        """The regions to audit in ``account``: ``--region``'s that are enabled there (a region not
        opted in answers every call with an authentication error, c7n #7478), or every enabled one;
        a skipped region is noted. DescribeRegions refused with ``--region`` given: those, as asked."""
        wanted = self.options.regions
        try:
            enabled = facts.enabled_regions(clients, self.options.home_region)
        except Exception as exc:
            if not wanted:
                raise
            with self._lock:
                self.notes.append(f"account {account.id}: enabled regions not read ({error_text(exc)})")
            return tuple(wanted)
        if not wanted:
            return tuple(enabled)
        skipped = [r for r in wanted if r not in enabled]
        if skipped:
            account.note = f"not enabled there, skipped: {', '.join(skipped)}"
            with self._lock:
                self.notes.append(
                    f"account {account.id}: region(s) not enabled, skipped: {', '.join(skipped)}"
                )
        return tuple(r for r in wanted if r in enabled)

    # -- step 3
    def region(self, account: Account, region: str) -> None:
        opts = self.options
        clients = self.factory.clients(account.credentials, account.id)
        result = RegionResult()
        try:
            if any(opts.wants(c) for c in (*checks.CLOUDTRAIL_CHECKS, "TG.only-trail")):
                try:
                    result.trails = facts.trails(clients, region)
                except Exception as exc:
                    result.trails_error = f"DescribeTrails: {error_text(exc)}"
            if any(opts.wants(c) for c in ("TG.instance", "TG.wiring", "TG.baseline")):
                instance = self.instances.get((account.id, region))
                try:
                    listed = facts.stacks(clients, region)
                except Exception as exc:
                    result.stack = StackFacts(name="?", error=f"DescribeStacks: {error_text(exc)}")
                else:
                    stack_facts, stack, outputs = facts.stack_facts(
                        clients,
                        region,
                        listed,
                        plain=opts.stack_name,
                        prefix=opts.name_prefix,
                        instance=instance,
                    )
                    result.stack = stack_facts
                    if stack is not None and opts.wants("TG.baseline"):
                        with facts.bound(account.credentials, region, opts.endpoint_url):
                            result.baseline = facts.baseline_facts(
                                stack,
                                outputs,
                                region,
                                profile=None if account.credentials else opts.profile,
                                endpoint_url=opts.endpoint_url,
                            )
        except Exception as exc:  # a bug must not hide the rest: this region's rows say it
            result.trails_error = result.trails_error or f"{type(exc).__name__}: {exc}"
            result.stack = StackFacts(name="?", error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            self.results[(account.id, region)] = result
        self.progress.step()

    # -- step 4
    def owned(self, account: Account, audited: set[str], org_trails: list[TrailFacts]) -> None:
        try:
            self._owned(account, audited, org_trails)
        except Exception as exc:  # a bug must not hide the rest: its trails read as not read (ERROR)
            with self._lock:
                self.notes.append(
                    f"account {account.id}: its trails and buckets not read: {type(exc).__name__}: {exc}"
                )
        finally:
            self.progress.step()

    def _owned(self, account: Account, audited: set[str], org_trails: list[TrailFacts]) -> None:
        clients = self.factory.clients(account.credentials, account.id)
        seen: dict[str, TrailFacts] = {}
        for region in account.regions:
            for trail in self.results.get((account.id, region), RegionResult()).trails:
                if trail.arn in self.states:  # read already (the caller's organization trails)
                    continue
                if trail.account == account.id or trail.account not in audited:
                    seen.setdefault(trail.arn, trail)
        states = {arn: facts.trail_state(clients, trail) for arn, trail in seen.items()}
        referenced = {t.bucket for t in seen.values() if t.bucket} | {
            t.bucket for t in org_trails if t.bucket
        }
        found: dict[tuple[str, str], list[BucketFacts]] = {}
        notes = []
        for name in sorted(referenced & account.buckets):
            try:
                where = facts.bucket_region(clients, self.options.home_region, name)
            except Exception as exc:
                for region in account.regions:  # unknown where it lives: said in every region audited
                    found.setdefault((account.id, region), []).append(
                        BucketFacts(name, region, error=f"GetBucketLocation: {error_text(exc)}")
                    )
                continue
            if where not in account.regions:
                notes.append(f"log bucket {name} of {account.id} lives in {where}, which is not audited")
                continue
            found.setdefault((account.id, where), []).append(facts.bucket(clients, name, where))
        with self._lock:
            self.states.update(states)
            self.buckets.update(found)
            self.notes.extend(notes)

    # -- the rows
    def rows(self, accounts: list[Account]) -> list[Row]:
        opts = self.options
        rows: list[Row] = []
        org_trails = self.org_trails(accounts)
        management = self.org.management_account if self.org else ""
        for account in accounts:
            if account.status != "ACTIVE":
                continue
            if self.org is not None and opts.wants("TG.scp"):
                rows.append(checks.scp(account.id, self.org))
            if account.error:
                regions = account.regions or tuple(opts.regions) or (ANYWHERE,)
                rows.extend(checks.unreachable(account.id, regions, account.error))
                continue
            for region in account.regions:
                rows.extend(
                    self.region_rows(account, region, org_trails, expect_instance=account.id != management)
                )
        if self.org is not None and opts.wants("TG.org"):
            rows.append(checks.organization(self.org))
        return checks.sort_rows(r for r in rows if opts.wants(r.check))

    def org_trails(self, accounts: list[Account]) -> list[TrailFacts]:
        """Organization trails as their owner lists them (a member's DescribeTrails may not): the
        caller's (read at the start, whether or not its account is audited) and any audited owner's."""
        del accounts
        found: dict[str, TrailFacts] = {t.arn: t for t in self.caller_org_trails}
        for (owner, _region), result in sorted(self.results.items()):
            for trail in result.trails:
                if trail.organization and trail.account == owner:
                    found.setdefault(trail.arn, trail)
        return [found[arn] for arn in sorted(found)]

    def region_rows(
        self, account: Account, region: str, org_trails: list[TrailFacts], *, expect_instance: bool
    ) -> list[Row]:
        result = self.results.get((account.id, region), RegionResult())
        rows: list[Row] = []
        if result.trails_error:
            rows.extend(
                Row(account.id, region, c, checks.ERROR, "", result.trails_error)
                for c in (*checks.CLOUDTRAIL_CHECKS, "TG.only-trail")
            )
        else:
            visible: dict[str, TrailFacts] = {}
            for trail in [*result.trails, *(t for t in org_trails if t.visible_in(region))]:
                if trail.arn in visible:
                    continue
                state = self.states.get(trail.arn)
                visible[trail.arn] = (
                    state if state is not None else replace(trail, error="its status was not read")
                )
            listed = [visible[arn] for arn in sorted(visible)]
            rows.extend(
                checks.cloudtrail(account.id, region, listed, self.buckets.get((account.id, region), []))
            )
            rows.append(checks.only_trail(account.id, region, listed))
        rows.append(
            checks.instance(
                account.id, region, result.stack, expect_instance=expect_instance and self.org is not None
            )
        )
        rows.append(checks.wiring(account.id, region, result.stack))
        rows.append(checks.baseline(account.id, region, result.stack.name, result.baseline))
        return rows


def _pool(workers: int, jobs: Iterable[Callable[[], T]]) -> list[T]:
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trailguard-audit") as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result() for f in futures]


def run(options: Options, *, factory: Factory | None = None, progress: Progress | None = None) -> Report:
    """Audit as ``options`` says; raises only when the caller's own account or organization cannot be
    read (nothing else could be audited then)."""
    factory = factory or Factory(options.profile, options.endpoint_url, options.workers)
    audit = Audit(options, factory, progress or Progress(0))
    accounts = audit.discover()
    active = [a for a in accounts if a.status == "ACTIVE"]
    audit.progress.grow(len(active))
    _pool(options.workers, [partial(audit.reach, a) for a in active])
    reached = [a for a in active if not a.error]
    pairs = [(a, r) for a in reached for r in a.regions]
    audit.progress.grow(len(pairs) + len(reached))
    _pool(options.workers, [partial(audit.region, a, r) for a, r in pairs])
    audited = {a.id for a in reached}
    org_trails = audit.org_trails(reached)
    _pool(options.workers, [partial(audit.owned, a, audited, org_trails) for a in reached])
    return Report(audit.rows(accounts), accounts, sorted(set(audit.notes)), audit.org)
