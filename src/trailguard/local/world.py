"""What the emulator sets up: the deployed stack, a protected trail worth attacking, and an attacker.

The stack is deployed with :func:`trailguard.deploy.deploy`, the same code path and template as on AWS.
The trail is what a careful account has: multi-region, log file validation, SSE-KMS, an S3 bucket whose
policy lets CloudTrail write. The attacker is an IAM user with access keys and an admin policy, so every
tampering call is allowed and it is trailguard, not IAM, that has to undo it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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


@dataclass
class Trail:
    name: str
    arn: str
    bucket: str
    kms_key_id: str


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


def create_trail(cloud: LocalCloud, name: str = TRAIL_NAME) -> Trail:
    """A multi-region trail with log file validation, SSE-KMS and all management events, logging into
    its own bucket."""
    account, region = cloud.account, cloud.region
    bucket = f"{name}-logs-{account}"
    s3, kms, ct = cloud.client("s3"), cloud.client("kms"), cloud.client("cloudtrail")
    s3.create_bucket(Bucket=bucket)
    trail_arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"
    # The delivery policy trailguard itself writes when a trail bucket has none left.
    policy = cloudtrail_policy(bucket, [{"TrailARN": trail_arn, "S3BucketName": bucket}])
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    # The key policy CloudTrail documents, so the key's baseline is one CloudTrail can use.
    key_policy = json.dumps(cloudtrail_key_policy(account, [trail_arn]))
    key = kms.create_key(Description=f"CloudTrail logs of {name}", Policy=key_policy)
    key_arn = key["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=f"alias/{name}", TargetKeyId=key["KeyMetadata"]["KeyId"])
    trail = ct.create_trail(
        Name=name,
        S3BucketName=bucket,
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        IncludeGlobalServiceEvents=True,
        KmsKeyId=key_arn,
    )
    # Explicit, as AWS reports a new trail's default (moto reports none): all management events.
    ct.put_event_selectors(
        TrailName=name,
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}],
    )
    ct.start_logging(Name=name)
    return Trail(name=name, arn=trail["TrailARN"], bucket=bucket, kms_key_id=key_arn)


def create_attacker(cloud: LocalCloud, name: str = ATTACKER) -> Attacker:
    iam = cloud.client("iam")
    user = iam.create_user(UserName=name)["User"]
    iam.put_user_policy(UserName=name, PolicyName="administrator", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Attacker(key["AccessKeyId"], key["SecretAccessKey"], arn=user["Arn"], user_name=name)


def deploy_stack(
    cloud: LocalCloud,
    stack_name: str = STACK_NAME,
    email: str = SECURITY_EMAIL,
    progress: Callable[[str], object] = print,
) -> dict[str, str]:
    """The real template with the packaged code, through :func:`trailguard.deploy.deploy`."""
    from trailguard.deploy import deploy

    with cloud.as_admin():
        return deploy(
            stack_name,
            email,
            region=cloud.region,
            endpoint_url=cloud.endpoint,
            progress=progress,
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
    progress(f"trail {trail.name}: multi-region, log file validation, SSE-KMS, logging")
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
