"""Fixtures and helpers of the local-cloud tests: one in-process local cloud per test module (moto's
state is process-global), and wiring of a function to a rule the way the template does, with a handler
from this directory. A uniquely named module, so another directory's ``conftest`` cannot shadow it."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trailguard.local.server import LocalCloud

HANDLER = "localcloud_sample_handler.handle"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    base = tmp_path_factory.mktemp("cloud")
    local = LocalCloud(outbox_dir=base / "outbox", finding_delay=0.2).start()
    try:
        yield local
    finally:
        local.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("placeholder.py", "# the runner imports the handler from this venv\n")
    return buf.getvalue()


@dataclass
class Wiring:
    """A role, a function, a rule targeting it and (unless told otherwise) the invoke permission."""

    role_arn: str
    function_name: str
    function_arn: str
    rule_name: str
    rule_arn: str


def wire(
    cloud: LocalCloud,
    pattern: dict[str, Any],
    *,
    permission: bool = True,
    source_arn: str | None = None,
    environment: dict[str, str] | None = None,
    handler: str = HANDLER,
) -> Wiring:
    iam, lam, events = cloud.client("iam"), cloud.client("lambda"), cloud.client("events")
    role = iam.create_role(RoleName=unique("fn-role"), AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    name = unique("fn")
    fn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": _zip()},
        Environment={"Variables": environment or {}},
    )
    rule_name = unique("rule")
    rule_arn = events.put_rule(Name=rule_name, EventPattern=json.dumps(pattern), State="ENABLED")["RuleArn"]
    events.put_targets(Rule=rule_name, Targets=[{"Id": "fn", "Arn": fn["FunctionArn"]}])
    if permission:
        lam.add_permission(
            FunctionName=name,
            StatementId="events",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=source_arn or rule_arn,
        )
    cloud.wait_idle(5)
    return Wiring(role, name, fn["FunctionArn"], rule_name, rule_arn)


def invocations_of(cloud: LocalCloud, function_name: str) -> list[Any]:
    return [inv for inv in cloud.invocations if inv.function_name == function_name]


@pytest.fixture
def trail(cloud: LocalCloud) -> str:
    """A logging trail with its bucket; returns its name."""
    name = unique("trail")
    cloud.client("s3").create_bucket(Bucket=f"{name}-logs")
    cloud.client("cloudtrail").create_trail(Name=name, S3BucketName=f"{name}-logs")
    cloud.client("cloudtrail").start_logging(Name=name)
    cloud.wait_idle(5)
    return name


@pytest.fixture
def user_keys(cloud: LocalCloud) -> dict[str, str]:
    """An IAM user's credentials as environment variables, plus its ARN under ``arn``."""
    iam = cloud.client("iam")
    name = unique("user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "arn": arn,
        "name": name,
    }


def creds(keys: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in keys.items() if k.startswith("AWS_")}


def outbox_dir(cloud: LocalCloud) -> Path:
    return cloud.outbox.directory
