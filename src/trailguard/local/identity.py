"""Who made a call: the CloudTrail ``userIdentity`` for an access key, resolved from moto's IAM and STS.

An IAM user's key gives ``IAMUser``; temporary credentials from ``AssumeRole`` give ``AssumedRole`` with
``sessionContext.sessionIssuer`` naming the role (what trailguard's own-role check compares); any key
moto does not know is the account's root, as moto treats it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

PARTITION = "aws"


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        text: str = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return text
    return str(value) if value else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_of(access_key_id: str) -> str:
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(access_key_id))


def user_identity(access_key_id: str, session_token: str | None = None) -> dict[str, Any]:
    """The ``userIdentity`` CloudTrail writes for a call signed with this key."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    account = account_of(access_key_id)
    iam = iam_backends[account][PARTITION]
    for user in list(iam.users.values()):
        for key in list(user.access_keys):
            if key.access_key_id == access_key_id:
                return {
                    "type": "IAMUser",
                    "principalId": user.id,
                    "arn": user.arn,
                    "accountId": account,
                    "accessKeyId": access_key_id,
                    "userName": user.name,
                }
    for assumed in list(sts_backends[account][PARTITION].assumed_roles):
        if assumed.access_key_id != access_key_id:
            continue
        role_arn: str = assumed.role_arn
        role_name = role_arn.rsplit("/", 1)[-1]
        role_id = role_name
        try:
            role = iam.get_role_by_arn(role_arn)
            role_id = role.id
        except Exception:  # the role may have been deleted since: CloudTrail still names it
            pass
        return {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{assumed.session_name}",
            "arn": f"arn:{PARTITION}:sts::{account}:assumed-role/{role_name}/{assumed.session_name}",
            "accountId": account,
            "accessKeyId": access_key_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": role_arn,
                    "accountId": account,
                    "userName": role_name,
                },
                "webIdFederationData": {},
                "attributes": {
                    "creationDate": _iso(getattr(assumed, "created", None)),
                    "mfaAuthenticated": "false",
                },
            },
        }
    return {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:{PARTITION}:iam::{account}:root",
        "accountId": account,
        "accessKeyId": access_key_id,
    }
