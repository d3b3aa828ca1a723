"""How deployment and stack reads fail: one exception family whose message says what a person must do.

``InputError`` marks what the caller named or typed (an invalid stack name, a stack that does not exist,
a stack without an output the command needs): the CLI reports it as a usage error (exit 2). Every other
``DeployError`` means the work ran and failed (exit 1), among them "AWS could not be reached" (no
credentials, unknown profile, endpoint down), said by :func:`trailguard.aws.reach_problem`. No region
anywhere (flag, environment, profile) is an ``InputError``: the caller must say where to work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trailguard import aws

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


class DeployError(RuntimeError):
    """Deployment (or reading the stack) cannot go on; the message says what a person must do."""


class InputError(DeployError):
    """What the caller gave cannot be used: an invalid name, or a stack that is not there as named."""


class StackNotFoundError(InputError, LookupError):
    """No stack of that name in that region (of that account)."""


def explain(exc: Exception, doing: str) -> DeployError:
    """Turn a botocore exception into a message saying what to do."""
    if isinstance(exc, aws.RegionNotSetError):  # the caller must name a region: a usage error
        return InputError(f"{doing}: {exc}")
    problem = aws.reach_problem(exc)
    if problem is not None:
        return DeployError(f"{doing}: {problem}")
    if aws.error_code(exc) in ACCESS_DENIED:
        return DeployError(
            f"{doing}: access denied ({exc}). Deploy with credentials that may manage "
            "CloudFormation, IAM roles, Lambda, EventBridge, SNS, SQS, DynamoDB, Logs and S3"
        )
    return DeployError(f"{doing}: {exc}")


def call(doing: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn(**kwargs)``, with any AWS failure turned into a :class:`DeployError` about ``doing``."""
    from botocore.exceptions import BotoCoreError, ClientError  # only once AWS is called: never at import

    try:
        return fn(**kwargs)
    except (BotoCoreError, ClientError) as exc:
        raise explain(exc, doing) from exc


def client(service: str, region: str | None, *, profile: str | None, endpoint_url: str | None) -> Any:
    """A client from :func:`trailguard.aws.client`; a profile that cannot be loaded is a DeployError."""
    from botocore.exceptions import BotoCoreError

    try:
        region = aws.resolve_region(region, profile)
        return aws.client(service, region, profile=profile, endpoint_url=endpoint_url)
    except (BotoCoreError, aws.RegionNotSetError) as exc:
        raise explain(exc, f"creating the {service} client") from exc
