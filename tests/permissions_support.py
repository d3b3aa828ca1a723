"""One map from the AWS calls trailguard makes to the IAM actions that authorise them, and the checks the
permission tests share: a call an action makes must be declared by the techniques that name the action
(``trailguard.policy.action_permissions``), and a declared permission must be one some code can call.

A plain module, not a conftest: tests import it (``from permissions_support import ...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from trailguard import aws
from trailguard.permissions import RUNTIME_PERMISSIONS
from trailguard.policy import action_permissions, required_permissions
from trailguard.remediate import Call

SRC = Path(__file__).resolve().parents[1] / "src" / "trailguard"

# "service:Operation" (API name) -> the IAM action that authorises it, where the two are spelled
# differently. Every other call is authorised by the IAM action of the same name.
IAM_NAME = {
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:HeadBucket": "s3:ListBucket",
    # IAM authorises each item of a transaction by its own action: the ledger's puts two items
    "dynamodb:TransactWriteItems": "dynamodb:PutItem",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    # trailguard deletes object versions only (a delete marker, always with its VersionId), never objects
    "s3:DeleteObject": "s3:DeleteObjectVersion",
}
# boto3 client name -> IAM service prefix, where they differ.
IAM_PREFIX = {"stepfunctions": "states"}
# IAM actions no API operation is named after: they authorise a parameter of another call.
NO_OPERATION = {
    "iam:PassRole": "CreateTrail / UpdateTrail pass the CloudWatch Logs role to CloudTrail (and "
    "CreateFunction / UpdateFunctionConfiguration trailguard's own role to Lambda)",
    "s3:GetObject": "CreateFunction / UpdateFunctionCode read the stack's code object",
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorises ``operation`` on the boto3 client ``service``."""
    name = f"{IAM_PREFIX.get(service, service)}:{operation}"
    return IAM_NAME.get(name, name)


def iam_actions(calls: Iterable[Call | Mapping[str, Any]]) -> set[str]:
    """The IAM actions of recorded calls: ``Outcome.calls`` or their ``to_dict()`` form (in messages)."""
    found = set()
    for call in calls:
        if isinstance(call, Call):
            found.add(iam_action(call.service, call.operation))
        else:
            found.add(iam_action(str(call["service"]), str(call["operation"])))
    return found


def assert_declared(action: str, calls: Iterable[Call | Mapping[str, Any]]) -> None:
    """Every call ``action`` made is authorised by what the techniques naming it declare."""
    used = iam_actions(calls)
    declared = action_permissions(action)
    assert declared, f"no technique names {action}, so nothing grants it anything"
    assert used <= declared, f"{action} calls {sorted(used - declared)}, which its techniques do not declare"


def assert_granted(used: Iterable[str]) -> None:
    """Every IAM action in ``used`` is one the template grants (``required_permissions()``)."""
    missing = set(used) - required_permissions()
    assert not missing, f"called but not granted: {sorted(missing)}"


@pytest.fixture
def recorded_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Every IAM action the code under test calls through trailguard's client factory (mapped with
    :func:`iam_action`), actions and runtime alike. Import it into a test module to use it."""
    calls: set[str] = set()
    real = aws.client

    def client(*args: Any, **kwargs: Any) -> Any:
        made = real(*args, **kwargs)
        service = made.meta.service_model.service_name

        def record(model: Any, **_: Any) -> None:
            calls.add(iam_action(service, model.name))

        made.meta.events.register("before-call.*.*", record, unique_id="trailguard-permissions-test")
        return made

    monkeypatch.setattr(aws, "client", client)
    yield calls


def _operations(iam: str) -> set[str]:
    """The API operation names that need the IAM action ``iam`` (the action's own name, and any the
    map above spells differently)."""
    name = iam.split(":", 1)[1]
    names = {name}
    names.update(api.split(":", 1)[1] for api, mapped in IAM_NAME.items() if mapped == iam)
    return names


def _snake(operation: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", operation).lower()


def uncalled_permissions() -> set[str]:
    """Granted IAM actions whose API operation no source file names, as ``outcome.call(..., "Op")`` or
    as a boto3 method (``client.op(``): dead weight in the role (least privilege)."""
    text = "\n".join(p.read_text() for p in SRC.rglob("*.py"))
    dead = set()
    for iam in required_permissions() | RUNTIME_PERMISSIONS:
        if iam in NO_OPERATION:
            continue
        if not any(f'"{op}"' in text or f".{_snake(op)}(" in text for op in _operations(iam)):
            dead.add(iam)
    return dead
