"""What the emulator sets up: the deployed stack, a protected trail worth attacking, and an attacker.

The stack is deployed with :func:`trailguard.deploy.deploy`, the same code path and template as on AWS.
The trail is what a careful account has, with its whole delivery chain: multi-region, log file
validation, SSE-KMS with a key whose policy lets CloudTrail (and CloudWatch Logs) use it, an S3 key
prefix, a versioned, default-encrypted log bucket behind a public access block whose policy lets
CloudTrail write under that prefix, S3 data events for the bucket's own objects (so deleting log files
is recorded), and CloudWatch Logs delivery: a log group with a 365-day retention, encrypted with the
trail key, and the delivery role CloudTrail assumes to write into it. The attacker is an IAM user with
access keys and an admin policy, so every tampering call is allowed and it is trailguard, not IAM, that
has to undo it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from trailguard.local import detection
from trailguard.local.server import LocalCloud
from trailguard.remediate.bucket import cloudtrail_policy
from trailguard.resources.key import cloudtrail_key_policy

STACK_NAME = "trailguard"
SECURITY_EMAIL = "security-team@example.com"
TRAIL_NAME = "org-audit-trail"
ATTACKER = "attacker"
KEY_PREFIX = "audit"
LOG_RETENTION_DAYS = 365
PUBLIC_ACCESS_BLOCK = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)
BUCKET_ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
CLOUDTRAIL_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@dataclass
class Trail:
    """The protected trail and its delivery chain, as the ready file's ``trail`` object lists it:
    ``log_group`` and ``delivery_role`` are names (what the CLI takes), their ARNs beside them."""

    name: str
    arn: str
    bucket: str
    kms_key_id: str
    key_prefix: str = ""
    log_group: str = ""
    log_group_arn: str = ""
    delivery_role: str = ""
    delivery_role_arn: str = ""


@dataclass
class Attacker:
    access_key_id: str
    secret_access_key: str
    arn: str = ""
    user_name: str = ATTACKER


@dataclass
class Guard:
    role_arns: list[str] = field(default_factory=list)
    rule_names: list[str] = field(default_factory=list)
    function_names: list[str] = field(default_factory=list)
    topic_arns: list[str] = field(default_factory=list)


@dataclass
class World:
    """Everything a user of the emulator needs to attack it and watch; ``ready()`` is the ready file."""

    endpoint: str
    region: str
    account: str
    trail: Trail
    topic_arn: str
    outbox: str
    attacker: Attacker
    guard: Guard
    outputs: dict[str, str]
    records: str | None = None
    invocations: str | None = None
    detector_id: str = ""

    def ready(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "endpoint": self.endpoint,
            "region": self.region,
            "account": self.account,
            "trail": asdict(self.trail),
            "topic_arn": self.topic_arn,
            "outbox": self.outbox,
            "attacker": {
                "access_key_id": self.attacker.access_key_id,
                "secret_access_key": self.attacker.secret_access_key,
                "arn": self.attacker.arn,
            },
            "guard": asdict(self.guard),
        }
        if self.detector_id:
            doc["detector_id"] = self.detector_id
        if self.records:
            doc["records"] = self.records
        if self.invocations:
            doc["invocations"] = self.invocations
        return doc


ADMIN_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def logs_key_statement(account: str, region: str, group_arn: str) -> dict[str, Any]:
    """The key policy statement CloudWatch Logs documents for a log group encrypted with the key."""
    return {
        "Sid": "Allow CloudWatch Logs to use the key",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}},
    }


def delivery_policy(group_arn: str) -> str:
    """What the delivery role may do: create streams in and write to the trail's log group only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudTrailToCloudWatchLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{group_arn}:log-stream:*",
                }
            ],
        }
    )


def create_trail(
    cloud: LocalCloud,
    name: str = TRAIL_NAME,
    *,
    environ: Mapping[str, str] | None = None,
    account: str | None = None,
    organization: bool = False,
) -> Trail:
    """A multi-region trail with log file validation, SSE-KMS, an S3 key prefix, S3 data events on its
    own bucket and CloudWatch Logs delivery, logging into a versioned, encrypted, public-access-blocked
    bucket. ``environ`` (credentials) and ``account`` create it in another account of an organization;
    ``organization`` makes it an organization trail (the management account's)."""
    account, region = account or cloud.account, cloud.region
    bucket = f"{name}-logs-{account}"
    group = f"/aws/cloudtrail/{name}"
    group_arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    role_name = f"{name}-cloudwatch-logs"
    s3, kms = cloud.client("s3", environ), cloud.client("kms", environ)
    ct, logs, iam = (
        cloud.client("cloudtrail", environ),
        cloud.client("logs", environ),
        cloud.client("iam", environ),
    )
    trail_arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"

    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=dict(PUBLIC_ACCESS_BLOCK))
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=BUCKET_ENCRYPTION)
    # The delivery policy trailguard itself writes when a trail bucket has none left.
    written = {"TrailARN": trail_arn, "S3BucketName": bucket, "S3KeyPrefix": KEY_PREFIX}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(cloudtrail_policy(bucket, [written])))

    # The key policy CloudTrail documents (so the key's baseline is one CloudTrail can use), plus the
    # statement CloudWatch Logs needs to encrypt the trail's log group with the same key.
    key_policy = cloudtrail_key_policy(account, [trail_arn])
    key_policy["Statement"].append(logs_key_statement(account, region, group_arn))
    key = kms.create_key(Description=f"CloudTrail logs of {name}", Policy=json.dumps(key_policy))
    key_arn = key["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=f"alias/{name}", TargetKeyId=key["KeyMetadata"]["KeyId"])

    logs.create_log_group(logGroupName=group, kmsKeyId=key_arn)
    logs.put_retention_policy(logGroupName=group, retentionInDays=LOG_RETENTION_DAYS)
    role = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=CLOUDTRAIL_TRUST,
        Description=f"CloudTrail delivers {name} to CloudWatch Logs",
    )["Role"]
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="cloudtrail-to-cloudwatch-logs",
        PolicyDocument=delivery_policy(group_arn),
    )

    org_trail = {"IsOrganizationTrail": True} if organization else {}
    trail = ct.create_trail(
        **org_trail,
        Name=name,
        S3BucketName=bucket,
        S3KeyPrefix=KEY_PREFIX,
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        IncludeGlobalServiceEvents=True,
        KmsKeyId=key_arn,
        CloudWatchLogsLogGroupArn=f"{group_arn}:*",
        CloudWatchLogsRoleArn=role["Arn"],
    )
    # Explicit, as AWS reports a new trail's default (moto reports none): all management events, and
    # the data events of the log bucket's own objects, so deleting a log file is recorded too.
    ct.put_event_selectors(
        TrailName=name,
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{bucket}/"]}],
            }
        ],
    )
    ct.start_logging(Name=name)
    return Trail(
        name=name,
        arn=trail["TrailARN"],
        bucket=bucket,
        kms_key_id=key_arn,
        key_prefix=KEY_PREFIX,
        log_group=group,
        log_group_arn=f"{group_arn}:*",
        delivery_role=role_name,
        delivery_role_arn=role["Arn"],
    )


def create_attacker(
    cloud: LocalCloud, name: str = ATTACKER, environ: Mapping[str, str] | None = None
) -> Attacker:
    iam = cloud.client("iam", environ)
    user = iam.create_user(UserName=name)["User"]
    iam.put_user_policy(UserName=name, PolicyName="administrator", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Attacker(key["AccessKeyId"], key["SecretAccessKey"], arn=user["Arn"], user_name=name)


def deploy_stack(
    cloud: LocalCloud,
    stack_name: str = STACK_NAME,
    email: str = SECURITY_EMAIL,
    progress: Callable[[str], object] = print,
    *,
    environ: Mapping[str, str] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The real template with the packaged code, through :func:`trailguard.deploy.deploy` (with the
    credentials in ``environ``: another account's, in the organization world; with stack
    ``parameters`` beside the email)."""
    from trailguard.aws import using_environ
    from trailguard.deploy import deploy

    with using_environ({**cloud.admin_environ, **(environ or {})}):
        return deploy(
            stack_name,
            email,
            region=cloud.region,
            endpoint_url=cloud.endpoint,
            progress=progress,
            parameters=dict(parameters) if parameters else None,
            poll_seconds=0.05,
            timeout_seconds=120,
        )


def build(
    cloud: LocalCloud,
    *,
    stack_name: str = STACK_NAME,
    email: str = SECURITY_EMAIL,
    progress: Callable[[str], object] = print,
) -> World:
    """Deploy trailguard, create the protected trail and the attacker, wait until the cloud is quiet."""
    trail = create_trail(cloud)
    progress(
        f"trail {trail.name}: multi-region, log file validation, SSE-KMS, prefix {trail.key_prefix}/, "
        f"CloudWatch Logs {trail.log_group}, versioned encrypted bucket {trail.bucket}, logging"
    )
    detector_id = detection.enable(cloud)  # before deploy, so the baseline records them
    progress(f"GuardDuty detector {detector_id} and Security Hub enabled")
    outputs = deploy_stack(cloud, stack_name, email, progress)
    attacker = create_attacker(cloud)
    progress(f"IAM user {attacker.user_name} with access key {attacker.access_key_id}")
    guard = Guard(
        role_arns=[outputs["RoleArn"]] if outputs.get("RoleArn") else [],
        rule_names=[v for k, v in sorted(outputs.items()) if k.endswith("RuleName")],
        function_names=[v for k, v in sorted(outputs.items()) if k.endswith("FunctionName")],
        topic_arns=[outputs["TopicArn"]] if outputs.get("TopicArn") else [],
    )
    cloud.extra_guard_roles.update(guard.role_arns)
    cloud.wait_idle(timeout=30)
    return World(
        endpoint=cloud.endpoint,
        region=cloud.region,
        account=cloud.account,
        trail=trail,
        topic_arn=outputs.get("TopicArn", ""),
        outbox=str(cloud.outbox.directory),
        attacker=attacker,
        guard=guard,
        outputs=outputs,
        records=str(cloud.records_path) if cloud.records_path else None,
        invocations=str(cloud.invocations_path) if cloud.invocations_path else None,
        detector_id=detector_id,
    )
