"""The organization world (``trailguard emulator --org``): an AWS Organization worth attacking.

An organization with all features, owned by the management account (the local cloud's own account),
which owns an organization trail (multi-region, KMS, validation, CloudWatch Logs: the single-account
world's trail, made an organization trail); a security account (standing in for CloudTrail's delegated
administrator: moto has none) in OU ``Security``; two member accounts in OU ``Workloads``, the first with
a trail of its own. Every account has an admin IAM user ``attacker`` with keys; the accounts created in
the organization are reached, as on AWS, through ``OrganizationAccountAccessRole``, whose credentials
the ready file lists as each account's ``admin``.

trailguard is deployed into each account as a plain single-account stack with that account's
credentials (the path ``trailguard deploy`` takes), so the world is usable before the StackSet and
central stack of ``deploy --org`` exist. The single-account fields of the ready file describe the
management account (its stack, its organization trail, its attacker); ``organization`` and
``accounts`` list the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from trailguard.local import detection, world
from trailguard.local.org import MANAGEMENT, MEMBER, SECURITY, Organization, OrgTrail
from trailguard.local.server import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, LocalCloud

ACCESS_ROLE = "OrganizationAccountAccessRole"
MEMBER_TRAIL = "workload-trail"
SERVICE_ACCESS = ("cloudtrail.amazonaws.com", "member.org.stacksets.cloudformation.amazonaws.com")
ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("security", SECURITY, "Security"),
    ("workload-a", MEMBER, "Workloads"),
    ("workload-b", MEMBER, "Workloads"),
)
"""(name, role, OU) of the accounts created in the organization; the first member has its own trail."""
STACK_ROLES = (MANAGEMENT, SECURITY, MEMBER)


@dataclass
class OrgAccount:
    """One account of the organization, as the ready file's ``accounts`` lists it."""

    id: str
    name: str
    role: str
    ou: str
    attacker: world.Attacker
    admin: dict[str, str]
    """Credentials with admin rights (``access_key_id``, ``secret_access_key``, ``session_token``)."""
    trails: list[world.Trail] = field(default_factory=list)
    """Trails this account owns (the management account: the organization trail)."""
    outputs: dict[str, str] = field(default_factory=dict)
    guard: world.Guard = field(default_factory=world.Guard)

    @property
    def environ(self) -> dict[str, str]:
        env = {
            "AWS_ACCESS_KEY_ID": self.admin["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self.admin["secret_access_key"],
        }
        if self.admin.get("session_token"):
            env["AWS_SESSION_TOKEN"] = self.admin["session_token"]
        return env

    def ready(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "ou": self.ou,
            "attacker": {
                "access_key_id": self.attacker.access_key_id,
                "secret_access_key": self.attacker.secret_access_key,
                "arn": self.attacker.arn,
            },
            "admin": dict(self.admin),
            "trails": [asdict(t) for t in self.trails],
            "stack": bool(self.outputs),
            "topic_arn": self.outputs.get("TopicArn", ""),
            "guard": asdict(self.guard),
        }


@dataclass
class OrgWorld:
    """The management account's single-account world plus the organization around it."""

    base: world.World
    organization: Organization
    root_id: str
    ous: dict[str, str]
    accounts: list[OrgAccount]

    def account(self, role: str, index: int = 0) -> OrgAccount:
        return [a for a in self.accounts if a.role == role][index]

    def by_id(self, account_id: str) -> OrgAccount:
        return next(a for a in self.accounts if a.id == account_id)

    def ready(self) -> dict[str, Any]:
        doc = self.base.ready()
        doc["organization"] = {
            "id": self.organization.id,
            "feature_set": "ALL",
            "management_account": self.organization.management,
            "security_account": self.account(SECURITY).id,
            "root_id": self.root_id,
            "ous": dict(self.ous),
            "organization_trails": [asdict(t) for t in self.organization.trails],
        }
        doc["accounts"] = [a.ready() for a in self.accounts]
        return doc


def _trust(account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def access_account(cloud: LocalCloud, account: str) -> dict[str, str]:
    """Admin credentials in ``account`` through ``OrganizationAccountAccessRole``, the role AWS creates
    in an account made by ``CreateAccount`` (moto's ``CreateAccount`` creates it too; created here if
    missing, so CloudTrail's records of the calls made with it always name a real role)."""
    sts = cloud.client("sts")
    role_arn = f"arn:aws:iam::{account}:role/{ACCESS_ROLE}"
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="organization-setup")["Credentials"]
    admin = {
        "access_key_id": creds["AccessKeyId"],
        "secret_access_key": creds["SecretAccessKey"],
        "session_token": creds["SessionToken"],
        "role_arn": role_arn,
    }
    env = {
        "AWS_ACCESS_KEY_ID": admin["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": admin["secret_access_key"],
        "AWS_SESSION_TOKEN": admin["session_token"],
    }
    iam = cloud.client("iam", env)
    try:
        iam.get_role(RoleName=ACCESS_ROLE)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=ACCESS_ROLE, AssumeRolePolicyDocument=_trust(cloud.account))
        iam.put_role_policy(
            RoleName=ACCESS_ROLE, PolicyName="administrator", PolicyDocument=world.ADMIN_POLICY
        )
    return admin


def _guard(outputs: Mapping[str, str]) -> world.Guard:
    return world.Guard(
        role_arns=[outputs["RoleArn"]] if outputs.get("RoleArn") else [],
        rule_names=[v for k, v in sorted(outputs.items()) if k.endswith("RuleName")],
        function_names=[v for k, v in sorted(outputs.items()) if k.endswith("FunctionName")],
        topic_arns=[outputs["TopicArn"]] if outputs.get("TopicArn") else [],
    )


def create_organization(
    cloud: LocalCloud,
) -> tuple[str, str, dict[str, str], list[tuple[str, str, str, str]]]:
    """The organization, its OUs and accounts: ``(org id, root id, OU name -> id, [(account id, name,
    role, OU name)])``, with CloudTrail's and StackSets' trusted access on. The security account is
    CloudTrail's delegated administrator by role only: moto's ``RegisterDelegatedAdministrator`` rejects
    ``cloudtrail.amazonaws.com`` (unrecognized service principal), so the gate stands in for it."""
    orgs = cloud.client("organizations")
    org_id = str(orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"])
    root_id = str(orgs.list_roots()["Roots"][0]["Id"])
    for principal in SERVICE_ACCESS:
        orgs.enable_aws_service_access(ServicePrincipal=principal)
    ous: dict[str, str] = {}
    created: list[tuple[str, str, str, str]] = []
    for name, role, ou in ACCOUNTS:
        if ou not in ous:
            ous[ou] = str(
                orgs.create_organizational_unit(ParentId=root_id, Name=ou)["OrganizationalUnit"]["Id"]
            )
        status = orgs.create_account(AccountName=name, Email=f"aws+{name}@example.com")["CreateAccountStatus"]
        account = str(status["AccountId"])
        orgs.move_account(AccountId=account, SourceParentId=root_id, DestinationParentId=ous[ou])
        created.append((account, name, role, ou))
    return org_id, root_id, ous, created


def build(
    cloud: LocalCloud,
    *,
    stack_name: str = world.STACK_NAME,
    email: str = world.SECURITY_EMAIL,
    progress: Callable[[str], object] = print,
    stacks: Iterable[str] = STACK_ROLES,
    parameters: Callable[[OrgAccount], Mapping[str, str]] | None = None,
) -> OrgWorld:
    """Create the organization and its trails, deploy trailguard into the accounts whose role is in
    ``stacks`` (each with its own credentials and the stack ``parameters`` given for it, e.g. the
    member template's ``OrgTrailRole``), create each account's attacker, wait until quiet."""
    stack_roles = set(stacks)
    org_id, root_id, ous, created = create_organization(cloud)
    progress(f"organization {org_id} (all features), OUs {', '.join(f'{k} {v}' for k, v in ous.items())}")
    root = {"access_key_id": ADMIN_ACCESS_KEY_ID, "secret_access_key": ADMIN_SECRET_ACCESS_KEY}
    management = OrgAccount(cloud.account, "management", MANAGEMENT, "", world.Attacker("", ""), root)
    accounts = [management]
    for account, name, role, ou in created:
        accounts.append(
            OrgAccount(account, name, role, ou, world.Attacker("", ""), access_account(cloud, account))
        )
        progress(f"account {account} {name} ({role}, OU {ou}) through {ACCESS_ROLE}")

    org_trail = world.create_trail(cloud, organization=True)
    management.trails.append(org_trail)
    progress(f"organization trail {org_trail.arn}: multi-region, log file validation, SSE-KMS, logging")
    first_member = next(a for a in accounts if a.role == MEMBER)
    local = world.create_trail(cloud, MEMBER_TRAIL, environ=first_member.environ, account=first_member.id)
    first_member.trails.append(local)
    progress(f"trail {local.arn} of member {first_member.id}: its own, logging")
    cloud.organization = Organization(
        id=org_id,
        management=cloud.account,
        roles={a.id: a.role for a in accounts},
        trails=[OrgTrail(org_trail.arn, org_trail.name, cloud.account, cloud.region)],
    )
    cloud.accounts = [a.id for a in accounts]

    for entry in accounts:
        env = None if entry.role == MANAGEMENT else entry.environ
        detection.enable(cloud, env)  # before deploy, so the baseline records them
        if entry.role in stack_roles:
            progress(f"deploying trailguard into {entry.role} account {entry.id}")
            entry.outputs = world.deploy_stack(
                cloud,
                stack_name,
                email,
                progress,
                environ=env,
                parameters=parameters(entry) if parameters is not None else None,
            )
            entry.guard = _guard(entry.outputs)
            cloud.extra_guard_roles.update(entry.guard.role_arns)
        entry.attacker = world.create_attacker(cloud, environ=env)
    cloud.wait_idle(timeout=60)
    progress("attackers: IAM user attacker with access keys in every account")
    base = world.World(
        endpoint=cloud.endpoint,
        region=cloud.region,
        account=cloud.account,
        trail=org_trail,
        topic_arn=management.outputs.get("TopicArn", ""),
        outbox=str(cloud.outbox.directory),
        attacker=management.attacker,
        guard=management.guard,
        outputs=management.outputs,
        records=str(cloud.records_path) if cloud.records_path else None,
        invocations=str(cloud.invocations_path) if cloud.invocations_path else None,
        detector_id=detection.enable(cloud),
    )
    return OrgWorld(base, cloud.organization, root_id, ous, accounts)
