"""``deploy``: the whole rollout, from the caller's credentials to a stack with recorded baselines.

Package the code, make sure the artifact bucket is there and holds the zip, create a change set,
execute it (or stop at "no changes"), read the outputs through the same stack lookup the commands use,
then record the baselines the handlers restore. Each step lives in its own module; this one only orders
them and says what it is doing.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import trailguard.deploy.stack as stacks
from trailguard import aws
from trailguard.baseline import capture_all
from trailguard.baseline.deployed import record_stack, signer_arns
from trailguard.deploy.artifacts import artifact_bucket_name, ensure_artifact_bucket, upload_code
from trailguard.deploy.config import config_from_stack
from trailguard.deploy.errors import DeployError, InputError, call, client
from trailguard.deploy.package import package

TEMPLATE_BODY_LIMIT = 51_200
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_email(email: str) -> None:
    if not EMAIL_RE.match(email):
        raise InputError(f"invalid email address {email!r}: give one such as security@example.com")


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
    stacks.validate_stack_name(stack_name)
    validate_email(email)
    region = region or aws.default_region()

    def client_for(service: str) -> Any:
        return client(service, region, profile=profile, endpoint_url=endpoint_url)

    identity = call(
        "finding the AWS account (sts get-caller-identity)", client_for("sts").get_caller_identity
    )
    account = identity["Account"]
    progress(f"deploying stack {stack_name} to account {account}, region {region}")

    with tempfile.TemporaryDirectory(prefix="trailguard-") as tmp:
        pkg = package(tmp)
        progress(f"packaged {pkg.zip_path.stat().st_size} bytes, sha256 {pkg.code_sha256}")
        s3 = client_for("s3")
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
        # The deployer records (signs) the baselines below, so the state key must let it sign.
        "StateSignerArns": ",".join(signer_arns(str(identity.get("Arn") or ""))),
        **dict(parameters or {}),
        "CodeS3Bucket": bucket,
        "CodeS3Key": key,
    }
    cfn = client_for("cloudformation")
    cs_type = stacks.change_set_type(stacks.describe(cfn, stack_name), stack_name)
    cs_name = f"trailguard-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{pkg.code_sha256[:8]}"
    cs_arn = stacks.create_change_set(
        cfn, stack_name, name=cs_name, change_set_type=cs_type, template_body=body, parameters=values
    )

    def finish(current: Mapping[str, Any]) -> dict[str, str]:
        """The stack is ready: its outputs, and the baseline recorded against them."""
        ready = stacks.info(cfn, current, region, progress)
        if baseline:
            record_baseline(
                stack_name,
                ready.outputs,
                values,
                region=region,
                profile=profile,
                endpoint_url=endpoint_url,
                progress=progress,
                written_by=str(identity.get("Arn") or "") or None,
            )
        return dict(ready.outputs)

    cs = stacks.wait_change_set(cfn, cs_arn, poll_seconds, timeout_seconds)
    if stacks.has_no_changes(cs):
        stacks.delete_change_set(cfn, cs_arn)
        progress(f"stack {stack_name} is up to date: no changes")
        current = stacks.describe(cfn, stack_name)
        if current is None:
            raise DeployError(f"stack {stack_name} disappeared during deploy; deploy again")
        return finish(current)
    if cs["Status"] == "FAILED":
        reason = str(cs.get("StatusReason", ""))
        raise DeployError(f"CloudFormation rejected the change set: {reason}. Fix the cause and deploy again")

    progress(f"{'creating' if cs_type == 'CREATE' else 'updating'} stack {stack_name} ({cs_name})")
    current = stacks.execute_change_set(
        cfn,
        stack_name,
        cs_arn,
        cs_name,
        progress=progress,
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
    )
    return finish(current)


def record_baseline(
    stack_name: str,
    outputs: Mapping[str, str],
    parameters: Mapping[str, str],
    *,
    region: str,
    profile: str | None,
    endpoint_url: str | None,
    progress: Callable[[str], object],
    written_by: str | None = None,
) -> None:
    """Record baselines after a deploy; a failure is a warning (the stack is fine) with the retry command."""
    retry = f"run `trailguard baseline record --stack-name {stack_name}` once fixed"
    progress("recording baselines (protected trails, their buckets and keys, trailguard's own resources)")
    try:
        config = config_from_stack(
            outputs, parameters, region=region, profile=profile, endpoint_url=endpoint_url
        )
        summary = capture_all(config, region, profile=profile, endpoint_url=endpoint_url, source="deploy")
    except Exception as exc:
        progress(f"warning: baselines not recorded ({type(exc).__name__}: {exc}); {retry}")
        return
    progress(summary.describe())
    try:  # the signed config item the handlers trust instead of their environment
        progress(
            record_stack(
                config,
                parameters,
                summary.recorded,
                region=region,
                profile=profile,
                endpoint_url=endpoint_url,
                written_by=written_by,
            )
        )
    except Exception as exc:
        progress(
            f"warning: the stack's configuration was not recorded ({type(exc).__name__}: {exc}); {retry}"
        )
    if summary.errors:
        progress(f"warning: some baselines were not recorded; {retry}")
