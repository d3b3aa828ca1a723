"""Package the Lambda code and deploy the stack through a CloudFormation change set.

The package holds only what the handlers import (the ``trailguard`` package without the local cloud and
the CLI), with fixed timestamps and order, so the same source always gives the same bytes and the same
content-addressed S3 key: an unchanged build is a no-op update, a changed one updates both functions.
A change set (rather than ``create_stack`` / ``update_stack``) gives one code path for create and update
and turns "nothing to change" into a clean answer instead of an error.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailguard import aws

PACKAGE_DIR = Path(__file__).resolve().parent
# Not needed on Lambda: the local cloud (moto, werkzeug), the command line and deployment.
EXCLUDED_SUBPACKAGES = frozenset({"local", "cli"})
EXCLUDED_FILES = frozenset({"__main__.py", "deploy.py"})
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
TEMPLATE_BODY_LIMIT = 51_200
# Longest resource name the template derives is "<stack>-api-calls" (EventBridge rule, max 64).
MAX_STACK_NAME = 64 - len("-api-calls")
STACK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

TERMINAL_OK = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
TERMINAL_FAILED = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_COMPLETE",
        "DELETE_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "UPDATE_FAILED",
        "IMPORT_ROLLBACK_COMPLETE",
        "IMPORT_ROLLBACK_FAILED",
    }
)
NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")


class DeployError(RuntimeError):
    """Deployment cannot go on; the message says what a person must do."""


@dataclass(frozen=True)
class Package:
    zip_path: Path
    template_path: Path
    code_sha256: str  # hex digest of the zip's bytes; also its S3 key


def template_source() -> Path:
    """The CloudFormation template: in a source checkout, or shipped as package data."""
    for candidate in (
        PACKAGE_DIR.parents[1] / "template" / "trailguard.yaml",
        PACKAGE_DIR / "data" / "trailguard.yaml",
    ):
        if candidate.is_file():
            return candidate
    raise DeployError(
        "template/trailguard.yaml not found: run trailguard from a source checkout "
        "(pip install -e .) or reinstall the package"
    )


def _lambda_files() -> Iterator[tuple[str, Path]]:
    """(archive name, file) for every file Lambda needs, in a stable order."""
    for path in sorted(PACKAGE_DIR.rglob("*")):
        rel = path.relative_to(PACKAGE_DIR)
        if not path.is_file() or "__pycache__" in rel.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        if rel.parts[0] in EXCLUDED_SUBPACKAGES or str(rel) in EXCLUDED_FILES:
            continue
        if rel.parts[0] in {"tests", "test"} or path.name.startswith("."):
            continue
        yield f"trailguard/{rel.as_posix()}", path


def build_zip(zip_path: Path) -> str:
    """Write the Lambda zip (deterministic bytes) and return its sha256 hex digest."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, path in _lambda_files():
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the mode bits above are honoured
            zf.writestr(info, path.read_bytes())
    return hashlib.sha256(zip_path.read_bytes()).hexdigest()


def package(output_dir: str | Path) -> Package:
    """Build ``trailguard-lambda.zip`` and copy the template beside it."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / "trailguard-lambda.zip"
    digest = build_zip(zip_path)
    template_path = out / "trailguard.yaml"
    shutil.copyfile(template_source(), template_path)
    return Package(zip_path=zip_path, template_path=template_path, code_sha256=digest)


# ---------------------------------------------------------------------------------------------- deploy


def validate_stack_name(name: str) -> None:
    if not STACK_NAME_RE.match(name) or len(name) > MAX_STACK_NAME:
        raise DeployError(
            f"invalid stack name {name!r}: use letters, digits and hyphens, starting with a letter, "
            f"at most {MAX_STACK_NAME} characters (function and rule names are derived from it)"
        )


def validate_email(email: str) -> None:
    if not EMAIL_RE.match(email):
        raise DeployError(f"invalid email address {email!r}: give one such as security@example.com")


def _explain(exc: Exception, doing: str) -> DeployError:
    """Turn a botocore exception into a message saying what to do."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    if isinstance(exc, NoCredentialsError):
        return DeployError(
            f"{doing}: no AWS credentials found. Run `aws configure` or `aws sso login`, "
            "or pass --profile NAME"
        )
    if isinstance(exc, ProfileNotFound):
        return DeployError(f"{doing}: {exc}. Check --profile against ~/.aws/config")
    if isinstance(exc, NoRegionError):
        return DeployError(f"{doing}: no region configured. Pass --region")
    if isinstance(exc, EndpointConnectionError):
        return DeployError(f"{doing}: cannot reach {exc.kwargs.get('endpoint_url')}. Check --endpoint-url")
    if isinstance(exc, ClientError):
        code = aws.error_code(exc)
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            return DeployError(
                f"{doing}: access denied ({exc}). Deploy with credentials that may manage "
                "CloudFormation, IAM roles, Lambda, EventBridge, SNS, SQS, DynamoDB, Logs and S3"
            )
        if code in {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId"}:
            return DeployError(f"{doing}: the credentials are expired or invalid; refresh them ({code})")
        return DeployError(f"{doing}: {exc}")
    return DeployError(f"{doing}: {exc}")


def _call(doing: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except (BotoCoreError, ClientError) as exc:
        raise _explain(exc, doing) from exc


def artifact_bucket_name(account: str, region: str) -> str:
    return f"trailguard-artifacts-{account}-{region}"


def ensure_artifact_bucket(s3: Any, name: str, region: str, progress: Callable[[str], object]) -> None:
    """Create the private, encrypted, versioned artifact bucket unless it is already ours."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as exc:
        code = aws.error_code(exc)
        if code in {"403", "AccessDenied", "Forbidden"}:
            raise DeployError(
                f"bucket {name} exists but this account cannot use it; delete it or deploy to another "
                "region/account"
            ) from exc
        if code not in {"404", "NoSuchBucket", "NotFound"}:
            raise _explain(exc, f"checking artifact bucket {name}") from exc
    progress(f"creating artifact bucket {name}")
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    _call(f"creating bucket {name}", s3.create_bucket, **kwargs)
    hardening: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
        (
            "blocking public access",
            s3.put_public_access_block,
            {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                }
            },
        ),
        (
            "enabling default encryption",
            s3.put_bucket_encryption,
            {
                "ServerSideEncryptionConfiguration": {
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                }
            },
        ),
        (
            "enabling versioning",
            s3.put_bucket_versioning,
            {"VersioningConfiguration": {"Status": "Enabled"}},
        ),
    ]
    for doing, fn, extra in hardening:
        try:
            fn(Bucket=name, **extra)
        except ClientError as exc:
            # An emulator may not implement every bucket setting; AWS does, so report, don't stop.
            if aws.error_code(exc) in {"NotImplemented", "501"}:
                progress(f"warning: {doing} on {name} is not supported by this endpoint")
                continue
            raise _explain(exc, f"{doing} on {name}") from exc


def upload_code(s3: Any, bucket: str, pkg: Package, progress: Callable[[str], object]) -> str:
    """Upload the zip under its content hash (skipped when that key is already there)."""
    from botocore.exceptions import ClientError

    key = f"trailguard/lambda-{pkg.code_sha256}.zip"
    try:
        s3.head_object(Bucket=bucket, Key=key)
        progress(f"code s3://{bucket}/{key} already uploaded")
        return key
    except ClientError as exc:
        if aws.error_code(exc) not in {"404", "NoSuchKey", "NotFound"}:
            raise _explain(exc, f"checking s3://{bucket}/{key}") from exc
    progress(f"uploading code to s3://{bucket}/{key}")
    _call(
        f"uploading s3://{bucket}/{key}",
        s3.put_object,
        Bucket=bucket,
        Key=key,
        Body=pkg.zip_path.read_bytes(),
        ServerSideEncryption="AES256",
    )
    return key


def _stack(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise _explain(exc, f"looking up stack {stack_name}") from exc
    return stacks[0] if stacks else None


def _change_set_type(stack: dict[str, Any] | None, stack_name: str) -> str:
    if stack is None:
        return "CREATE"
    status = str(stack["StackStatus"])
    if status == "REVIEW_IN_PROGRESS":  # an earlier change set was never executed
        return "CREATE"
    if status in {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"}:
        raise DeployError(
            f"stack {stack_name} is {status} (its first creation failed) and cannot be updated: "
            f"delete it (aws cloudformation delete-stack --stack-name {stack_name}) and deploy again"
        )
    if status.endswith("_IN_PROGRESS"):
        raise DeployError(f"stack {stack_name} is {status}: wait for it to finish, then deploy again")
    if status.endswith("_FAILED"):
        raise DeployError(f"stack {stack_name} is {status}: repair it in the CloudFormation console first")
    return "UPDATE"


class _EventPrinter:
    """Prints each stack event once, oldest first, starting after what was there before."""

    def __init__(self, cfn: Any, stack_name: str, progress: Callable[[str], object]) -> None:
        self.cfn = cfn
        self.stack_name = stack_name
        self.progress = progress
        self.seen: set[str] = set()

    def _events(self) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            events: list[dict[str, Any]] = self.cfn.describe_stack_events(StackName=self.stack_name)[
                "StackEvents"
            ]
        except (BotoCoreError, ClientError):
            return []  # progress is a courtesy; the stack status decides
        return events

    def mark_seen(self) -> None:
        self.seen.update(str(e["EventId"]) for e in self._events())

    def poll(self) -> list[dict[str, Any]]:
        new = [e for e in reversed(self._events()) if str(e["EventId"]) not in self.seen]
        for event in new:
            self.seen.add(str(event["EventId"]))
            reason = event.get("ResourceStatusReason") or ""
            self.progress(
                f"  {event['LogicalResourceId']:<24} {event.get('ResourceType', ''):<28} "
                f"{event.get('ResourceStatus', '')}{'  ' + reason if reason else ''}"
            )
        return new


def _wait_change_set(cfn: Any, arn: str, poll_seconds: float, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        cs: dict[str, Any] = _call("describing change set", cfn.describe_change_set, ChangeSetName=arn)
        if cs["Status"] in {"CREATE_COMPLETE", "FAILED"}:
            return cs
        if time.monotonic() > deadline:
            raise DeployError(f"change set {arn} still {cs['Status']} after {timeout:.0f}s")
        time.sleep(poll_seconds)


# Each template output and where it comes from: (logical id, "ref" | "role-arn").
OUTPUT_SOURCES: dict[str, tuple[str, str]] = {
    "TopicArn": ("AlertTopic", "ref"),
    "RoleArn": ("GuardRole", "role-arn"),
    "StateTableName": ("StateTable", "ref"),
    "ApiCallRuleName": ("ApiCallRule", "ref"),
    "FindingRuleName": ("FindingRule", "ref"),
    "GuardRuleName": ("GuardCallsRule", "ref"),
    "BackstopRuleName": ("BackstopRule", "ref"),
    "ApiCallFunctionName": ("ApiCallFunction", "ref"),
    "FindingFunctionName": ("FindingFunction", "ref"),
    "DeadLetterQueueUrl": ("DeadLetterQueue", "ref"),
}


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in stack.get("Outputs") or []}


def _stack_outputs(cfn: Any, stack: dict[str, Any], progress: Callable[[str], object]) -> dict[str, str]:
    """The stack's outputs; derived from its resources when the endpoint reports none.

    moto (the local cloud) does not evaluate Outputs when it executes a change set; AWS always does,
    so on AWS this is a plain read. The derivation follows OUTPUT_SOURCES, which a test keeps equal
    to the template's Outputs.
    """
    outputs = _outputs(stack)
    if outputs:
        return outputs
    stack_name = str(stack["StackName"])
    resources = _call(
        f"listing resources of {stack_name}", cfn.describe_stack_resources, StackName=stack_name
    )["StackResources"]
    physical = {
        str(r["LogicalResourceId"]): str(r["PhysicalResourceId"])
        for r in resources
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }
    _, partition, _, _, account, _ = str(stack["StackId"]).split(":", 5)
    for key, (logical_id, kind) in OUTPUT_SOURCES.items():
        value = physical.get(logical_id)
        if value is None:
            raise DeployError(f"stack {stack_name} has no resource {logical_id}; redeploy it")
        if kind == "role-arn" and not value.startswith("arn:"):
            value = f"arn:{partition}:iam::{account}:role/{value}"
        outputs[key] = value
    progress("note: the endpoint reported no stack outputs; derived them from the stack's resources")
    return outputs


def deploy(
    stack_name: str,
    email: str,
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    parameters: Mapping[str, str] | None = None,
    progress: Callable[[str], object] = print,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 1800.0,
    baseline: bool = True,
) -> dict[str, str]:
    """Create or update the stack and return its outputs; raises DeployError saying what to do.

    With ``baseline`` (the default) the protected resources' baselines are then recorded with the
    deployer's credentials (see :func:`record_baseline`): the handlers restore what is recorded.
    """
    import tempfile

    validate_stack_name(stack_name)
    validate_email(email)
    region = region or aws.default_region()

    def client(service: str) -> Any:
        from botocore.exceptions import BotoCoreError

        try:
            return aws.client(service, region, profile=profile, endpoint_url=endpoint_url)
        except BotoCoreError as exc:
            raise _explain(exc, f"creating the {service} client") from exc

    account = _call("finding the AWS account (sts get-caller-identity)", client("sts").get_caller_identity)[
        "Account"
    ]
    progress(f"deploying stack {stack_name} to account {account}, region {region}")

    with tempfile.TemporaryDirectory(prefix="trailguard-") as tmp:
        pkg = package(tmp)
        progress(f"packaged {pkg.zip_path.stat().st_size} bytes, sha256 {pkg.code_sha256}")
        s3 = client("s3")
        bucket = artifact_bucket_name(account, region)
        ensure_artifact_bucket(s3, bucket, region, progress)
        key = upload_code(s3, bucket, pkg, progress)
        body = pkg.template_path.read_text(encoding="utf-8")
    if len(body.encode()) > TEMPLATE_BODY_LIMIT:
        raise DeployError(f"template is larger than {TEMPLATE_BODY_LIMIT} bytes; upload it to S3 instead")

    values = {
        "SecurityContactEmail": email,
        "AllowedPrincipalArns": "",
        "ProtectedTrails": "",
        **dict(parameters or {}),
        "CodeS3Bucket": bucket,
        "CodeS3Key": key,
    }
    cfn = client("cloudformation")
    stack = _stack(cfn, stack_name)
    cs_type = _change_set_type(stack, stack_name)
    cs_name = f"trailguard-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{pkg.code_sha256[:8]}"
    created = _call(
        f"creating change set for {stack_name}",
        cfn.create_change_set,
        StackName=stack_name,
        ChangeSetName=cs_name,
        ChangeSetType=cs_type,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Capabilities=CAPABILITIES,
        Description="trailguard deploy",
        Tags=[{"Key": "trailguard", "Value": "true"}],
    )
    cs_arn = str(created["Id"])

    def finish(current: dict[str, Any]) -> dict[str, str]:
        """The stack is ready: its outputs, and the baseline recorded against them."""
        outputs = _stack_outputs(cfn, current, progress)
        if baseline:
            record_baseline(
                stack_name,
                outputs,
                values,
                region=region,
                profile=profile,
                endpoint_url=endpoint_url,
                progress=progress,
            )
        return outputs

    cs = _wait_change_set(cfn, cs_arn, poll_seconds, timeout_seconds)
    if cs["Status"] == "FAILED":
        reason = str(cs.get("StatusReason", ""))
        if any(marker in reason for marker in NO_CHANGES_MARKERS):
            _call("deleting the empty change set", cfn.delete_change_set, ChangeSetName=cs_arn)
            progress(f"stack {stack_name} is up to date: no changes")
            current = _stack(cfn, stack_name)
            if current is None:
                raise DeployError(f"stack {stack_name} disappeared during deploy; deploy again")
            return finish(current)
        raise DeployError(f"CloudFormation rejected the change set: {reason}. Fix the cause and deploy again")

    progress(f"{'creating' if cs_type == 'CREATE' else 'updating'} stack {stack_name} ({cs_name})")
    events = _EventPrinter(cfn, stack_name, progress)
    events.mark_seen()
    _call(f"executing change set {cs_name}", cfn.execute_change_set, ChangeSetName=cs_arn)

    deadline = time.monotonic() + timeout_seconds
    while True:
        events.poll()
        current = _stack(cfn, stack_name)
        status = str((current or {}).get("StackStatus", "DELETE_COMPLETE"))
        if status in TERMINAL_OK and current is not None:
            progress(f"stack {stack_name}: {status}")
            return finish(current)
        if status in TERMINAL_FAILED:
            raise DeployError(_failure_message(cfn, stack_name, status))
        if time.monotonic() > deadline:
            raise DeployError(
                f"stack {stack_name} still {status} after {timeout_seconds:.0f}s; "
                "follow it in the CloudFormation console"
            )
        time.sleep(poll_seconds)


def record_baseline(
    stack_name: str,
    outputs: Mapping[str, str],
    parameters: Mapping[str, str],
    *,
    region: str,
    profile: str | None,
    endpoint_url: str | None,
    progress: Callable[[str], object],
) -> None:
    """Record baselines after a deploy; a failure is a warning (the stack is fine) with the retry command."""
    from trailguard.baseline import capture_all, config_from_stack

    retry = f"run `trailguard baseline record --stack-name {stack_name}` once fixed"
    progress("recording baselines (protected trails, their buckets and keys, trailguard's own resources)")
    try:
        summary = capture_all(
            config_from_stack(outputs, parameters, region=region, profile=profile, endpoint_url=endpoint_url),
            region,
            profile=profile,
            endpoint_url=endpoint_url,
            source="deploy",
        )
    except Exception as exc:
        progress(f"warning: baselines not recorded ({type(exc).__name__}: {exc}); {retry}")
        return
    progress(summary.describe())
    if summary.errors:
        progress(f"warning: some baselines were not recorded; {retry}")


def _failure_message(cfn: Any, stack_name: str, status: str) -> str:
    """Say why: the first resource that failed, as CloudFormation reported it."""
    from botocore.exceptions import BotoCoreError, ClientError

    reasons: list[str] = []
    try:
        for event in cfn.describe_stack_events(StackName=stack_name)["StackEvents"]:
            if str(event.get("ResourceStatus", "")).endswith("_FAILED") and event.get("ResourceStatusReason"):
                reasons.append(f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}")
    except (BotoCoreError, ClientError):
        pass
    cause = reasons[-1] if reasons else "see the stack events in the CloudFormation console"
    hint = (
        f"delete the stack (aws cloudformation delete-stack --stack-name {stack_name}), fix the cause, "
        "and deploy again"
        if status.startswith("ROLLBACK")
        else "fix the cause and deploy again (the previous version is still in place)"
    )
    return f"stack {stack_name} ended {status}: {cause}. {hint}"
