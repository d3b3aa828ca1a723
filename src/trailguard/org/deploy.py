"""``trailguard deploy --org``: trailguard in every account and region of an organization, on
CloudFormation StackSets, run once with the management account's credentials.

Order (each step needs the one before): preflight, which changes nothing and stops on any problem
(:mod:`~trailguard.org.preflight`); per region an artifact bucket the organization may read, holding the
one content-addressed zip; the central stack in the security account (through the role
``--security-role-name``) and its bus policy; the service-managed stack set ``trailguard-member`` with
instances for the OUs x regions; plain stacks ``trailguard`` in the management account (StackSets never
deploy there), through the single-account rollout. The result is one row per account, region and
stack: deployed, failed with the reason, or skipped.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import trailguard.deploy.stack as stacks
from trailguard import aws
from trailguard.deploy import parameters as params
from trailguard.deploy.artifacts import (
    artifact_bucket_name,
    code_key,
    ensure_artifact_bucket,
    upload_code,
    upload_template,
)
from trailguard.deploy.errors import DeployError, call, client
from trailguard.deploy.package import Package, package
from trailguard.deploy.rollout import apply, validate_email
from trailguard.org import deploy_central, preflight, stackset
from trailguard.org.topology import Account, Topology, discover

MANAGEMENT_STACK = "trailguard"
NAME_PREFIX = "trailguard"
DEFAULT_SECURITY_ROLE = "OrganizationAccountAccessRole"
SESSION_NAME = "trailguard-deploy-org"
# The member template's organization parameters (the contract every stack of the organization shares).
CONTRACT = ("NamePrefix", "CodeBucketPrefix", "AlertTopicArn", "CentralBusArn", "OrgTrailRole")
# IAM permissions of the calls made here besides those of the modules it uses:
ACTIONS = (
    "sts:GetCallerIdentity",
    "sts:AssumeRole",
    "s3:PutBucketPolicy",
    "s3:GetBucketPolicy",
)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class PreflightError(DeployError):
    """The organization is not ready; nothing was changed. ``problems`` say what to fix."""

    def __init__(self, problems: list[preflight.Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p.describe()}" for p in problems)
        super().__init__(f"the organization is not ready; nothing was changed:\n{lines}")


@dataclass(frozen=True)
class Request:
    """What the command line asked for (``regions`` empty with ``all_enabled_regions``)."""

    email: str
    security_account: str
    ous: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    all_enabled_regions: bool = False
    security_role_name: str = DEFAULT_SECURITY_ROLE
    profile: str | None = None
    endpoint_url: str | None = None
    dry_run: bool = False
    parameters: Mapping[str, str] = field(default_factory=dict)  # member-template values for every stack
    home_region: str = aws.DEFAULT_REGION  # where to read the organization when no --region is given


@dataclass(frozen=True)
class Row:
    """One line of the account x region table."""

    account: str
    region: str
    stack: str  # the stack set, the management account's stack or the central stack
    status: str  # deployed | failed | skipped | planned
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "account": self.account,
            "region": self.region,
            "stack": self.stack,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class OrgRollout:
    """What the rollout did (or, on a dry run, would do): its rows decide the exit code."""

    organization_id: str
    management_account: str
    security_account: str
    regions: list[str]
    targets: list[str]  # OU / root ids of the stack set's instances
    dry_run: bool
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    central_outputs: dict[str, str] = field(default_factory=dict)
    stack_set_parameters: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.status == "failed"]

    @property
    def status(self) -> str:
        return "dry-run" if self.dry_run else ("failed" if self.failed else "deployed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "organization_id": self.organization_id,
            "management_account": self.management_account,
            "security_account": self.security_account,
            "regions": self.regions,
            "targets": self.targets,
            "stack_set": stackset.STACK_SET,
            "stack_set_parameters": self.stack_set_parameters,
            "central_outputs": self.central_outputs,
            "rows": [r.to_dict() for r in sorted(self.rows, key=_order)],
            "notes": self.notes,
        }


def _order(row: Row) -> tuple[str, str, str]:
    return (row.account, row.region, row.stack)


def bucket_policy(bucket: str, organization_id: str, partition: str = "aws") -> str:
    """The artifact bucket's policy: every principal of the organization may read the code (Lambda in a
    member account fetches it with the deploying role's credentials). No deny of plain HTTP: the local
    cloud and moto serve HTTP only and evaluate that condition, and the bucket holds code, no secret."""
    arn = f"arn:{partition}:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OrganizationReadsCode",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"{arn}/*",
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
                },
            ],
        },
        separators=(",", ":"),
    )


@contextmanager
def assumed(credentials: Mapping[str, Any]) -> Iterator[None]:
    """Clients made inside use ``credentials`` (an AssumeRole answer's) instead of the caller's."""
    env = {k: v for k, v in os.environ.items() if k not in {"AWS_PROFILE", "AWS_SESSION_TOKEN"}}
    env.update(
        AWS_ACCESS_KEY_ID=str(credentials["AccessKeyId"]),
        AWS_SECRET_ACCESS_KEY=str(credentials["SecretAccessKey"]),
        AWS_SESSION_TOKEN=str(credentials["SessionToken"]),
    )
    with aws.using_environ(env):
        yield


def member_values(
    names: list[str],
    *,
    email: str,
    code_prefix: str,
    first_bucket: str,
    key: str,
    outputs: Mapping[str, str],
    org_trail_role: str,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The member template's parameters for the stack set (only those the template declares)."""
    wanted: dict[str, str] = {
        "SecurityContactEmail": email,
        "NamePrefix": NAME_PREFIX,
        "CodeBucketPrefix": code_prefix,
        # With CodeBucketPrefix the template picks the region's bucket; an older one reads this one.
        "CodeS3Bucket": "" if "CodeBucketPrefix" in names else first_bucket,
        "CodeS3Key": key,
        "AlertTopicArn": outputs.get("AlertTopicArn", ""),
        "CentralBusArn": outputs.get("OrgBusArn", ""),
        "OrgTrailRole": org_trail_role,
        **extra,
    }
    return {name: wanted[name] for name in names if name in wanted}


def member_rows(
    members: Sequence[Account],
    regions: Sequence[str],
    instances: Sequence[stackset.Instance],
    failures: Mapping[tuple[str, str], str],
) -> list[Row]:
    """One row per targeted account and region: the operations' failures first (their reason), then
    what ListStackInstances says, "failed" for an instance that is missing, "skipped" for an account
    that is not active; plus any other instance of the stack set in these regions (an OU targeted by
    an earlier deploy)."""
    found = {(i.account, i.region): i for i in instances}
    rows: list[Row] = []
    expected: set[tuple[str, str]] = set()
    for account in members:
        for region in regions:
            expected.add((account.id, region))
            instance = found.get((account.id, region))
            reason = failures.get((account.id, region))
            if not account.active:
                rows.append(
                    Row(account.id, region, stackset.STACK_SET, "skipped", f"account {account.status}")
                )
            elif reason:
                rows.append(Row(account.id, region, stackset.STACK_SET, "failed", reason))
            elif instance is None:
                rows.append(
                    Row(account.id, region, stackset.STACK_SET, "failed", "no stack instance was created")
                )
            else:
                rows.append(Row(account.id, region, stackset.STACK_SET, instance.status, instance.reason))
    for (account_id, region), instance in sorted(found.items()):
        if (account_id, region) not in expected and region in regions:
            reason = failures.get((account_id, region))
            status, why = ("failed", reason) if reason else (instance.status, instance.reason)
            rows.append(Row(account_id, region, stackset.STACK_SET, status, why))
    return rows


@dataclass
class Plan:
    """Everything the steps need, settled by the preflight before anything changes."""

    request: Request
    topology: Topology
    checked: preflight.Preflight
    regions: list[str]
    first: str  # where the central stack and the stack set live
    partition: str
    pkg: Package
    member_body: str
    central_body: str
    names: list[str]  # the member template's parameters
    credentials: Mapping[str, Any]  # the security account's, from AssumeRole
    key: str  # the zip's S3 key, the same in every bucket
    buckets: dict[str, str]  # region -> artifact bucket

    @property
    def management(self) -> str:
        return self.topology.management_id

    @property
    def code_prefix(self) -> str:
        return f"trailguard-artifacts-{self.management}"

    @property
    def security_unit(self) -> str:
        """The OU the security account's instances come through ("" when it is not targeted)."""
        if not self.checked.security_in_targets:
            return ""
        found = self.topology.accounts.get(self.request.security_account)
        return found.parent if found else ""

    def management_client(self, service: str, region: str | None = None) -> Any:
        return client(
            service,
            region or self.first,
            profile=self.request.profile,
            endpoint_url=self.request.endpoint_url,
        )

    def security_client(self, service: str) -> Any:
        """A client of the security account in the first region (call inside :func:`assumed`)."""
        return client(service, self.first, profile=None, endpoint_url=self.request.endpoint_url)

    def central_values(self) -> dict[str, str]:
        wanted = {
            "SecurityContactEmail": self.request.email,
            "OrganizationId": self.topology.organization_id,
            "ManagementAccountId": self.management,
            "CodeS3Bucket": self.buckets[self.first],
            "CodeS3Key": self.key,
        }
        return {n: wanted[n] for n in params.template_parameters(self.central_body) if n in wanted}

    def member_values(self, outputs: Mapping[str, str], org_trail_role: str = "member") -> dict[str, str]:
        return member_values(
            self.names,
            email=self.request.email,
            code_prefix=self.code_prefix,
            first_bucket=self.buckets[self.first],
            key=self.key,
            outputs=outputs,
            org_trail_role=org_trail_role,
            extra=self.request.parameters,
        )

    def result(self) -> OrgRollout:
        return OrgRollout(
            organization_id=self.topology.organization_id,
            management_account=self.management,
            security_account=self.request.security_account,
            regions=self.regions,
            targets=list(self.checked.targets),
            dry_run=self.request.dry_run,
            notes=list(self.checked.notes),
        )


def deploy_org(
    request: Request,
    *,
    progress: Callable[[str], object] = _stderr,
    poll_seconds: float = 5.0,
) -> OrgRollout:
    """Preflight, then the whole rollout; raises PreflightError (nothing changed) or DeployError."""
    validate_email(request.email)
    with tempfile.TemporaryDirectory(prefix="trailguard-org-") as tmp:
        plan = prepare(request, package(tmp), progress)
        if request.dry_run:
            return dry_run(plan, progress)
        member_url, central_url = upload(plan, progress)
    out = plan.result()
    status, outputs = deploy_central_stack(plan, central_url, progress, poll_seconds)
    out.central_outputs = outputs
    out.rows.append(
        Row(request.security_account, plan.first, deploy_central.CENTRAL_STACK, "deployed", status)
    )
    out.stack_set_parameters = plan.member_values(outputs)
    out.rows.extend(deploy_stack_set(plan, outputs, member_url, progress, poll_seconds))
    out.rows.extend(deploy_management(plan, outputs, progress, poll_seconds))
    return out


def prepare(request: Request, pkg: Package, progress: Callable[[str], object]) -> Plan:
    """Read the organization and check it (1. preflight); raises PreflightError, changing nothing."""
    home = request.regions[0] if request.regions else request.home_region

    def mgmt(service: str) -> Any:
        return client(service, home, profile=request.profile, endpoint_url=request.endpoint_url)

    identity = call("finding the AWS account (sts get-caller-identity)", mgmt("sts").get_caller_identity)
    caller = str(identity["Account"])
    partition = params.partition_of(str(identity.get("Arn") or ""))
    progress(f"reading organization of account {caller}")
    topology = discover(mgmt("organizations"), mgmt("ec2"), caller, mgmt("cloudtrail"))
    regions = (
        topology.enabled_regions if request.all_enabled_regions else list(dict.fromkeys(request.regions))
    )
    # The central stack and the stack set live in the first --region (else the caller's region).
    first = home if home in regions or not regions else regions[0]
    member_body = pkg.template_path.read_text(encoding="utf-8")
    problems: list[preflight.Problem] = []
    try:
        central_body = deploy_central.template_body()
    except DeployError as exc:
        central_body = ""
        problems.append(preflight.Problem(str(exc), "reinstall trailguard"))
    checked = preflight.check(
        topology,
        preflight.Request(
            security_account=request.security_account,
            ous=request.ous,
            regions=tuple(regions),
            template_sizes=(("member", len(member_body.encode())), ("central", len(central_body.encode()))),
        ),
    )
    problems = checked.problems + problems
    names = params.template_parameters(member_body)
    unknown = sorted(set(request.parameters) - set(names))
    if unknown:
        problems.append(
            preflight.Problem(
                f"unknown parameter {', '.join(unknown)}", f"give only the template's: {', '.join(names)}"
            )
        )
    credentials: Mapping[str, Any] = {}
    if not problems:  # the security account must be reachable before anything is changed
        role = f"arn:{partition}:iam::{request.security_account}:role/{request.security_role_name}"
        try:
            answer = mgmt("sts").assume_role(RoleArn=role, RoleSessionName=SESSION_NAME)
            credentials = answer["Credentials"]
        except Exception as exc:
            problems.append(
                preflight.Problem(
                    f"cannot assume {role} ({exc})",
                    "create that role in the security account trusting the management account, or pass "
                    "--security-role-name with one that exists",
                )
            )
    if not problems:
        problems.extend(stack_problems(request, credentials, first, regions))
    if problems:
        raise PreflightError(problems)
    for note in checked.notes:
        progress(f"note: {note}")
    missing = [n for n in CONTRACT if n not in names]
    if missing:
        progress(
            f"note: the member template has no {', '.join(missing)}: its stacks keep the single-account "
            "behaviour for those"
        )
    return Plan(
        request=request,
        topology=topology,
        checked=checked,
        regions=regions,
        first=first,
        partition=partition,
        pkg=pkg,
        member_body=member_body,
        central_body=central_body,
        names=names,
        credentials=credentials,
        key=code_key(pkg),
        buckets={r: artifact_bucket_name(topology.management_id, r) for r in regions},
    )


def stack_problems(
    request: Request, credentials: Mapping[str, Any], first: str, regions: Sequence[str]
) -> list[preflight.Problem]:
    """What would stop the rollout halfway, found before it starts: a stack set of that name that is
    not service-managed, a central or management stack that cannot take a change set (a failed
    creation, an operation in progress)."""
    found: list[preflight.Problem] = []

    def mgmt(service: str, region: str) -> Any:
        return client(service, region, profile=request.profile, endpoint_url=request.endpoint_url)

    existing = stackset.describe(mgmt("cloudformation", first))
    model = str((existing or {}).get("PermissionModel") or "SERVICE_MANAGED")
    if model != "SERVICE_MANAGED":
        found.append(
            preflight.Problem(
                f"stack set {stackset.STACK_SET} exists with permission model {model}",
                "delete it (its instances first) and deploy again: the member stack set is service-managed",
            )
        )
    checks = [(mgmt("cloudformation", r), MANAGEMENT_STACK, f"the management account, {r}") for r in regions]
    with assumed(credentials):
        checks.append(
            (
                client("cloudformation", first, profile=None, endpoint_url=request.endpoint_url),
                deploy_central.CENTRAL_STACK,
                f"the security account, {first}",
            )
        )
        for cfn, name, where in checks:
            try:
                stacks.change_set_type(stacks.describe(cfn, name), name)
            except DeployError as exc:
                found.append(
                    preflight.Problem(f"stack {name} in {where}: {exc}", "as it says, then deploy again")
                )
    return found


def dry_run(plan: Plan, progress: Callable[[str], object]) -> OrgRollout:
    """Say what the rollout would do; nothing is changed."""
    progress("dry run: nothing is changed")
    for region in plan.regions:
        bucket = plan.buckets[region]
        progress(f"  bucket {bucket} (the organization may read), code s3://{bucket}/{plan.key}")
    progress(
        f"  stack {deploy_central.CENTRAL_STACK} in {plan.request.security_account}, {plan.first}: "
        f"{plan.central_values()}"
    )
    with assumed(plan.credentials):
        existing = stacks.describe(plan.security_client("cloudformation"), deploy_central.CENTRAL_STACK)
    outputs = {str(o["OutputKey"]): str(o["OutputValue"]) for o in (existing or {}).get("Outputs") or []}
    outputs = outputs or {
        "AlertTopicArn": "(from the central stack)",
        "OrgBusArn": "(from the central stack)",
    }
    out = plan.result()
    out.central_outputs = outputs
    out.stack_set_parameters = plan.member_values(outputs)
    progress(f"  stack set {stackset.STACK_SET} (SERVICE_MANAGED) to {', '.join(plan.checked.targets)}")
    for name, value in out.stack_set_parameters.items():
        progress(f"    parameter {name} = {value!r}")
    out.rows.append(Row(plan.request.security_account, plan.first, deploy_central.CENTRAL_STACK, "planned"))
    for account in plan.checked.members:
        for region in plan.regions:
            if account.active:
                out.rows.append(Row(account.id, region, stackset.STACK_SET, "planned"))
            else:
                out.rows.append(
                    Row(account.id, region, stackset.STACK_SET, "skipped", f"account {account.status}")
                )
    out.rows.extend(Row(plan.management, r, MANAGEMENT_STACK, "planned") for r in plan.regions)
    return out


def upload(plan: Plan, progress: Callable[[str], object]) -> tuple[str | None, str | None]:
    """2. The code, once per region, readable by the organization; the templates' URLs when too large
    to send inline."""
    for region in plan.regions:
        s3 = plan.management_client("s3", region)
        bucket = plan.buckets[region]
        ensure_artifact_bucket(s3, bucket, region, progress)
        call(
            f"setting the policy of bucket {bucket}",
            s3.put_bucket_policy,
            Bucket=bucket,
            Policy=bucket_policy(bucket, plan.topology.organization_id, plan.partition),
        )
        upload_code(s3, bucket, plan.pkg, progress)
    s3 = plan.management_client("s3")
    urls: list[str | None] = []
    for body in (plan.member_body, plan.central_body):
        too_large = len(body.encode()) > preflight.TEMPLATE_BODY_LIMIT
        urls.append(
            upload_template(
                s3, plan.buckets[plan.first], body, prefix="trailguard", region=plan.first, progress=progress
            )
            if too_large
            else None
        )
    return urls[0], urls[1]


def deploy_central_stack(
    plan: Plan, url: str | None, progress: Callable[[str], object], poll_seconds: float
) -> tuple[str, dict[str, str]]:
    """3. The central stack in the security account, then its bus's and topic's policies; (status,
    outputs)."""
    progress(
        f"deploying stack {deploy_central.CENTRAL_STACK} in security account "
        f"{plan.request.security_account}, {plan.first}"
    )
    with assumed(plan.credentials):
        status, outputs = deploy_central.deploy(
            plan.security_client("cloudformation"),
            body=plan.central_body,
            url=url,
            values=plan.central_values(),
            region=plan.first,
            progress=progress,
            poll_seconds=poll_seconds,
        )
        events = plan.security_client("events")
        outputs["OrgBusArn"] = deploy_central.find_bus(events, outputs)
        if not outputs.get("AlertTopicArn"):
            raise DeployError(
                f"stack {deploy_central.CENTRAL_STACK} has no output AlertTopicArn: deploy again"
            )
        deploy_central.ensure_bus_policy(
            events, outputs["OrgBusArn"], plan.topology.organization_id, progress
        )
        deploy_central.ensure_topic_policy(
            plan.security_client("sns"), outputs["AlertTopicArn"], plan.topology.organization_id, progress
        )
    return status, outputs


def deploy_stack_set(
    plan: Plan,
    outputs: Mapping[str, str],
    url: str | None,
    progress: Callable[[str], object],
    poll_seconds: float,
) -> list[Row]:
    """4. The member stack set, its instances and the security account's override; a row for each
    targeted account and region."""
    cfn = plan.management_client("cloudformation")
    values = plan.member_values(outputs)
    members, regions, targets = plan.checked.members, plan.regions, plan.checked.targets
    operations: list[str] = []

    def run(operation: str | None) -> None:  # one at a time: a stack set refuses (or queues) the next
        if operation:
            stackset.wait(cfn, operation, poll_seconds=poll_seconds, progress=progress)
            operations.append(operation)

    run(stackset.ensure(cfn, body=plan.member_body, url=url, values=values, progress=progress))
    # An OU is targeted (and auto-deployment follows new accounts into it) only once
    # CreateStackInstances names it, even while it is empty: ask unless every target has its instances.
    standing = stackset.instances(cfn)
    present = {(i.account, i.region) for i in standing}
    units = {(i.unit, i.region) for i in standing}
    lacking = [
        r
        for r in regions
        if any(a.active and (a.id, r) not in present for a in members)
        or any((u, r) not in units for u in targets)
    ]
    if lacking:
        run(stackset.add_instances(cfn, targets, lacking))
    else:
        progress(f"stack set {stackset.STACK_SET}: every targeted account and region has an instance")
    if plan.security_unit and "OrgTrailRole" in values:
        progress(f"security account {plan.request.security_account}: OrgTrailRole=delegated-admin")
        run(
            stackset.override(
                cfn,
                account=plan.request.security_account,
                unit=plan.security_unit,
                regions=regions,
                values={**values, "OrgTrailRole": "delegated-admin"},
            )
        )
    return member_rows(members, regions, stackset.instances(cfn), stackset.latest_failures(cfn, operations))


def deploy_management(
    plan: Plan, outputs: Mapping[str, str], progress: Callable[[str], object], poll_seconds: float
) -> list[Row]:
    """5. Plain stacks in the management account, where StackSets never deploy; one row per region
    (a region that fails does not stop the others)."""
    given = {
        "OrgTrailRole": "owner",
        "AlertTopicArn": outputs["AlertTopicArn"],
        "CentralBusArn": outputs["OrgBusArn"],
        **plan.request.parameters,
    }
    rows: list[Row] = []
    for region in plan.regions:
        try:
            done = apply(
                MANAGEMENT_STACK,
                plan.request.email,
                region=region,
                profile=plan.request.profile,
                endpoint_url=plan.request.endpoint_url,
                parameters={k: v for k, v in given.items() if k in plan.names},
                require_trails=False,
                progress=progress,
                poll_seconds=poll_seconds,
            )
            rows.append(Row(plan.management, region, MANAGEMENT_STACK, "deployed", done.status))
        except DeployError as exc:
            progress(f"stack {MANAGEMENT_STACK} in {region} failed: {exc}")
            rows.append(Row(plan.management, region, MANAGEMENT_STACK, "failed", str(exc)))
    return rows
