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
from trailguard.deploy.package import package
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


def deploy_org(
    request: Request,
    *,
    progress: Callable[[str], object] = _stderr,
    poll_seconds: float = 5.0,
) -> OrgRollout:
    """Preflight, then the whole rollout; raises PreflightError (nothing changed) or DeployError."""
    validate_email(request.email)
    profile, endpoint = request.profile, request.endpoint_url
    home = request.regions[0] if request.regions else request.home_region

    def mgmt(service: str, region: str = home) -> Any:
        return client(service, region, profile=profile, endpoint_url=endpoint)

    identity = call("finding the AWS account (sts get-caller-identity)", mgmt("sts").get_caller_identity)
    caller = str(identity["Account"])
    partition = params.partition_of(str(identity.get("Arn") or ""))
    progress(f"reading organization of account {caller}")
    topology: Topology = discover(mgmt("organizations"), mgmt("ec2"), caller)
    regions = (
        topology.enabled_regions if request.all_enabled_regions else list(dict.fromkeys(request.regions))
    )
    # The central stack and the stack set live in the first --region (else the caller's region).
    first = home if home in regions or not regions else regions[0]
    management = topology.management_id

    with tempfile.TemporaryDirectory(prefix="trailguard-org-") as tmp:
        pkg = package(tmp)
        member_body = pkg.template_path.read_text(encoding="utf-8")
        problems: list[preflight.Problem] = []
        try:
            central_body = deploy_central.template_body()
        except DeployError as exc:
            central_body = ""
            problems.append(preflight.Problem(str(exc), "reinstall trailguard"))
        result = preflight.check(
            topology,
            preflight.Request(
                security_account=request.security_account,
                ous=request.ous,
                regions=tuple(regions),
                template_sizes=(
                    ("member", len(member_body.encode())),
                    ("central", len(central_body.encode())),
                ),
            ),
        )
        problems = result.problems + problems
        names = params.template_parameters(member_body)
        missing = [n for n in CONTRACT if n not in names]
        unknown = sorted(set(request.parameters) - set(names))
        if unknown:
            problems.append(
                preflight.Problem(
                    f"unknown parameter {', '.join(unknown)}",
                    f"give only the template's parameters: {', '.join(names)}",
                )
            )
        credentials: Mapping[str, Any] = {}
        if result.ok:  # the security account must be reachable before anything is changed
            role = f"arn:{partition}:iam::{request.security_account}:role/{request.security_role_name}"
            try:
                credentials = mgmt("sts").assume_role(RoleArn=role, RoleSessionName=SESSION_NAME)[
                    "Credentials"
                ]
            except Exception as exc:
                problems.append(
                    preflight.Problem(
                        f"cannot assume {role} ({exc})",
                        "create that role in the security account trusting the management account, or "
                        "pass --security-role-name with one that exists",
                    )
                )
        if problems:
            raise PreflightError(problems)
        for note in result.notes:
            progress(f"note: {note}")
        if missing:
            progress(
                f"note: the member template has no {', '.join(missing)}: its stacks keep the single-account "
                "behaviour for those"
            )

        code_prefix = f"trailguard-artifacts-{management}"
        key = code_key(pkg)
        buckets = {region: artifact_bucket_name(management, region) for region in regions}
        out = OrgRollout(
            organization_id=topology.organization_id,
            management_account=management,
            security_account=request.security_account,
            regions=regions,
            targets=list(result.targets),
            dry_run=request.dry_run,
            notes=list(result.notes),
        )
        central_values = {
            "SecurityContactEmail": request.email,
            "OrganizationId": topology.organization_id,
            "ManagementAccountId": management,
            "CodeS3Bucket": buckets[first],
            "CodeS3Key": key,
        }
        central_values = {
            n: central_values[n] for n in params.template_parameters(central_body) if n in central_values
        }
        members = [a for a in result.members]
        security_unit = next(
            (a.parent for a in members if a.id == request.security_account and result.security_in_targets), ""
        )

        if request.dry_run:
            progress("dry run: nothing is changed")
            for region in regions:
                progress(
                    f"  bucket {buckets[region]} (organization may read), code s3://{buckets[region]}/{key}"
                )
            progress(
                f"  stack {deploy_central.CENTRAL_STACK} in {request.security_account}, {first}: "
                f"{central_values}"
            )
            with assumed(credentials):
                existing = stacks.describe(
                    client("cloudformation", first, profile=None, endpoint_url=endpoint),
                    deploy_central.CENTRAL_STACK,
                )
            outputs = {o["OutputKey"]: o["OutputValue"] for o in (existing or {}).get("Outputs") or []} or {
                "AlertTopicArn": "(from the central stack)",
                "OrgBusArn": "(from the central stack)",
            }
            out.central_outputs = dict(outputs)
            out.stack_set_parameters = member_values(
                names,
                email=request.email,
                code_prefix=code_prefix,
                first_bucket=buckets[first],
                key=key,
                outputs=outputs,
                org_trail_role="member",
                extra=request.parameters,
            )
            progress(f"  stack set {stackset.STACK_SET} (SERVICE_MANAGED) to {', '.join(result.targets)}")
            for k, v in out.stack_set_parameters.items():
                progress(f"    parameter {k} = {v!r}")
            out.rows.append(Row(request.security_account, first, deploy_central.CENTRAL_STACK, "planned"))
            for account in members:
                for region in regions:
                    if not account.active:
                        out.rows.append(
                            Row(
                                account.id, region, stackset.STACK_SET, "skipped", f"account {account.status}"
                            )
                        )
                    else:
                        out.rows.append(Row(account.id, region, stackset.STACK_SET, "planned"))
            for region in regions:
                out.rows.append(Row(management, region, MANAGEMENT_STACK, "planned"))
            return out

        # 2. the code, once per region, readable by the organization
        for region in regions:
            s3 = mgmt("s3", region)
            ensure_artifact_bucket(s3, buckets[region], region, progress)
            call(
                f"setting the policy of bucket {buckets[region]}",
                s3.put_bucket_policy,
                Bucket=buckets[region],
                Policy=bucket_policy(buckets[region], topology.organization_id, partition),
            )
            upload_code(s3, buckets[region], pkg, progress)
        s3_first = mgmt("s3", first)
        member_url = (
            upload_template(
                s3_first, buckets[first], member_body, prefix="trailguard", region=first, progress=progress
            )
            if len(member_body.encode()) > preflight.TEMPLATE_BODY_LIMIT
            else None
        )
        central_url = (
            upload_template(
                s3_first, buckets[first], central_body, prefix="trailguard", region=first, progress=progress
            )
            if len(central_body.encode()) > preflight.TEMPLATE_BODY_LIMIT
            else None
        )

    # 3. the central stack, in the security account
    progress(
        f"deploying stack {deploy_central.CENTRAL_STACK} in security account {request.security_account}, "
        f"{first}"
    )
    with assumed(credentials):
        cfn = client("cloudformation", first, profile=None, endpoint_url=endpoint)
        status, outputs = deploy_central.deploy(
            cfn,
            body=central_body,
            url=central_url,
            values=central_values,
            region=first,
            progress=progress,
            poll_seconds=poll_seconds,
        )
        events = client("events", first, profile=None, endpoint_url=endpoint)
        outputs["OrgBusArn"] = deploy_central.find_bus(events, outputs)
        if not outputs.get("AlertTopicArn"):
            raise DeployError(
                f"stack {deploy_central.CENTRAL_STACK} has no output AlertTopicArn: deploy again"
            )
        deploy_central.ensure_bus_policy(events, outputs["OrgBusArn"], topology.organization_id, progress)
    out.central_outputs = outputs
    out.rows.append(Row(request.security_account, first, deploy_central.CENTRAL_STACK, "deployed", status))

    # 4. the member stack set
    values = member_values(
        names,
        email=request.email,
        code_prefix=code_prefix,
        first_bucket=buckets[first],
        key=key,
        outputs=outputs,
        org_trail_role="member",
        extra=request.parameters,
    )
    out.stack_set_parameters = values
    cfn = mgmt("cloudformation", first)
    failures: dict[tuple[str, str], str] = {}
    operations: list[str] = []
    # One operation at a time: a stack set refuses (or queues) an operation while another runs.
    updated = stackset.ensure(cfn, body=member_body, url=member_url, values=values, progress=progress)
    if updated:
        stackset.wait(cfn, updated, poll_seconds=poll_seconds, progress=progress)
        operations.append(updated)
    # Instances for every target unless all are there: an OU is targeted (and auto-deployment follows
    # new accounts into it) only once CreateStackInstances names it, even while it is empty.
    standing = stackset.instances(cfn)
    present = {(i.account, i.region) for i in standing}
    units = {(i.unit, i.region) for i in standing}
    lacking = [
        r
        for r in regions
        if any(a.active and (a.id, r) not in present for a in members)
        or any((unit, r) not in units for unit in result.targets)
    ]
    if lacking:
        added = stackset.add_instances(cfn, result.targets, lacking)
        stackset.wait(cfn, added, poll_seconds=poll_seconds, progress=progress)
        operations.append(added)
    else:
        progress(f"stack set {stackset.STACK_SET}: every targeted account and region has an instance")
    if security_unit and "OrgTrailRole" in values:
        progress(f"security account {request.security_account}: OrgTrailRole=delegated-admin")
        operation = stackset.override(
            cfn,
            account=request.security_account,
            unit=security_unit,
            regions=regions,
            values={**values, "OrgTrailRole": "delegated-admin"},
        )
        stackset.wait(cfn, operation, poll_seconds=poll_seconds, progress=progress)
        operations.append(operation)
    for operation in operations:
        failures.update(stackset.operation_failures(cfn, operation))
    out.rows.extend(member_rows(members, regions, stackset.instances(cfn), failures))

    # 5. the management account: plain stacks, where StackSets never deploy
    given = {
        "OrgTrailRole": "owner",
        "AlertTopicArn": outputs["AlertTopicArn"],
        "CentralBusArn": outputs["OrgBusArn"],
    }
    given.update(request.parameters)
    for region in regions:
        try:
            done = apply(
                MANAGEMENT_STACK,
                request.email,
                region=region,
                profile=profile,
                endpoint_url=endpoint,
                parameters={k: v for k, v in given.items() if k in names},
                require_trails=False,
                progress=progress,
                poll_seconds=poll_seconds,
            )
            out.rows.append(Row(management, region, MANAGEMENT_STACK, "deployed", done.status))
        except DeployError as exc:
            progress(f"stack {MANAGEMENT_STACK} in {region} failed: {exc}")
            out.rows.append(Row(management, region, MANAGEMENT_STACK, "failed", str(exc)))
    return out
