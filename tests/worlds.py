"""The moto worlds the test areas run against, each composed from the pieces of :class:`aws_support.Account`
(the ``account`` fixture of ``tests/conftest.py``, which also holds a fixture per world):

- :class:`ConfiguredTrail` (``unrecorded``, ``world``): a fully configured protected trail (bucket with
  policy, versioning and encryption, KMS key with alias, prefix, CloudWatch Logs, validation, tags,
  selectors) and trailguard's rules; the baseline and trail-repair tests.
- :class:`RepairStack` (``stack``): a trail with its log bucket (KMS-encrypted, lifecycle) and key in
  ``us-west-2``, baselines recorded; the remediation actions' tests.
- :class:`Deployed` (``deployed``): the real stack deployed next to a protected trail; the guard's own
  repairs and the backstop sweep, driven through the finding handler.

Each world names its resources in its own namespace (``ConfiguredTrail.TRAIL``); a uniquely named module
(``tests`` is on ``pythonpath``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3

import envelopes
from aws_support import ACCOUNT, REGION, TABLE, Account, MotoAccount, read_queue, subscribe_reader
from corpus import load
from trailguard import aws
from trailguard.baseline import Baselines, Summary, capture_all
from trailguard.config import Config
from trailguard.integrity import Mac
from trailguard.remediate import Outcome
from trailguard.state import StateStore


def delivery_policy(bucket: str, trail_arn: str | None = None) -> dict[str, Any]:
    """The bucket policy a trail needs (as the console writes it); scoped to ``trail_arn`` if given."""
    scope = {"aws:SourceArn": trail_arn} if trail_arn else {}
    statements: list[dict[str, Any]] = []
    if trail_arn:
        statements.append(
            {
                "Sid": "AWSCloudTrailAclCheck20150319",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringEquals": dict(scope)},
            }
        )
    write: dict[str, Any] = {
        "Sid": "AWSCloudTrailWrite20150319" if trail_arn else "AWSCloudTrailWrite",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*",
    }
    if trail_arn:
        write["Condition"] = {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **scope}}
    statements.append(write)
    return {"Version": "2012-10-17", "Statement": statements}


def retarget(relpath: str, region: str, params: Mapping[str, Any], *, merge: bool = False) -> dict[str, Any]:
    """A real record of ``tests/data/events`` (an envelope's detail if it is one) re-aimed at this
    account: region, account and the request parameters replaced (merged with the recorded ones if
    ``merge``); who called from where with what is kept as recorded."""
    raw = load(relpath)
    record: dict[str, Any] = copy.deepcopy(raw.get("detail", raw))
    record["awsRegion"] = region
    record["recipientAccountId"] = ACCOUNT
    record["requestParameters"] = (
        {**(record.get("requestParameters") or {}), **params} if merge else dict(params)
    )
    return record


# ------------------------------------------------------------------------------ the configured trail


@dataclass(kw_only=True)
class ConfiguredTrail(MotoAccount):
    """A fully configured protected trail in ``us-east-1``, and trailguard's two rules."""

    TRAIL: ClassVar[str] = "org-audit"
    BUCKET: ClassVar[str] = "audit-logs-bucket"
    OTHER_BUCKET: ClassVar[str] = "attacker-bucket"
    RULES: ClassVar[tuple[str, ...]] = ("trailguard-api-calls", "trailguard-findings")
    BASIC_SELECTORS: ClassVar[list[dict[str, Any]]] = [
        {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}
    ]
    ADVANCED_SELECTORS: ClassVar[list[dict[str, Any]]] = [
        {"Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
    ]

    trail_arn: str
    key_id: str
    key_arn: str
    log_group_arn: str
    logs_role_arn: str

    @classmethod
    def build(cls, account: Account) -> ConfiguredTrail:
        """The account with the trail and its resources, no baseline recorded yet."""
        account.state_table()
        bucket = account.bucket(
            cls.BUCKET,
            versioning=True,
            encryption={"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},
            policy={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "CloudTrailWrite",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{cls.BUCKET}/AWSLogs/{ACCOUNT}/*",
                    }
                ],
            },
        )
        account.bucket(cls.OTHER_BUCKET)
        key = account.key(alias="alias/trail-key")
        group_arn = account.log_group("trail-logs")
        role_arn = account.role("trail-to-logs")
        account.rules(*cls.RULES, target_arn=account.alerts.topic_arn)
        trail_arn = account.trail(
            cls.TRAIL,
            bucket,
            selectors=cls.BASIC_SELECTORS,
            S3KeyPrefix="audit",
            IsMultiRegionTrail=True,
            IncludeGlobalServiceEvents=True,
            EnableLogFileValidation=True,
            KmsKeyId=key["Arn"],
            CloudWatchLogsLogGroupArn=group_arn,
            CloudWatchLogsRoleArn=role_arn,
            TagsList=[{"Key": "owner", "Value": "security"}, {"Key": "tier", "Value": "critical"}],
        )
        env = account.env(
            TRAILGUARD_STATE_TABLE=TABLE,
            TRAILGUARD_RULE_NAMES=",".join(cls.RULES),
            TRAILGUARD_FUNCTION_NAMES="",
        )
        return cls(
            alerts=account.alerts,
            trail_arn=trail_arn,
            key_id=key["KeyId"],
            key_arn=key["Arn"],
            log_group_arn=group_arn,
            logs_role_arn=role_arn,
            env=env,
        )

    @property
    def cloudtrail(self) -> Any:
        return boto3.client("cloudtrail", region_name=REGION)

    @property
    def config(self) -> Config:
        return Config.from_env(self.env)

    @property
    def baselines(self) -> Baselines:
        return Baselines(StateStore(TABLE, REGION))

    def record_baselines(self) -> Summary:
        with aws.using_environ({**self.env, "AWS_REGION": REGION}):
            return capture_all(self.config, REGION, source="deploy")

    def sign_then_forge_trail_baseline(self) -> str:
        """The trail's recorded baseline signed with a new HMAC key (moto's KMS), then its document
        rewritten with a raw PutItem to OTHER_BUCKET, the MAC kept, as someone with table access would.
        Returns the key's ARN (``TRAILGUARD_STATE_KEY``)."""
        kms = boto3.client("kms", region_name=REGION)
        key = str(kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"])
        doc = self.baselines.get("trail", self.trail_arn)
        assert doc is not None, "record the baselines first"
        Baselines(StateStore(TABLE, REGION), Mac(key, REGION)).put("trail", self.trail_arn, doc)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        item_key = {"pk": {"S": "baseline#trail"}, "sk": {"S": self.trail_arn}}
        item = dynamodb.get_item(TableName=TABLE, Key=item_key)["Item"]
        item["doc"] = {"S": item["doc"]["S"].replace(self.BUCKET, self.OTHER_BUCKET)}
        dynamodb.put_item(TableName=TABLE, Item=item)
        return key

    def trail(self) -> dict[str, Any] | None:
        """The live trail by ARN (moto ignores trailNameList)."""
        for trail in self.cloudtrail.describe_trails()["trailList"]:
            if trail["TrailARN"] == self.trail_arn:
                return dict(trail)
        return None

    def is_logging(self) -> bool:
        return bool(self.cloudtrail.get_trail_status(Name=self.trail_arn)["IsLogging"])

    def selectors(self) -> dict[str, Any]:
        got = self.cloudtrail.get_event_selectors(TrailName=self.trail_arn)
        return {k: got.get(k) for k in ("EventSelectors", "AdvancedEventSelectors")}

    def invoke(self, handler: Any, event: Any, **extra: str) -> dict[str, Any]:
        env = {**self.env, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, **extra}
        with aws.using_environ(env):
            result: dict[str, Any] = handler(event, None)
        return result

    @staticmethod
    def api_call_envelope(source_file: str, parameters: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
        """A real tamper record (``tests/data/events/tamper/source_file``) made to name this account's
        trail, wrapped as EventBridge delivers it (``AWS API Call via CloudTrail``)."""
        record = retarget(f"tamper/{source_file}", REGION, parameters)
        record.update(changes)
        return envelopes.api_call(record, event_id="6f1b2a8e-0000-4000-8000-000000000001")

    @staticmethod
    def finding_envelope(trail_arn: str) -> dict[str, Any]:
        """The real GuardDuty sample finding, naming ``trail_arn`` as its affected trail."""
        finding = load("findings/guardduty_finding_sample_cloudtrailloggingdisabled_elastic.json")
        finding["accountId"], finding["region"] = ACCOUNT, REGION
        action = finding["service"].setdefault("action", {}).setdefault("awsApiCallAction", {})
        action["affectedResources"] = {"AWS::CloudTrail::Trail": trail_arn}
        finding["service"]["archived"] = False
        return envelopes.guardduty(
            finding, event_id="6f1b2a8e-0000-4000-8000-000000000002", time=envelopes.TIME
        )


# ------------------------------------------------------------------------------ the repair stack


@dataclass
class RepairStack:
    """A protected trail with its log bucket and KMS key in ``us-west-2`` (so CreateBucket needs its
    LocationConstraint), the alert topic and the state table; the baselines recorded with the real
    capture code."""

    REGION: ClassVar[str] = "us-west-2"
    TRAIL: ClassVar[str] = "protected-trail"
    BUCKET: ClassVar[str] = "trailguard-test-trail-logs"
    BASELINE_RULES: ClassVar[list[dict[str, Any]]] = [
        {
            "ID": "keep-logs-400-days",
            "Filter": {"Prefix": "AWSLogs/"},
            "Status": "Enabled",
            "Expiration": {"Days": 400},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 400},
        }
    ]

    alerts: Any
    env: dict[str, str]
    trail_arn: str
    key_id: str
    key_arn: str
    policy: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)
    """Every action outcome the handler produced, in order (repeats are folded out of the messages)."""

    @classmethod
    def build(cls, account: Account) -> RepairStack:
        assert account.region == cls.REGION, "the repair stack lives in us-west-2 (its aws_region)"
        account.state_table()
        key = account.key()
        trail_arn = f"arn:aws:cloudtrail:{cls.REGION}:{ACCOUNT}:trail/{cls.TRAIL}"
        policy = delivery_policy(cls.BUCKET, trail_arn)
        account.bucket(
            cls.BUCKET,
            policy=policy,
            versioning=True,
            encryption={
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": key["Arn"],
                },
                "BucketKeyEnabled": True,
            },
            lifecycle=cls.BASELINE_RULES,
        )
        assert account.trail(cls.TRAIL, cls.BUCKET, KmsKeyId=key["Arn"]) == trail_arn
        env = account.env(AWS_REGION=cls.REGION, TRAILGUARD_STATE_TABLE=TABLE)
        made = cls(account.alerts, env, trail_arn, key["KeyId"], key["Arn"], policy)
        with aws.using_environ(made.env):
            made.record_baselines()
        return made

    @classmethod
    def tamper_event(
        cls,
        name: str,
        params: Mapping[str, Any],
        *,
        resource_arn: str | None = None,
        folder: str = "tamper",
        event_name: str | None = None,
    ) -> dict[str, Any]:
        """The real record ``name`` re-aimed at this account: region, account and the named request
        parameters replaced (the rest, who called from where with what, kept as recorded)."""
        record = retarget(f"{folder}/{name}", cls.REGION, params, merge=True)
        if event_name:
            record["eventName"] = event_name
        record.pop("responseElements", None)
        if resource_arn is not None and record.get("resources"):
            record["resources"] = [
                {**r, "ARN": resource_arn, "arn": resource_arn} for r in record["resources"]
            ]
        return envelopes.api_call(
            record, event_id="6f1c2f4e-0d9a-4b7e-9a51-2b6c1f0f9e01", account=ACCOUNT, time=envelopes.TIME
        )

    @property
    def queue_url(self) -> str:
        return str(self.alerts.queue_url)

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=self.REGION)

    @property
    def kms(self) -> Any:
        return boto3.client("kms", region_name=self.REGION)

    def record_baselines(self) -> Baselines:
        """What ``trailguard baseline record`` does: capture every protected resource into the table."""
        config = Config.from_env(self.env)
        summary = capture_all(config, self.REGION)
        assert summary.ok, summary.describe()
        assert self.BUCKET in summary.recorded["bucket"]
        return Baselines(StateStore(TABLE, self.REGION))

    def forget_baseline(self, kind: str, ident: str) -> None:
        boto3.client("dynamodb", region_name=self.REGION).delete_item(
            TableName=TABLE, Key={"pk": {"S": f"baseline#{kind}"}, "sk": {"S": ident}}
        )

    def lifecycle(self, bucket: str | None = None) -> list[dict[str, Any]] | None:
        try:
            rules: list[dict[str, Any]] = self.s3.get_bucket_lifecycle_configuration(
                Bucket=bucket or self.BUCKET
            )["Rules"]
        except self.s3.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
            return None
        return rules

    def bucket_policy(self, bucket: str | None = None) -> Any:
        import json

        try:
            return json.loads(self.s3.get_bucket_policy(Bucket=bucket or self.BUCKET)["Policy"])
        except self.s3.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
            return None

    def key_state(self) -> str:
        return str(self.kms.describe_key(KeyId=self.key_id)["KeyMetadata"]["KeyState"])

    def messages(self) -> list[dict[str, Any]]:
        """Every alert published so far: the JSON document of each SNS message, with its subject."""
        documents: list[dict[str, Any]] = self.alerts.documents()
        return documents

    def invoke(self, event: Any) -> dict[str, Any]:
        """Run the API-call handler with the function's environment bound, as the local cloud does."""
        from trailguard import handlers

        with aws.using_environ(self.env):
            result: dict[str, Any] = handlers.api_call(event, None)
        return result


# ------------------------------------------------------------------------------ the deployed stack


@dataclass
class Deployed:
    """The real stack deployed next to a protected trail (bucket with the delivery policy, KMS key),
    alerts read through an SQS queue subscribed after ``deploy`` recorded the topic's baseline."""

    STACK: ClassVar[str] = "tg"
    TRAIL: ClassVar[str] = "audit-trail"
    BUCKET: ClassVar[str] = "audit-trail-logs"
    SCHEDULED: ClassVar[dict[str, Any]] = envelopes.envelope(
        "Scheduled Event",
        "aws.events",
        {},
        event_id="5a0c7b1e-9a2f-4c1d-8e55-0f3c2b7d9e11",
        resources=[f"arn:aws:events:{REGION}:{ACCOUNT}:rule/tg-backstop"],
    )

    outputs: dict[str, str]
    env: dict[str, str]
    queue_url: str
    trail_arn: str
    key_id: str

    @classmethod
    def build(cls, account: Account, *, baseline: bool = True) -> Deployed:
        """The trail first, then the stack (so ``deploy`` records the trail's baseline unless told not to)."""
        bucket = account.bucket(cls.BUCKET, policy=delivery_policy(cls.BUCKET))
        key = account.key()
        trail_arn = account.trail(cls.TRAIL, bucket, IsMultiRegionTrail=True, KmsKeyId=key["Arn"])
        outputs = account.deploy(cls.STACK, baseline=baseline)
        queue_url = subscribe_reader(outputs["TopicArn"], REGION)
        function = account.client("lambda").get_function_configuration(
            FunctionName=outputs["FindingFunctionName"]
        )
        env = {
            **function["Environment"]["Variables"],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        return cls(outputs, env, queue_url, trail_arn, str(key["KeyId"]))

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def sweep(self) -> dict[str, Any]:
        """One firing of the backstop schedule, handled by the finding function."""
        return self.call(copy.deepcopy(self.SCHEDULED))

    def call(self, event: Any) -> dict[str, Any]:
        """An envelope delivered to the finding function (the guard-calls rule, or the schedule)."""
        from trailguard import handlers

        with aws.using_environ(self.env):
            result: dict[str, Any] = handlers.finding(event, None)
        return result

    def messages(self) -> list[dict[str, Any]]:
        """Every alert published since the last read: subject and the e-mail text."""
        return [
            {"subject": subject, "text": payload.get("text", ""), "doc": payload}
            for subject, payload in read_queue(self.queue_url, REGION)
        ]
