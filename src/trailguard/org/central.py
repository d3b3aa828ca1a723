"""The central stack's policy (security account): pure, no AWS calls. The calls are in
:mod:`trailguard.org.central_run`; the Lambda entry point is :mod:`trailguard.central`.

What reaches the central function, and why this way:

* **Forwarded CloudTrail calls on trails** (bus ``trailguard-org``): every member's ``<prefix>-forward``
  rule and the management account's forwarder send the trail techniques' calls, successful or failed,
  to the organization bus. A successful ``StopLogging`` on an organization trail is only ever seen on the
  bus of the management (or delegated-admin) account in the trail's home region, so forwarding the call
  is the one way the security account learns of it within seconds; a member's ``AccessDenied`` try
  arrives the same way and is reported as an ATTEMPT, with no repair call.
* **Findings** (the security account's default bus): GuardDuty's and Security Hub's
  ``CloudTrailLoggingDisabled``; as GuardDuty / Security Hub administrator the security account sees
  every member's findings there.
* **Members' incidents** (a ``lambda`` subscription of the central function to the central topic):
  members already publish every incident to the central topic (``AlertTopicArn``), and the ``lambda``
  protocol gets the machine document (``trailguard.incident/1``). An incident whose repair was routed
  elsewhere (``routed``) or could not be verified is what must be escalated, and it exists only as that
  message: the forwarded call does not say what the member found or did. Putting incidents on the bus as
  well would be a second copy of each message to keep in step; the subscription needs no member change.
  The central function's own messages carry ``detected_by.handler`` ``central`` or the
  ``trailguard.central/1`` schema and are skipped, so it never escalates itself.
* **Members' alarms** (bus ``trailguard-org``): an alarm action names an SNS topic, and with
  ``AlertTopicArn`` the stack's own topic has no subscriber; CloudWatch also puts every alarm's state
  change on its account's default bus ("CloudWatch Alarm State Change", source ``aws.cloudwatch``,
  delivery guaranteed), so the ``<prefix>-forward`` rule forwards trailguard's own alarms going into
  ALARM to the organization bus (the same rule and role as the calls: no topic or key policy across
  accounts) and the central function tells them, once per state change (:func:`read_alarm`,
  :func:`alarm_news`, :func:`alarm_message`).
* **The schedule** (every 5 minutes): the organization backstop.

One message per incident: the account's own stack tells about its own incidents; the central function is
the fallback (:func:`fallback`). It records every member's or owner's message by its event id when the
topic delivers it, waits :data:`TOLD_GRACE_SECONDS` on a forwarded call, re-reads the trail, and tells
only when nobody did or the trail is still broken. An owner's UpdateTrail is judged by the live trail
it leaves (:func:`as_restored`), never by who made it.

Account and region always come from the payload (``detail.recipientAccountId`` / ``detail.awsRegion``,
the incident document's ``account`` / ``region``), never from the EventBridge envelope, which the
forwarding bus rewrites to the forwarder's.

moto has no CloudTrail delegated-administrator registration: the tests model the topology by parameter
(``ManagementAccountId`` names the account that holds the organization trail, the same moto account).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from trailguard import aws
from trailguard.config import split, switched_on
from trailguard.notify.notice import ACTION_REQUIRED
from trailguard.notify.renderer import Message, ascii_subject

BUS_NAME = "trailguard-org"
TOPIC_NAME = "trailguard-org-alerts"
FUNCTION_NAME = "trailguard-central"
STACK_NAME = "trailguard-central"
HANDLER = "central"
"""``detected_by.handler`` of the incidents the central function publishes."""
SCHEMA = "trailguard.central/1"
"""The schema of the central function's own escalation and backstop messages."""
INCIDENT_SCHEMA = "trailguard.incident/1"
SWEEP_SCHEMA = "trailguard.sweep/1"
BUS_POLICY_SID = "trailguard-organization-put-events"
"""The statement id ``deploy --org`` also uses when it sets the policy by API (PutPermission)."""

ANY_ACCOUNT_ROOT = "arn:aws:iam::*:root"
ESCALATE_STATUSES = frozenset({"routed"})
"""A member's incident status that always escalates: it could not repair the organization trail."""
UNVERIFIED_PHRASES = ("could not be verified", "could not verify")

EntryKind = Literal["schedule", "sns", "alarm", "events", "unknown"]


# ----------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class CentralSettings:
    """What the central template tells the function (``TRAILGUARD_*``)."""

    topic_arn: str | None = None
    management_account: str | None = None
    organization_id: str | None = None
    bus_arn: str | None = None
    role_arn: str | None = None
    security_hub: bool = True
    function_names: tuple[str, ...] = (FUNCTION_NAME,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CentralSettings:
        env = aws.environ() if env is None else env

        def text(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        return cls(
            topic_arn=text("TRAILGUARD_TOPIC_ARN"),
            management_account=text("TRAILGUARD_MANAGEMENT_ACCOUNT"),
            organization_id=text("TRAILGUARD_ORGANIZATION_ID"),
            bus_arn=text("TRAILGUARD_ORG_BUS_ARN"),
            role_arn=text("TRAILGUARD_GUARD_ROLE_ARNS"),
            security_hub=switched_on(env.get("TRAILGUARD_SECURITY_HUB")),
            function_names=split(env.get("TRAILGUARD_FUNCTION_NAMES")) or (FUNCTION_NAME,),
        )

    @property
    def account(self) -> str | None:
        """The security account (the topic's)."""
        return account_of(self.topic_arn or "")


def account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] or None if arn.startswith("arn:") and len(parts) > 5 else None


# ----------------------------------------------------------------------------------- the bus policy


def bus_policy(organization_id: str, bus_arn: str) -> dict[str, Any]:
    """The organization bus's resource policy: any principal of the organization may put events on it
    (the members' forward rules do, with their ``RoleArn``), nobody outside it. ``deploy --org`` sets
    this by API as well, since moto's CloudFormation skips ``AWS::Events::EventBusPolicy``."""
    if not organization_id.startswith("o-"):
        raise ValueError(f"not an organization id: {organization_id!r}")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": BUS_POLICY_SID,
                "Effect": "Allow",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            }
        ],
    }


def bus_policy_holds(policy: Any, organization_id: str, bus_arn: str) -> bool:
    """Whether a bus's policy (the JSON text DescribeEventBus returns, or a parsed document) is the
    organization's: its statement as :func:`bus_policy` writes it (any statement id), and no other
    statement that allows anything (a wider grant would let outsiders forge forwarded calls)."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy) if policy.strip() else None
        except ValueError:
            return False
    if not isinstance(policy, Mapping):
        return False
    statements = policy.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    wanted = bus_policy(organization_id, bus_arn)["Statement"][0]
    allows = [s for s in statements if not isinstance(s, Mapping) or s.get("Effect") != "Deny"]
    return bool(allows) and all(isinstance(s, Mapping) and _same_statement(s, wanted) for s in allows)


def bus_policy_repair(policy: Any, organization_id: str, bus_arn: str) -> tuple[list[str | None], bool]:
    """What must change for :func:`bus_policy_holds`: the ids of the statements that allow something
    other than the organization's statement (None for one without an id: only removing every statement
    removes it), and whether the organization's statement is there already. Statement by statement
    (RemovePermission, then PutPermission), because PutPermission with a whole policy merges on some
    endpoints (moto) and replaces on AWS."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy) if policy.strip() else None
        except ValueError:
            policy = None
    statements: list[Any] = []
    if isinstance(policy, Mapping):
        found = policy.get("Statement")
        statements = found if isinstance(found, list) else [found]
    wanted = bus_policy(organization_id, bus_arn)["Statement"][0]
    allows = [s for s in statements if not isinstance(s, Mapping) or s.get("Effect") != "Deny"]
    ours = [s for s in allows if isinstance(s, Mapping) and _same_statement(s, wanted)]
    foreign = [s for s in allows if not any(s is o for o in ours)]
    sids = [str(s["Sid"]) if isinstance(s, Mapping) and s.get("Sid") else None for s in foreign]
    return sids, bool(ours)


def _same_statement(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    def norm(value: Any) -> Any:
        if isinstance(value, list) and len(value) == 1:
            return norm(value[0])
        if isinstance(value, Mapping):
            return {k: norm(v) for k, v in value.items()}
        return value

    keys = ("Effect", "Principal", "Action", "Resource", "Condition")
    found_principal = norm(found.get("Principal"))
    if found_principal in ({"AWS": "*"}, {"AWS": ANY_ACCOUNT_ROOT}):  # PutPermission's spellings of "*"
        found_principal = "*"
    return found_principal == wanted["Principal"] and all(
        norm(found.get(k)) == norm(wanted[k]) for k in keys if k != "Principal"
    )


# ----------------------------------------------------------------------------------- entries


def entry_kind(event: Any) -> EntryKind:
    """What one invocation carries: the schedule, SNS messages (members' incidents), or an EventBridge
    envelope (a forwarded call or a finding)."""
    if not isinstance(event, Mapping):
        return "unknown"
    if event.get("detail-type") == "Scheduled Event" and event.get("source") == "aws.events":
        return "schedule"
    records = event.get("Records")
    if (
        isinstance(records, list)
        and records
        and all(
            isinstance(r, Mapping) and str(r.get("EventSource", "")).lower() == "aws:sns" for r in records
        )
    ):
        return "sns"
    if event.get("detail-type") == ALARM_DETAIL_TYPE and event.get("source") == ALARM_SOURCE:
        return "alarm"
    if "detail-type" in event:
        return "events"
    return "unknown"


# ----------------------------------------------------------------------------------- organization trails


def trail_account(ref: str) -> str | None:
    """The account a trail ARN names (None for a bare name)."""
    return account_of(ref) if ref.startswith("arn:") and ":trail/" in ref else None


def is_org_trail(trail: Mapping[str, Any], management_account: str | None) -> bool:
    """An organization trail of the management account: ``IsOrganizationTrail`` and its ARN names it."""
    arn = str(trail.get("TrailARN") or "")
    return (
        bool(trail.get("IsOrganizationTrail"))
        and bool(management_account)
        and (trail_account(arn) == management_account)
    )


def names_org_trail(ref: str, management_account: str | None) -> bool:
    """Whether a reference can name an organization trail: an ARN in the management account (a bare
    name is resolved against the listed organization trails instead)."""
    return bool(management_account) and trail_account(ref) == management_account


# ----------------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Gap:
    """One property of an organization trail that is off: what, and whether the central function
    repairs it without a recorded value (``fix``: the UpdateTrail parameter that only strengthens)."""

    field: str
    text: str
    fix: tuple[str, bool] | None = None


def trail_gaps(trail: Mapping[str, Any], baseline: Mapping[str, Any] | None = None) -> list[Gap]:
    """What is weaker on ``trail`` (DescribeTrails) than ``baseline`` (its recorded state) or, without
    one, than the organization floor: a KMS key, log file validation and CloudWatch Logs. Logging itself
    is read from GetTrailStatus, not here. Validation is switched back on by the central function (it only
    strengthens); a key or a log group needs the recorded value, held by the management account's stack."""
    gaps: list[Gap] = []
    want = baseline or {}
    name = str(trail.get("Name") or trail.get("TrailARN"))
    if not trail.get("KmsKeyId"):
        recorded = want.get("KmsKeyId")
        gaps.append(
            Gap(
                "KmsKeyId",
                f"trail {name} has no KMS key"
                + (f" (recorded: {recorded})" if recorded else " (organization floor: SSE-KMS)"),
            )
        )
    if not trail.get("LogFileValidationEnabled") and want.get("LogFileValidationEnabled", True):
        gaps.append(
            Gap(
                "LogFileValidationEnabled",
                f"trail {name} has log file validation off",
                ("EnableLogFileValidation", True),
            )
        )
    if not trail.get("CloudWatchLogsLogGroupArn"):
        recorded = want.get("CloudWatchLogsLogGroupArn")
        if recorded or baseline is None:
            gaps.append(
                Gap(
                    "CloudWatchLogsLogGroupArn",
                    f"trail {name} delivers to no CloudWatch Logs group"
                    + (f" (recorded: {recorded})" if recorded else " (organization floor: CloudWatch Logs)"),
                )
            )
    return gaps


# ----------------------------------------------------------------------------------- one voice per incident


TOLD_PK = "central#told"
"""The central ledger's record, per CloudTrail event id (``sk``), of who told the security team about it:
the account's own stack (its message arrived on the central topic) or the central function."""
TOLD_GRACE_SECONDS = 10.0
"""How long the central function waits on a forwarded call before it re-reads the trail and looks for the
account's own message: the member's or owner's function repairs and publishes within seconds (EventBridge,
the repair, SNS to this function), as :data:`trailguard.notify.ledger.FINDING_GRACE_SECONDS` gives the
API-call path its head start over a finding."""
TOLD_TTL_SECONDS = 7 * 86400
BY_CENTRAL = "central"


def fallback(verdict: str, status: str | None) -> Literal["tell", "unless-told"]:
    """Whether the central function's message on a forwarded call (or finding) goes out whatever the
    account's own stack said (``tell``), or only when that stack's message has not arrived
    (``unless-told``).

    The central function is the fallback, not a second voice: the account's own stack tells the security
    team about its own incidents (a member's ATTEMPT, the owner's REPAIRED). So a member's failed try, and
    a change that the re-read after the grace finds already undone (``already-restored``), are the central
    function's news only when nobody told. A trail it found still broken (it repaired it, or could not) is
    always told: the account's message said something that is no longer true, or nothing."""
    if verdict == "attempt":
        return "unless-told"
    return "unless-told" if status == "already-restored" else "tell"


# ----------------------------------------------------------------------------------- the owner's repairs


RESTORED_PK = "central#restored"
"""The central ledger's record, per organization trail ARN (``sk``), of what the management account's
stack last reported it restored on it (the parameters of its verified UpdateTrail repair)."""
RESTORED_SECONDS = 3600
"""How long such a report stands for judging the UpdateTrail calls that follow it."""
RESTORABLE = {
    "S3BucketName": "S3BucketName",
    "S3KeyPrefix": "S3KeyPrefix",
    "SnsTopicName": "SnsTopicName",
    "KmsKeyId": "KmsKeyId",
    "CloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
    "EnableLogFileValidation": "LogFileValidationEnabled",
    "IncludeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "IsMultiRegionTrail": "IsMultiRegionTrail",
    "IsOrganizationTrail": "IsOrganizationTrail",
}
"""UpdateTrail's parameters and the DescribeTrails field each one sets."""


def restored_values(remediation: Any) -> dict[str, str]:
    """What a repair's successful UpdateTrail calls set (its message's ``remediation.calls``)."""
    restored: dict[str, str] = {}
    if not isinstance(remediation, Mapping):
        return restored
    for made in remediation.get("calls") or []:
        if not isinstance(made, Mapping) or made.get("operation") != "UpdateTrail" or made.get("error"):
            continue
        params = made.get("params")
        for key, value in params.items() if isinstance(params, Mapping) else ():
            if key in RESTORABLE:
                restored[key] = str(value)
    return restored


def as_restored(
    live: Mapping[str, Any], restored: Mapping[str, str], request: Mapping[str, Any]
) -> str | None:
    """Why an UpdateTrail's result is not "as the owner's stack restored it" (None: it is).

    The judgement is of the live trail, read by ARN by the central function after the grace, never of
    who called: every property the owner's message reports restored must read back with that value, and
    the call may set nothing else (a parameter it sets that the report does not cover is news). Logging,
    the KMS key, validation and CloudWatch Logs are checked on the live trail before this is asked
    (:func:`trail_gaps`, GetTrailStatus), so a call that weakens any of them is news whoever made it, the
    owner's role included; and a call that redirects the trail leaves a destination other than the
    reported one. A caller can therefore only be quiet by leaving the trail exactly as the management
    account's stack restored it from its recorded baseline, which is not a degradation."""
    if not restored:
        return "no restoration of this trail was reported"
    for param, value in sorted(restored.items()):
        found = live.get(RESTORABLE[param])
        if not _same_value(found, value):
            field_name = RESTORABLE[param]
            return f"{field_name} is {found!r}, not {value!r} as the management account's stack restored it"
    for key in request:
        param = key[:1].upper() + key[1:]
        if key != "name" and param not in restored:
            return f"the call set {key}, which the management account's stack does not report restored"
    return None


def _same_value(found: Any, wanted: str) -> bool:
    if isinstance(found, bool):
        return str(found).lower() == wanted.lower()
    text = "" if found is None else str(found)
    # a key or topic given by id or name reads back as its ARN
    return text == wanted or (
        bool(wanted) and ":" in text and text.rsplit("/", 1)[-1].rsplit(":", 1)[-1] == wanted
    )


# ----------------------------------------------------------------------------------- members' messages


@dataclass(frozen=True)
class MemberReport:
    """A member's incident as its message document tells it (``trailguard.incident/1``)."""

    account: str | None
    region: str | None
    resource: str | None
    status: str
    technique: str | None
    summary: str
    detected_by: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    event_id: str | None = None
    """The CloudTrail event id (or finding id) the incident is about: the key of the central ledger's
    "the account's own stack told" record (none for a sweep's report)."""


def read_message(text: Any) -> list[MemberReport] | str:
    """One SNS message body: the member reports it holds (an incident's one; a member sweep's, one per
    drifted resource); none for a message that needs no escalation check (the central function's own,
    another schema); a string saying why for a body that is not readable (logged and skipped)."""
    if not isinstance(text, str):
        return "the SNS message is not text"
    try:
        doc = json.loads(text)
    except ValueError:
        return "the SNS message is not JSON (a lambda subscription gets trailguard's machine document)"
    if not isinstance(doc, Mapping):
        return "the SNS message is not a JSON object"
    if doc.get("schema") == SWEEP_SCHEMA:
        return _sweep_reports(doc)
    if doc.get("schema") != INCIDENT_SCHEMA:
        return []
    incident = doc.get("incident")
    if not isinstance(incident, Mapping):
        return "the incident document has no 'incident' object"
    detected = incident.get("detected_by")
    handler = detected.get("handler") if isinstance(detected, Mapping) else None
    if handler == HANDLER:
        return []
    event = incident.get("event")
    return [
        MemberReport(
            account=_text(incident.get("account")),
            region=_text(incident.get("region")),
            resource=_text(incident.get("resource")),
            status=str(incident.get("status") or ""),
            technique=_text(incident.get("technique")),
            summary=_summary(incident.get("remediation")) or str(doc.get("text") or ""),
            detected_by=_text(handler),
            raw=doc,
            event_id=_text(event.get("id")) if isinstance(event, Mapping) else None,
        )
    ]


def _sweep_reports(doc: Mapping[str, Any]) -> list[MemberReport]:
    """A member's backstop message: one report per drifted trail. The central function's own sweeps
    (their outcomes' actions are ``central.*``) give none."""
    reports: list[MemberReport] = []
    for drift in doc.get("drift") or []:
        if not isinstance(drift, Mapping) or drift.get("kind") != "trail":
            continue
        outcomes = [o for o in drift.get("outcomes") or [] if isinstance(o, Mapping)]
        if any(str(o.get("action") or "").startswith(f"{HANDLER}.") for o in outcomes):
            return []
        statuses = [str(o.get("status") or "") for o in outcomes]
        reports.append(
            MemberReport(
                account=_text(doc.get("account")),
                region=_text(doc.get("region")),
                resource=_text(drift.get("id")),
                status=next((s for s in statuses if s in ESCALATE_STATUSES), statuses[0] if statuses else ""),
                technique="backstop",
                summary=" ".join(_summary(o) for o in outcomes),
                detected_by="backstop",
                raw=doc,
            )
        )
    return reports


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _summary(remediation: Any) -> str:
    """An outcome's summary and errors, as one text."""
    if not isinstance(remediation, Mapping):
        return ""
    parts = (remediation.get("summary"), *(remediation.get("errors") or []))
    return " ".join(x for x in parts if isinstance(x, str))


def escalation_reason(report: MemberReport) -> str | None:
    """Why a member's incident must be re-checked by the central function (None: it needs nothing):
    the member routed the repair elsewhere, or it could not verify its repair."""
    if report.status in ESCALATE_STATUSES:
        return "the member reported the repair as routed to the organization trail's owner"
    lowered = report.summary.lower()
    if any(phrase in lowered for phrase in UNVERIFIED_PHRASES):
        return "the member reported that its repair could not be verified"
    return None


def escalation_target(report: MemberReport, trails: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The organization trail a member's incident names: by ARN, else by name among the listed ones."""
    ref = report.resource or ""
    if not ref:
        return None
    for trail in trails:
        if trail.get("TrailARN") == ref:
            return trail
    name = ref.rsplit("/", 1)[-1]
    named = [t for t in trails if t.get("Name") == name]
    return named[0] if len(named) == 1 else None


# ----------------------------------------------------------------------------------- members' alarms


ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
ALARM_SOURCE = "aws.cloudwatch"
ALARM_STATE = "ALARM"
"""The one state that is told, as the alarms' own ``AlarmActions`` (no ``OKActions``) tell only it."""
ALARM_PK = "central#alarm"
"""The central ledger's record, per alarm state change (``sk``: the alarm ARN and the state's
timestamp), that it was told: EventBridge delivers at least once and Lambda retries."""


@dataclass(frozen=True)
class MemberAlarm:
    """One of every member stack's alarms (``AlarmName: <prefix>-<suffix>`` in the template)."""

    suffix: str
    means: str
    todo: str


MEMBER_ALARMS: Mapping[str, MemberAlarm] = {
    a.suffix: a
    for a in (
        MemberAlarm(
            "api-call-errors",
            "trailguard's api-call function failed: a call on a trail or on trailguard itself may not "
            "have been handled (nothing repaired, nobody told)",
            "read the function's log group /aws/lambda/{prefix}-api-call; the backstop repairs drift "
            "within its period if it runs.",
        ),
        MemberAlarm(
            "finding-errors",
            "trailguard's finding function failed (findings, calls on trailguard itself, the backstop)",
            "read the function's log group /aws/lambda/{prefix}-finding.",
        ),
        MemberAlarm(
            "backstop-missing",
            "trailguard's backstop has not run for a whole period: the finding function was not invoked, "
            "so it was deleted, throttled or its schedule removed; trailguard may be switched off there",
            "check the stack's functions, rules and schedule (trailguard audit --org: TG.instance and "
            "TG.wiring), and redeploy it if anything is missing.",
        ),
        MemberAlarm(
            "undelivered-events",
            "EventBridge could not deliver events to a trailguard function (its dead-letter queue is not "
            "empty): those calls were not judged",
            "read the stack's dead-letter queue; each message is an event that was not handled.",
        ),
        MemberAlarm(
            "failed-invocations",
            "a trailguard function failed events after Lambda's retries (its on-failure queue is not "
            "empty): those calls were not handled",
            "read the stack's on-failure queue and the functions' log groups.",
        ),
    )
}
"""Every member stack's alarms, by the suffix of their names: what the forward rule forwards (the
generated ``forward-rule-pattern``) and the central function tells (a test compares them with the
template's alarms)."""


def alarm_suffixes() -> tuple[str, ...]:
    """The suffixes the forward rule matches (``-api-call-errors``...), sorted."""
    return tuple(sorted(f"-{s}" for s in MEMBER_ALARMS))


@dataclass(frozen=True)
class AlarmChange:
    """One alarm state change as CloudWatch puts it on the alarm's account's default bus."""

    name: str
    arn: str | None
    account: str | None
    region: str | None
    state: str
    previous: str | None
    reason: str
    at: str | None
    """The new state's timestamp (``detail.state.timestamp``)."""
    description: str
    event_id: str | None
    alarm: MemberAlarm | None
    """Which of trailguard's alarms it is (None: not one of them)."""

    @property
    def prefix(self) -> str:
        """The stack's ``NamePrefix`` (the name without its suffix)."""
        return self.name[: -len(self.alarm.suffix) - 1] if self.alarm is not None else self.name

    @property
    def key(self) -> str:
        """The state change's ledger key: the alarm and when it entered the state (the event id when
        the timestamp is missing)."""
        alarm = self.arn or f"{self.account}:{self.region}:{self.name}"
        return f"{alarm}#{self.at or self.event_id or ''}"


def read_alarm(event: Any) -> AlarmChange | str:
    """An alarm's state-change event, or why it is not readable (logged and skipped). Account and
    region come from the alarm's ARN (``resources``), the payload, before the envelope that a
    forwarding bus may rewrite."""
    if not isinstance(event, Mapping) or event.get("detail-type") != ALARM_DETAIL_TYPE:
        return "not a CloudWatch alarm state change"
    detail = event.get("detail")
    if not isinstance(detail, Mapping) or not isinstance(detail.get("alarmName"), str):
        return "the alarm event has no detail.alarmName"
    name = str(detail["alarmName"])
    resources = [r for r in event.get("resources") or [] if isinstance(r, str)]
    arn = next((r for r in resources if r.startswith("arn:") and ":alarm:" in r), None)
    parts = arn.split(":") if arn else []
    state = detail.get("state") if isinstance(detail.get("state"), Mapping) else {}
    previous = detail.get("previousState") if isinstance(detail.get("previousState"), Mapping) else {}
    config = detail.get("configuration") if isinstance(detail.get("configuration"), Mapping) else {}
    assert isinstance(state, Mapping) and isinstance(previous, Mapping) and isinstance(config, Mapping)
    alarm = next((a for a in MEMBER_ALARMS.values() if name.endswith(f"-{a.suffix}")), None)
    if alarm is not None and len(name) == len(alarm.suffix) + 1:
        alarm = None  # "-backstop-missing" alone: no prefix, not a stack's name
    return AlarmChange(
        name=name,
        arn=arn,
        account=(parts[4] if len(parts) > 4 and parts[4] else None) or _text(event.get("account")),
        region=(parts[3] if len(parts) > 3 and parts[3] else None) or _text(event.get("region")),
        state=str(state.get("value") or ""),
        previous=_text(previous.get("value")),
        reason=str(state.get("reason") or ""),
        at=_text(state.get("timestamp")),
        description=str(config.get("description") or ""),
        event_id=_text(event.get("id")),
        alarm=alarm,
    )


def alarm_news(change: AlarmChange) -> str | None:
    """Why an alarm state change is not told (None: it is): not one of trailguard's alarms, or a change
    into a state other than ALARM (a return to OK, as the alarms' own actions, is not mailed)."""
    if change.alarm is None:
        return f"alarm {change.name} is not one of trailguard's ({', '.join(alarm_suffixes())})"
    if change.state != ALARM_STATE:
        return f"alarm {change.name} went to {change.state or 'an unknown state'}: only ALARM is told"
    return None


def alarm_message(change: AlarmChange, region: str) -> Message:
    """The one ``[ACTION REQUIRED]`` message of a member's alarm: which account, region and alarm, what
    it means, CloudWatch's reason and what to do (schema ``trailguard.central/1``, kind ``alarm``, which
    the central function never escalates)."""
    assert change.alarm is not None
    account = change.account or "unknown account"
    where = f"account {account}, {change.region or 'unknown region'}"
    # account and region first: a subject longer than SNS's 100 characters loses its end
    subject = ascii_subject(f"{ACTION_REQUIRED} {where}: trailguard alarm {change.name}")
    lines = [
        f"ACTION REQUIRED: trailguard's alarm {change.name} in {where} went "
        f"{'from ' + change.previous + ' ' if change.previous else ''}to {change.state}"
        f"{' at ' + change.at if change.at else ''}.",
        f"What it means: {change.alarm.means}.",
        f"CloudWatch's reason: {change.reason or 'none given'}",
        "",
        "What you must do:",
        f"  1. In {where}: {change.alarm.todo.format(prefix=change.prefix)}",
        "",
        f"Alarm: {change.arn or change.name}",
    ]
    if change.description:
        lines.append(f"Alarm description: {change.description}")
    text = "\n".join(lines) + "\n"
    document = {
        "schema": SCHEMA,
        "kind": "alarm",
        "subject": subject,
        "text": text,
        "alarm": {
            "name": change.name,
            "arn": change.arn,
            "state": change.state,
            "previous_state": change.previous,
            "reason": change.reason,
            "timestamp": change.at,
            "event_id": change.event_id,
        },
        "account": change.account,
        "region": change.region,
        "detected_by": {"handler": HANDLER, "region": region},
    }
    return Message(subject, text, document)
