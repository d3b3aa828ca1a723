"""``deploy``: the whole rollout, from the caller's credentials to a stack with recorded baselines.

Semantics of ``aws cloudformation deploy``, on CloudFormation's own change sets: parameters not given
keep their previous values on an update (:mod:`~trailguard.deploy.parameters`), ``tags``, ``role_arn``,
the artifact location (``s3_bucket``, ``s3_prefix``), and a dry run that creates the change set, prints
it and the baselines that would be recorded, deletes it and changes nothing. Before any change, every
trail named for protection must exist and, when asked (the command line's default), at least one trail
must be protected (:mod:`~trailguard.deploy.protect`). Each step lives in its own module; this one only
orders them and says what it is doing (progress lines, for the command line's stderr).
"""

from __future__ import annotations

import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import trailguard.deploy.stack as stacks
from trailguard.baseline import capture_all
from trailguard.baseline.capture import Clients
from trailguard.baseline.deployed import record_stack, signer_arns
from trailguard.baseline.store import Baselines
from trailguard.config import Config, split
from trailguard.deploy import parameters as params
from trailguard.deploy.artifacts import (
    DEFAULT_PREFIX,
    artifact_bucket_name,
    check_bucket,
    code_key,
    ensure_artifact_bucket,
    upload_code,
    upload_template,
)
from trailguard.deploy.config import config_from_stack
from trailguard.deploy.errors import DeployError, InputError, call, client, explain
from trailguard.deploy.package import package
from trailguard.deploy.plan import BaselineChange, describe_changes, describe_diff, diff, planned_baselines
from trailguard.deploy.plan import resource_changes as list_changes
from trailguard.deploy.protect import protected
from trailguard.resources import trail as trail_kind

TEMPLATE_BODY_LIMIT = 51_200
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STACK_TAG = {"Key": "trailguard", "Value": "true"}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def validate_email(email: str) -> None:
    if not EMAIL_RE.match(email):
        raise InputError(f"invalid email address {email!r}: give one such as security@example.com")


@dataclass
class Rollout:
    """What a deploy did (or, on a dry run, would do)."""

    stack_name: str
    region: str
    account: str
    status: str  # "created" | "updated" | "unchanged" | "dry-run"
    change_set_type: str  # CREATE | UPDATE
    code: str  # s3://bucket/key of the Lambda zip
    change_set: str = ""  # the change set's name ("" when the endpoint refused an unchanged update)
    parameters: list[dict[str, Any]] = field(default_factory=list)  # as sent to the change set
    protected_trails: list[str] = field(default_factory=list)  # ARNs of the trails it protects
    changes: list[dict[str, Any]] = field(default_factory=list)  # the change set's resource changes
    baseline_changes: list[BaselineChange] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack_name": self.stack_name,
            "region": self.region,
            "account": self.account,
            "status": self.status,
            "change_set_type": self.change_set_type,
            "code": self.code,
            "change_set": self.change_set,
            "parameters": self.parameters,
            "protected_trails": self.protected_trails,
            "changes": self.changes,
            "baseline_changes": [c.to_dict() for c in self.baseline_changes],
            "outputs": self.outputs,
        }


def deploy(
    stack_name: str,
    email: str | None = None,
    **kwargs: Any,
) -> dict[str, str]:
    """Create or update the stack and return its outputs (see :func:`apply` for the arguments)."""
    return apply(stack_name, email, **kwargs).outputs


def apply(
    stack_name: str,
    email: str | None = None,
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    parameters: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    role_arn: str | None = None,
    s3_bucket: str | None = None,
    s3_prefix: str | None = None,
    dry_run: bool = False,
    require_trails: bool = False,
    progress: Callable[[str], object] = _stderr,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 1800.0,
    baseline: bool = True,
) -> Rollout:
    """Create or update the stack; raises DeployError (InputError: the caller's to fix) saying what to do.

    ``email`` and ``parameters`` are the values given; on an update every other parameter keeps its
    previous value. With ``baseline`` (the default) the protected resources' baselines are then recorded
    with the deployer's credentials (see :func:`record_baseline`), after printing how they differ from
    those recorded now. ``dry_run`` stops after printing the change set and that difference, and leaves
    nothing behind (no bucket, upload, change set or stack). ``require_trails``: a stack that would
    protect no trail is refused.
    """
    stacks.validate_stack_name(stack_name)
    if email is not None:
        validate_email(email)
    given = dict(parameters or {})
    if email is not None:
        given["SecurityContactEmail"] = email
    for name in ("AllowedPrincipalArns", "ProtectedTrails"):
        if name in given:
            given[name] = ",".join(split(given[name]))
    region = stacks.resolve(region, profile)

    def client_for(service: str) -> Any:
        return client(service, region, profile=profile, endpoint_url=endpoint_url)

    identity = call(
        "finding the AWS account (sts get-caller-identity)", client_for("sts").get_caller_identity
    )
    account = str(identity["Account"])
    cfn = client_for("cloudformation")
    existing = stacks.describe(cfn, stack_name)
    cs_type = stacks.change_set_type(existing, stack_name)
    updating = cs_type == "UPDATE" and existing is not None
    verb = "dry run of" if dry_run else "deploying"
    progress(
        f"{verb} stack {stack_name} ({'update' if updating else 'create'}) in account {account}, {region}"
    )

    with tempfile.TemporaryDirectory(prefix="trailguard-") as tmp:
        pkg = package(tmp)
        body = pkg.template_path.read_text(encoding="utf-8")
        names = params.template_parameters(body)
        params.check_overrides(given, names)
        if not updating and "SecurityContactEmail" not in given:
            raise InputError(f"stack {stack_name} does not exist yet: --email is required to create it")

        current: Config | None = None
        previous: Mapping[str, str] = {}  # the stack's parameter values as deployed (an update keeps them)
        if updating and existing is not None:
            deployed = stacks.info(cfn, existing, region)
            previous = deployed.parameters
            current = config_from_stack(
                deployed.outputs,
                previous,
                region=region,
                profile=profile,
                endpoint_url=endpoint_url,
            )
        refs = (
            split(given["ProtectedTrails"])
            if "ProtectedTrails" in given
            else (current.protected_trails if current else ())
        )
        allowed = (
            split(given["AllowedPrincipalArns"])
            if "AllowedPrincipalArns" in given
            else (current.allowed_principal_arns if current else ())
        )
        if current is not None:
            # The two lists are sent as the deployed functions run with them (what trailguard enforces),
            # not as UsePreviousValue: moto cannot reuse a CommaDelimitedList's previous value (it keeps
            # the parsed list and fails to split it again). The result on AWS is the same.
            given.setdefault("ProtectedTrails", ",".join(refs))
            given.setdefault("AllowedPrincipalArns", ",".join(allowed))
        clients = Clients(region, profile, endpoint_url)
        try:
            listed = trail_kind.describe_trails(clients)
        except Exception as exc:
            raise explain(exc, f"listing the trails in {region} (cloudtrail describe-trails)") from exc
        trails = protected(
            refs,
            listed,
            region=region,
            account=account,
            require_trails=require_trails,
            named_by="--protected-trail"
            if "ProtectedTrails" in (parameters or {})
            else f"the protected trail kept from stack {stack_name} (was it deleted? recreate it, or pass "
            "--protected-trail)",
        )
        trail_arns = [str(t.get("TrailARN") or t.get("Name")) for t in trails]
        progress(
            f"protects {len(trails)} trail(s): {', '.join(trail_arns) or 'none'}"
            + ("" if refs else " (every trail in the account)")
        )

        bucket = s3_bucket or artifact_bucket_name(account, region)
        prefix = DEFAULT_PREFIX if s3_prefix is None else s3_prefix
        key = code_key(pkg, prefix)
        progress(f"packaged {pkg.zip_path.stat().st_size} bytes, sha256 {pkg.code_sha256}")
        if dry_run:
            progress(f"dry run: the code would be uploaded to s3://{bucket}/{key}; nothing is uploaded")
        else:
            s3 = client_for("s3")
            if s3_bucket:
                check_bucket(s3, bucket)
            else:
                ensure_artifact_bucket(s3, bucket, region, progress)
            key = upload_code(s3, bucket, pkg, progress, prefix)
        template_url = None
        if len(body.encode()) > TEMPLATE_BODY_LIMIT:  # CloudFormation then reads it from S3, as the AWS CLI
            s3 = client_for("s3")
            if dry_run:  # the one upload a dry run makes, and only into a bucket that is already there
                try:
                    check_bucket(s3, bucket)
                except InputError as exc:
                    raise InputError(
                        f"the template is over {TEMPLATE_BODY_LIMIT} bytes, so CloudFormation reads it from "
                        f"S3, and bucket {bucket} does not exist yet: deploy once, or pass --s3-bucket"
                    ) from exc
            template_url = upload_template(s3, bucket, body, prefix=prefix, region=region, progress=progress)

    # The deployer records (signs) the baselines below, so the state key must let it sign.
    if "StateSignerArns" in names:
        given.setdefault("StateSignerArns", ",".join(signer_arns(str(identity.get("Arn") or ""))))
    # The role's CloudTrail, S3 and PassRole statements name what this deploy protects (captured above).
    scope = params.role_scope(
        trails, named=bool(refs), partition=params.partition_of(str(identity.get("Arn") or ""))
    )
    for name, value in scope.items():
        if name in names:
            given.setdefault(name, value)
    values = params.change_set_parameters(
        names,
        {**given, "CodeS3Bucket": bucket, "CodeS3Key": key},
        list(previous) if updating else None,
    )
    for line in params.describe_parameters(values):
        progress(f"  parameter {line}")
    result = Rollout(
        stack_name=stack_name,
        region=region,
        account=account,
        status="dry-run" if dry_run else "",
        change_set_type=cs_type,
        code=f"s3://{bucket}/{key}",
        parameters=values,
        protected_trails=trail_arns,
    )
    # The parameters the stack runs with after this deploy: the Config rebuilt when the function's
    # environment cannot be read, and the alert endpoint the signed config item records.
    running = {**previous, **given}

    def baseline_diff() -> list[BaselineChange]:
        """How the baselines recording would write differ from those recorded now (printed)."""
        planned_config = replace(current or Config(), protected_trails=refs, allowed_principal_arns=allowed)
        planned, errors = planned_baselines(
            planned_config, region, profile=profile, endpoint_url=endpoint_url
        )
        recorded = (
            Baselines.from_config(current, region, profile=profile, endpoint_url=endpoint_url).all()
            if current is not None
            else {}
        )
        changes = diff(recorded, planned)
        describe_diff(changes, progress)
        for error in errors:
            progress(f"  warning: could not read {error}")
        return changes

    def finish(state: Mapping[str, Any], status: str) -> Rollout:
        """The stack is ready: its outputs, and the baseline recorded against them."""
        ready = stacks.info(cfn, state, region, progress)
        result.status = status
        result.outputs = dict(ready.outputs)
        if baseline:
            if current is not None:  # re-recording: first say what it changes
                result.baseline_changes = baseline_diff()
            record_baseline(
                stack_name,
                ready.outputs,
                running,
                region=region,
                profile=profile,
                endpoint_url=endpoint_url,
                progress=progress,
                written_by=str(identity.get("Arn") or "") or None,
            )
        return result

    # A random tail too: two deploys in one second (a dry run, then the real one) need distinct names.
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    cs_name = f"trailguard-{stamp}-{pkg.code_sha256[:8]}-{secrets.token_hex(3)}"
    user_tags = [{"Key": k, "Value": v} for k, v in (tags or {}).items() if k != STACK_TAG["Key"]]
    same = (
        updating
        and existing is not None
        and current is not None
        and tags is None
        and (not role_arn or role_arn == existing.get("RoleARN"))
        and unchanged(cfn, existing, body, values, previous=previous, current=current)
    )
    cs_arn = (
        ""
        if same
        else stacks.create_change_set(
            cfn,
            stack_name,
            name=cs_name,
            change_set_type=cs_type,
            template_body=body,
            template_url=template_url,
            parameters=values,
            # as aws cloudformation deploy: tags given replace the stack's; none on an update keep them
            tags=[STACK_TAG, *user_tags] if (tags is not None or not updating) else None,
            role_arn=role_arn,
        )
    )

    result.change_set = cs_name if cs_arn else ""

    def abandon() -> None:
        """Leave nothing behind: the change set, and the empty stack a CREATE change set made."""
        stacks.delete_change_set(cfn, cs_arn)
        if not updating:
            stacks.delete_review_stack(cfn, stack_name)

    cs = (
        stacks.wait_change_set(cfn, cs_arn, poll_seconds, timeout_seconds)
        if cs_arn
        else {"Status": "FAILED", "StatusReason": stacks.NO_CHANGES_MARKERS[0]}
    )
    if stacks.has_no_changes(cs):
        if cs_arn:
            stacks.delete_change_set(cfn, cs_arn)
        progress(f"stack {stack_name} is up to date: no changes")
        if dry_run:
            if baseline:
                result.baseline_changes = baseline_diff()
            return result
        state = stacks.describe(cfn, stack_name)
        if state is None:
            raise DeployError(f"stack {stack_name} disappeared during deploy; deploy again")
        return finish(state, "unchanged")
    if cs["Status"] == "FAILED":
        reason = str(cs.get("StatusReason", ""))
        abandon()
        raise DeployError(f"CloudFormation rejected the change set: {reason}. Fix the cause and deploy again")

    if dry_run:
        try:
            result.changes = list_changes(stacks.describe_change_set_pages(cfn, cs_arn, cs))
            describe_changes(result.changes, progress)
            if baseline:
                result.baseline_changes = baseline_diff()
        finally:
            abandon()
        progress(f"dry run: change set {cs_name} deleted; nothing was changed")
        return result

    progress(f"{'creating' if cs_type == 'CREATE' else 'updating'} stack {stack_name} ({cs_name})")
    state = stacks.execute_change_set(
        cfn,
        stack_name,
        cs_arn,
        cs_name,
        progress=progress,
        poll_seconds=poll_seconds,
        timeout_seconds=timeout_seconds,
    )
    return finish(state, "created" if cs_type == "CREATE" else "updated")


def unchanged(
    cfn: Any,
    existing: Mapping[str, Any],
    body: str,
    values: list[dict[str, Any]],
    *,
    previous: Mapping[str, str],
    current: Config,
) -> bool:
    """The update would change nothing: the same template and every parameter its previous value.

    CloudFormation answers this itself with a FAILED "didn't contain changes" change set; moto cannot
    tell (it compares list parameters parsed with the same ones unparsed), so deploy checks first and
    skips the change set, which is what AWS's answer leads to anyway. Lists are compared as the
    functions enforce them (``current``), the rest with DescribeStacks' values (``previous``).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        previous_body = cfn.get_template(StackName=str(existing["StackId"])).get("TemplateBody")
    except (BotoCoreError, ClientError):
        return False
    if previous_body != body:
        return False
    lists = {
        "ProtectedTrails": current.protected_trails,
        "AllowedPrincipalArns": current.allowed_principal_arns,
    }
    for parameter in values:
        name = str(parameter["ParameterKey"])
        if parameter.get("UsePreviousValue"):
            continue
        value = str(parameter.get("ParameterValue") or "")
        if name in lists:
            if split(value) != lists[name]:
                return False
        elif previous.get(name) != value:
            return False
    return True


def record_baseline(
    stack_name: str,
    outputs: Mapping[str, str],
    parameters: Mapping[str, str],
    *,
    region: str,
    profile: str | None,
    endpoint_url: str | None,
    progress: Callable[[str], object] = _stderr,
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
