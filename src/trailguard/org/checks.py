"""The checks of ``trailguard audit``, pure: facts read from one account and region in, rows out.

Nothing here calls AWS (:mod:`trailguard.org.audit_facts` reads the facts); each check is one function
that sees only plain data, so a test can state a fact and the verdict it must give.

Security Hub's CloudTrail controls, as its control reference describes them:

=============  ========  ===========================================================================
control        severity  passes when
=============  ========  ===========================================================================
CloudTrail.1   HIGH      a multi-Region trail visible here (the organization trail counts) is logging
                         and records read and write management events
CloudTrail.2   MEDIUM    each trail homed here (in this account) encrypts its logs with a KMS key
CloudTrail.3   HIGH      at least one trail visible here is logging
CloudTrail.4   LOW       each trail homed here has log file validation on
CloudTrail.5   LOW       each trail homed here delivers to CloudWatch Logs
CloudTrail.6   CRITICAL  each trail's log bucket that lives here (this account, this region) is not public
CloudTrail.7   LOW       each such bucket has server access logging
=============  ========  ===========================================================================

Security Hub judges a trail or a bucket only where it lives, so .2, .4 and .5 are rows of the trail's
home region in the account that owns it, and .6 and .7 rows of the bucket's region in the account that
owns it; where nothing of the kind lives the row is ``N/A`` (every account and region gets every
control's row: a missing row is never a silent pass). .1 also asks that the trail be logging (a
stopped multi-Region trail records nothing).

trailguard's own: ``TG.instance`` (a current stack set instance or plain stack), ``TG.wiring`` (its rules
enabled with their targets, its functions present), ``TG.baseline`` (recorded and not drifted),
``TG.only-trail`` (WARN when the organization trail is the only logging trail: if it stops, EventBridge may
deliver nothing more), ``TG.scp`` (trailguard's SCPs attached on the account's path to the root),
``TG.org`` (trusted access and delegated administrators, once per organization).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trailguard.org.scp import CLOUDTRAIL_POLICY, SELF_POLICY

PASS, FAIL, WARN, NA, ERROR = "PASS", "FAIL", "WARN", "N/A", "ERROR"
STATUSES = (ERROR, FAIL, WARN, PASS, NA)
ANYWHERE = "-"
"""The region of a row about the account or the organization as a whole."""

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")

CHECKS: dict[str, tuple[str, str]] = {
    "CloudTrail.1": ("HIGH", "a multi-Region trail logs read and write management events"),
    "CloudTrail.2": ("MEDIUM", "trails encrypt their logs with a KMS key"),
    "CloudTrail.3": ("HIGH", "at least one trail is logging"),
    "CloudTrail.4": ("LOW", "log file validation is on"),
    "CloudTrail.5": ("LOW", "trails deliver to CloudWatch Logs"),
    "CloudTrail.6": ("CRITICAL", "the trail's log bucket is not public"),
    "CloudTrail.7": ("LOW", "the trail's log bucket has server access logging"),
    "TG.instance": ("HIGH", "a current trailguard stack (stack set instance or plain stack)"),
    "TG.wiring": ("HIGH", "trailguard's rules enabled with their targets, its functions present"),
    "TG.baseline": ("MEDIUM", "trailguard's baselines recorded and not drifted"),
    "TG.only-trail": ("MEDIUM", "the organization trail is not the only logging trail"),
    "TG.scp": ("MEDIUM", "trailguard's SCPs attached on the account's path to the root"),
    "TG.org": ("HIGH", "CloudTrail and StackSets trusted access, delegated administrators"),
}
"""Check id -> (severity, what passing means), in report order."""
CLOUDTRAIL_CHECKS = tuple(c for c in CHECKS if c.startswith("CloudTrail."))
REGION_CHECKS = (*CLOUDTRAIL_CHECKS, "TG.instance", "TG.wiring", "TG.baseline", "TG.only-trail")
"""Checks made in every audited account and region."""
ORDER = {check: index for index, check in enumerate(CHECKS)}

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
HEALTHY_STACK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})


@dataclass(frozen=True)
class Row:
    """One verdict: a check on one account and region (``-``: the account or organization as a whole),
    about one resource where the check judges several."""

    account: str
    region: str
    check: str
    status: str
    resource: str = ""
    detail: str = ""

    @property
    def severity(self) -> str:
        return CHECKS[self.check][0]

    def key(self) -> tuple[str, str, int, str]:
        """Sort order: account, region, check (report order), resource; never completion order."""
        return (self.account, self.region, ORDER.get(self.check, len(ORDER)), self.resource)

    def to_dict(self) -> dict[str, str]:
        return {
            "account": self.account,
            "region": self.region,
            "check": self.check,
            "status": self.status,
            "severity": self.severity,
            "resource": self.resource,
            "detail": self.detail,
        }


def sort_rows(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=Row.key)


def failing(rows: Iterable[Row], fail_on: str) -> list[Row]:
    """The rows that make the audit fail: every ERROR, every FAIL at ``fail_on``'s severity or above
    (``low``: any FAIL), and with ``warn`` every WARN too."""
    floor = 0 if fail_on == "warn" else SEVERITIES.index(fail_on.upper())
    out = []
    for row in rows:
        fails = row.status == FAIL and SEVERITIES.index(row.severity) >= floor
        if row.status == ERROR or fails or (row.status == WARN and fail_on == "warn"):
            out.append(row)
    return out


# ------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class TrailFacts:
    """A trail as DescribeTrails lists it, with its GetTrailStatus and GetEventSelectors answers
    (``logging`` and ``coverage`` None: not read, ``error`` says why)."""

    arn: str
    name: str
    home_region: str
    multi_region: bool = False
    organization: bool = False
    kms_key: str = ""
    validation: bool = False
    log_group: str = ""
    bucket: str = ""
    logging: bool | None = None
    coverage: tuple[bool, bool] | None = None
    """(read, write) management events recorded, from the selectors."""
    error: str = ""

    @property
    def account(self) -> str:
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 else ""

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> TrailFacts:
        arn = str(entry.get("TrailARN") or entry.get("Name") or "")
        home = str(entry.get("HomeRegion") or (arn.split(":")[3] if arn.count(":") >= 5 else ""))
        return cls(
            arn=arn,
            name=str(entry.get("Name") or arn.rsplit("/", 1)[-1]),
            home_region=home,
            multi_region=bool(entry.get("IsMultiRegionTrail")),
            organization=bool(entry.get("IsOrganizationTrail")),
            kms_key=str(entry.get("KmsKeyId") or ""),
            validation=bool(entry.get("LogFileValidationEnabled")),
            log_group=str(entry.get("CloudWatchLogsLogGroupArn") or ""),
            bucket=str(entry.get("S3BucketName") or ""),
        )

    def visible_in(self, region: str) -> bool:
        return self.multi_region or self.home_region == region


@dataclass(frozen=True)
class BucketFacts:
    """A trail's log bucket, read where it lives: public access block, policy status, ACL, logging."""

    name: str
    region: str
    block_all: bool = False
    """All four public access block settings on (bucket or account level)."""
    policy_public: bool | None = None
    acl_public: bool | None = None
    access_logging: bool | None = None
    error: str = ""


@dataclass(frozen=True)
class StackFacts:
    """trailguard in one account and region: the stack found (name, status), the stack set instance
    as the management account lists it, and the wiring its outputs name."""

    name: str = ""
    status: str = ""
    instance_status: str = ""
    """The stack set instance's Status (CURRENT, OUTDATED, INOPERABLE), "" when none is listed."""
    instance_reason: str = ""
    rules: Mapping[str, tuple[str, tuple[str, ...]] | None] = field(default_factory=dict)
    """Expected rule name -> (State, target ARNs), None when the rule does not exist."""
    rule_functions: Mapping[str, str] = field(default_factory=dict)
    """Expected rule name -> the function its targets must include (a name), or the bus (an ARN)."""
    functions: Mapping[str, str | None] = field(default_factory=dict)
    """Expected function name -> its State (Active), None when it does not exist."""
    error: str = ""


@dataclass(frozen=True)
class BaselineFacts:
    """trailguard's recorded baselines against what recording them now would write (the comparison
    ``trailguard deploy`` makes before it re-records): missing, drifted, gone, tampered."""

    recorded: int = 0
    missing: tuple[str, ...] = ()
    drifted: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    tampered: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrgFacts:
    """The organization as its management account sees it."""

    id: str
    management_account: str
    feature_set: str = ""
    services: frozenset[str] = frozenset()
    """Service principals with trusted access."""
    delegated_admins: tuple[str, ...] = ()
    """CloudTrail's delegated administrators (account ids)."""
    policies: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """trailguard's SCP name -> the targets (root, OU, account ids) it is attached to."""
    paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Account id -> the ids from it up to the root (the account, its OUs, the root)."""
    errors: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------ checks


def _listed(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def cloudtrail(
    account: str,
    region: str,
    visible: Sequence[TrailFacts],
    buckets: Sequence[BucketFacts],
) -> list[Row]:
    """CloudTrail.1-7 for one account and region. ``visible``: every trail seen here (the account's
    own, shadow trails of multi-Region ones, the organization trail); ``buckets``: the trails' log
    buckets that live in this account and region."""
    rows: list[Row] = []
    logging = [t for t in visible if t.logging]
    full = [t for t in logging if t.multi_region and t.coverage == (True, True)]
    unknown = [t for t in visible if t.error]
    if full:
        rows.append(Row(account, region, "CloudTrail.1", PASS, full[0].arn, _names(full)))
    elif unknown:
        rows.append(Row(account, region, "CloudTrail.1", ERROR, "", _errors(unknown)))
    else:
        why = "no multi-Region trail that is logging and records read and write management events"
        if visible:
            why += f" (trails here: {_describe(visible)})"
        rows.append(Row(account, region, "CloudTrail.1", FAIL, "", why))
    if logging:
        rows.append(Row(account, region, "CloudTrail.3", PASS, logging[0].arn, _names(logging)))
    elif unknown:
        rows.append(Row(account, region, "CloudTrail.3", ERROR, "", _errors(unknown)))
    else:
        rows.append(
            Row(
                account,
                region,
                "CloudTrail.3",
                FAIL,
                "",
                "no trail visible here is logging" if visible else "no trail",
            )
        )
    homed = [t for t in visible if t.account == account and t.home_region == region]
    for check, good, bad in (
        (
            "CloudTrail.2",
            lambda t: bool(t.kms_key),
            "no KMS key: logs are encrypted with S3-managed keys only",
        ),
        ("CloudTrail.4", lambda t: t.validation, "log file validation is off"),
        ("CloudTrail.5", lambda t: bool(t.log_group), "no CloudWatch Logs log group"),
    ):
        if not homed:
            rows.append(Row(account, region, check, NA, "", "no trail of this account has its home here"))
        for trail in homed:
            rows.append(
                Row(
                    account,
                    region,
                    check,
                    PASS if good(trail) else FAIL,
                    trail.arn,
                    "" if good(trail) else bad,
                )
            )
    if not buckets:
        for check in ("CloudTrail.6", "CloudTrail.7"):
            rows.append(
                Row(account, region, check, NA, "", "no trail's log bucket lives in this account and region")
            )
    for bucket in buckets:
        rows.extend(_bucket_rows(account, region, bucket))
    return rows


def _bucket_rows(account: str, region: str, bucket: BucketFacts) -> list[Row]:
    if bucket.error:
        return [
            Row(account, region, c, ERROR, bucket.name, bucket.error)
            for c in ("CloudTrail.6", "CloudTrail.7")
        ]
    reasons = []
    if not bucket.block_all:
        if bucket.policy_public:
            reasons.append("its bucket policy makes it public")
        if bucket.acl_public:
            reasons.append("its ACL grants AllUsers or AuthenticatedUsers")
    if reasons:
        six = Row(account, region, "CloudTrail.6", FAIL, bucket.name, "; ".join(reasons))
    elif bucket.block_all:
        six = Row(account, region, "CloudTrail.6", PASS, bucket.name, "public access blocked")
    elif bucket.policy_public is None or bucket.acl_public is None:
        six = Row(
            account, region, "CloudTrail.6", ERROR, bucket.name, "its policy status or ACL could not be read"
        )
    else:
        six = Row(account, region, "CloudTrail.6", PASS, bucket.name, "not public (no public access block)")
    if bucket.access_logging is None:
        seven = Row(account, region, "CloudTrail.7", ERROR, bucket.name, "GetBucketLogging could not be read")
    elif bucket.access_logging:
        seven = Row(account, region, "CloudTrail.7", PASS, bucket.name)
    else:
        seven = Row(account, region, "CloudTrail.7", FAIL, bucket.name, "server access logging is off")
    return [six, seven]


def _names(trails: Sequence[TrailFacts]) -> str:
    return _listed([t.name + (" (organization)" if t.organization else "") for t in trails])


def _describe(trails: Sequence[TrailFacts]) -> str:
    parts = []
    for t in trails:
        traits = [
            "logging" if t.logging else "not logging",
            "multi-Region" if t.multi_region else "single-Region",
        ]
        if t.coverage is not None and t.coverage != (True, True):
            traits.append(
                "management events "
                + ("read only" if t.coverage[0] else "write only" if t.coverage[1] else "off")
            )
        parts.append(f"{t.name}: {', '.join(traits)}")
    return _listed(parts)


def _errors(trails: Sequence[TrailFacts]) -> str:
    return _listed([f"{t.name}: {t.error}" for t in trails])


def only_trail(account: str, region: str, visible: Sequence[TrailFacts]) -> Row:
    """WARN when every logging trail here is an organization trail: if it is stopped, EventBridge may
    deliver nothing more (CloudTrail's events need a logging trail), so only a backstop sees it."""
    logging = [t for t in visible if t.logging]
    org = [t for t in logging if t.organization]
    if not org:
        return Row(account, region, "TG.only-trail", NA, "", "no logging organization trail here")
    if len(org) == len(logging):
        return Row(
            account,
            region,
            "TG.only-trail",
            WARN,
            org[0].arn,
            "the organization trail is the only logging trail: if it stops, later events may not reach "
            "trailguard until its backstop runs; consider a second trail",
        )
    others = [t for t in logging if not t.organization]
    return Row(account, region, "TG.only-trail", PASS, org[0].arn, f"also logging: {_names(others)}")


def instance(account: str, region: str, stack: StackFacts, *, expect_instance: bool) -> Row:
    """A current stack set instance, else a healthy plain stack; ``expect_instance``: this account is
    one the stack set deploys to (a member), so a plain stack alone is named as the fallback it is."""
    if stack.error:
        return Row(account, region, "TG.instance", ERROR, stack.name, stack.error)
    if stack.instance_status == "CURRENT" and (not stack.status or stack.status in HEALTHY_STACK):
        return Row(account, region, "TG.instance", PASS, stack.name, "stack set instance CURRENT")
    if stack.instance_status:
        reason = f" ({stack.instance_reason})" if stack.instance_reason else ""
        return Row(
            account,
            region,
            "TG.instance",
            FAIL,
            stack.name,
            f"stack set instance {stack.instance_status}{reason}",
        )
    if stack.name and stack.status in HEALTHY_STACK:
        note = " (no stack set instance: a plain stack)" if expect_instance else ""
        return Row(account, region, "TG.instance", PASS, stack.name, f"{stack.status}{note}")
    if stack.name:
        return Row(account, region, "TG.instance", FAIL, stack.name, f"stack status {stack.status}")
    return Row(account, region, "TG.instance", FAIL, "", "no trailguard stack and no stack set instance here")


def wiring(account: str, region: str, stack: StackFacts) -> Row:
    """Every rule enabled and targeting its function, every function present."""
    if not stack.name:
        return Row(account, region, "TG.wiring", NA, "", "no trailguard stack here (see TG.instance)")
    if stack.error:
        return Row(account, region, "TG.wiring", ERROR, stack.name, stack.error)
    problems = []
    for rule, found in sorted(stack.rules.items()):
        if found is None:
            problems.append(f"rule {rule} missing")
            continue
        state, targets = found
        if state != "ENABLED":
            problems.append(f"rule {rule} {state or 'in no state'}")
        want = stack.rule_functions.get(rule)
        if want and not any(_targets(t, want) for t in targets):
            problems.append(f"rule {rule} does not target {want}" + ("" if targets else " (no targets)"))
    for function, function_state in sorted(stack.functions.items()):
        if function_state is None:
            problems.append(f"function {function} missing")
        elif function_state not in ("Active", ""):
            problems.append(f"function {function} {function_state}")
    if problems:
        return Row(account, region, "TG.wiring", FAIL, stack.name, "; ".join(problems))
    return Row(
        account,
        region,
        "TG.wiring",
        PASS,
        stack.name,
        f"{len(stack.rules)} rules enabled with their targets, {len(stack.functions)} functions",
    )


def _targets(target: str, want: str) -> bool:
    """A rule target that is ``want``: the bus ARN itself, or the function of that name."""
    if want.startswith("arn:"):
        return target == want
    return target.endswith((f":function:{want}", f":function:{want}:$LATEST"))


def baseline(account: str, region: str, stack_name: str, facts: BaselineFacts | None) -> Row:
    if not stack_name:
        return Row(account, region, "TG.baseline", NA, "", "no trailguard stack here (see TG.instance)")
    if facts is None:
        return Row(
            account,
            region,
            "TG.baseline",
            NA,
            stack_name,
            "the stack set instance's stack is not listed in the account, so its state table is unknown",
        )
    if facts.errors:
        return Row(account, region, "TG.baseline", ERROR, stack_name, _listed(list(facts.errors)))
    problems = []
    if facts.tampered:
        problems.append(f"tampered (fails verification): {_listed(list(facts.tampered))}")
    if facts.drifted:
        problems.append(f"drifted from the baseline: {_listed(list(facts.drifted))}")
    if facts.gone:
        problems.append(f"recorded but no longer found: {_listed(list(facts.gone))}")
    if facts.missing:
        problems.append(f"no baseline recorded: {_listed(list(facts.missing))}")
    if not facts.recorded and not problems:
        problems.append("no baseline recorded (trailguard baseline record)")
    if problems:
        return Row(account, region, "TG.baseline", FAIL, stack_name, "; ".join(problems))
    return Row(account, region, "TG.baseline", PASS, stack_name, f"{facts.recorded} baselines, no drift")


def scp(account: str, org: OrgFacts) -> Row:
    """trailguard's two SCPs attached on the account's path to the root (account, OUs, root)."""
    if account == org.management_account:
        return Row(account, ANYWHERE, "TG.scp", NA, "", "SCPs do not apply to the management account")
    path = org.paths.get(account)
    if path is None:
        return Row(account, ANYWHERE, "TG.scp", ERROR, "", "its parents could not be read")
    missing = [
        name
        for name in (CLOUDTRAIL_POLICY, SELF_POLICY)
        if not set(path) & org.policies.get(name, frozenset())
    ]
    if missing:
        return Row(
            account,
            ANYWHERE,
            "TG.scp",
            FAIL,
            "",
            f"not attached on its path to the root ({' > '.join(path)}): {', '.join(missing)} "
            "(trailguard scp --attach)",
        )
    return Row(account, ANYWHERE, "TG.scp", PASS, "", f"{CLOUDTRAIL_POLICY} and {SELF_POLICY} apply")


def organization(org: OrgFacts) -> Row:
    """Once per organization (a row of the management account): all features, CloudTrail's and
    StackSets' trusted access, CloudTrail's delegated administrators."""
    account = org.management_account
    if org.errors:
        return Row(account, ANYWHERE, "TG.org", ERROR, org.id, _listed(list(org.errors)))
    problems = []
    if org.feature_set and org.feature_set != "ALL":
        problems.append(f"feature set {org.feature_set}, not ALL")
    if CLOUDTRAIL_PRINCIPAL not in org.services:
        problems.append("CloudTrail trusted access is off (organization trails stop for member accounts)")
    if STACKSETS_PRINCIPAL not in org.services:
        problems.append("StackSets trusted access is off (no service-managed stack set, no auto-deployment)")
    admins = ", ".join(org.delegated_admins) or "none"
    if problems:
        return Row(
            account, ANYWHERE, "TG.org", FAIL, org.id, "; ".join(problems) + f"; delegated admins: {admins}"
        )
    if not org.delegated_admins:
        return Row(
            account,
            ANYWHERE,
            "TG.org",
            WARN,
            org.id,
            "no CloudTrail delegated administrator: only the management account can repair "
            "organization trails",
        )
    return Row(
        account, ANYWHERE, "TG.org", PASS, org.id, f"trusted access on; CloudTrail delegated admins: {admins}"
    )


def unreachable(account: str, regions: Sequence[str], why: str) -> list[Row]:
    """Every check an account could not be audited for in ``regions``, as ERROR rows (never absent,
    never a pass)."""
    return [Row(account, region, check, ERROR, "", why) for region in regions for check in REGION_CHECKS]
