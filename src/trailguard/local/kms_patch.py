"""CloudFormation ``AWS::KMS::Key`` with ``KeySpec`` / ``KeyUsage`` for the local cloud: a moto gap.

moto (5.x) implements ``GenerateMac`` / ``VerifyMac`` for HMAC keys made with ``CreateKey``, but its
CloudFormation model of ``AWS::KMS::Key`` always creates a ``SYMMETRIC_DEFAULT`` / ``ENCRYPT_DECRYPT``
key, ignoring the template's ``KeySpec`` and ``KeyUsage``. trailguard's stack creates its state key
(``StateKey``: ``HMAC_256``, ``GENERATE_VERIFY_MAC``) that way, so while a
:class:`~trailguard.local.server.LocalCloud` runs, :func:`install` replaces the model's
``create_from_cloudformation_json`` with one that passes both properties (and ``MultiRegion``) to the
backend's ``create_key``, exactly as ``CreateKey`` would, and drops ``AWS::NoValue`` statements from the
key policy as CloudFormation does. :func:`uninstall` puts moto's back once every :func:`install` has
been undone (a local cloud and the tests' in-process deploys may overlap).
"""

from __future__ import annotations

import json
import threading
from typing import Any


class _State:
    original: Any = None
    users = 0  # install() calls not yet undone: a local cloud, and the tests' in-process deploys
    lock = threading.Lock()


def _create(
    cls: Any,
    /,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    from moto.kms.models import kms_backends

    backend = kms_backends[account_id][region_name]
    properties = cloudformation_json["Properties"]
    policy = properties.get("KeyPolicy")
    if isinstance(policy, dict):
        statements = [s for s in policy.get("Statement") or [] if s is not None]
        policy = json.dumps({**policy, "Statement": statements})
    key = backend.create_key(
        policy=policy,
        key_usage=properties.get("KeyUsage") or "ENCRYPT_DECRYPT",
        key_spec=properties.get("KeySpec") or "SYMMETRIC_DEFAULT",
        description=properties.get("Description"),
        tags=properties.get("Tags", []),
        multi_region=bool(properties.get("MultiRegion", False)),
    )
    key.key_rotation_status = properties.get("EnableKeyRotation", False)
    key.enabled = properties.get("Enabled", True)
    return key


def install() -> None:
    from moto.kms.models import Key

    with _State.lock:
        _State.users += 1
        if _State.original is None:
            _State.original = Key.__dict__["create_from_cloudformation_json"]
            setattr(Key, "create_from_cloudformation_json", classmethod(_create))  # noqa: B010


def uninstall() -> None:
    from moto.kms.models import Key

    with _State.lock:
        _State.users = max(0, _State.users - 1)
        if _State.original is not None and _State.users == 0:
            setattr(Key, "create_from_cloudformation_json", _State.original)  # noqa: B010
            _State.original = None
