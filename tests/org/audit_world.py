"""An in-process moto organization for the audit tests: the management account with an organization
trail, an OU with two members (one with its own trail), one suspended account.

moto's ``AssumeRole`` works into any account (its credentials then act in that account), so every
member is reached through ``OrganizationAccountAccessRole`` as on AWS; ``MOTO_ACCOUNT_ID`` is never set.
moto shows a member no shadow of the organization trail (AWS does): the audit reads organization trails
from their owner, which serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

from trailguard.org.checks import CLOUDTRAIL_PRINCIPAL, STACKSETS_PRINCIPAL

REGIONS = ("us-east-1", "eu-west-1")
ROLE = "OrganizationAccountAccessRole"


def clients_of(account: str, management: str) -> Any:
    """A boto3 session acting in ``account`` (the management account's own credentials for itself)."""
    if account == management:
        return boto3.session.Session()
    creds = boto3.client("sts", "us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="tests"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def good_trail(session: Any, name: str, bucket: str, *, organization: bool = False) -> str:
    """A multi-Region trail with a KMS key, log file validation and a bucket that is private and logs
    its access, logging: what CloudTrail.1-7 ask for (CloudWatch Logs aside)."""
    s3 = session.client("s3", "us-east-1")
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=f"{bucket}-access", ACL="log-delivery-write")
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_logging(
        Bucket=bucket,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": f"{bucket}-access", "TargetPrefix": "logs/"}},
    )
    key = session.client("kms", "us-east-1").create_key()["KeyMetadata"]["Arn"]
    ct = session.client("cloudtrail", "us-east-1")
    arn = ct.create_trail(
        Name=name,
        S3BucketName=bucket,
        IsMultiRegionTrail=True,
        IsOrganizationTrail=organization,
        KmsKeyId=key,
        EnableLogFileValidation=True,
    )["TrailARN"]
    ct.start_logging(Name=arn)
    return str(arn)


@dataclass
class Org:
    management: str
    members: list[str]
    suspended: str
    ou: str
    org_trail: str
    member_trail: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> list[str]:
        return sorted([self.management, *self.members])

    def session(self, account: str) -> Any:
        return clients_of(account, self.management)


def build() -> Org:
    org = boto3.client("organizations", "us-east-1")
    org.create_organization(FeatureSet="ALL")
    for principal in (CLOUDTRAIL_PRINCIPAL, STACKSETS_PRINCIPAL):
        org.enable_aws_service_access(ServicePrincipal=principal)
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    management = boto3.client("sts", "us-east-1").get_caller_identity()["Account"]
    made = []
    for name in ("member-a", "member-b", "gone"):
        account = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"][
            "AccountId"
        ]
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        made.append(account)
    org.close_account(AccountId=made[2])
    org_trail = good_trail(boto3.session.Session(), "org-trail", "org-trail-logs-bucket", organization=True)
    member_trail = good_trail(clients_of(made[0], management), "local-trail", "member-a-trail-logs")
    return Org(management, made[:2], made[2], ou, org_trail, member_trail)
