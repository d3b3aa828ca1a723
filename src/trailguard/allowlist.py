"""The allow-list trailguard trusts (issue 9, item 15): never the functions' environment.

Anyone who can edit a function could add themselves to ``TRAILGUARD_ALLOWED_PRINCIPAL_ARNS`` and have
their next StopLogging reported as "AUTHORISED" and recorded as the new baseline. The allow-list is read
instead from the stack's own ``AllowedPrincipalArns`` parameter (``DescribeStacks``, which the role may
call on its own stack only, so pointing ``TRAILGUARD_STACK_NAME`` at another stack is refused): changing
it takes an ``UpdateStack`` that ``guard.stack`` reports at once.

Fails closed: no stack name, or the stack cannot be read, means nobody is allow-listed.

One source of truth: the stack's parameter. The signed configuration item (``baseline.deployed``) is a
copy written only by ``trailguard deploy`` / ``baseline record``, so an ``UpdateStack`` made any other way
would leave it stale, and reading it costs a DynamoDB read and a KMS VerifyMac, no less than this.

Cached per process for :data:`CACHE_SECONDS` (a warm function would otherwise call DescribeStacks on every
event). The cache key holds the function's own ``TRAILGUARD_ALLOWED_PRINCIPAL_ARNS``, which the template
derives from the same parameter: every stack update that changes the allow-list also changes that value,
so it misses the cache at once, and a rewrite of the variable by someone else can only force a fresh
read of the stack, never choose the answer. The bound covers the rest (the parameter changed while the
variable did not, which the template does not do). A failed read is not cached.

On an event's hot path (:func:`allowed_for`) the stack is read only when the environment's list names the
caller: the template writes the variable from the same parameter, so a caller it does not name is not on
the stack's list either, and answering "nobody" then needs no call. Someone who edits the variable can
only take a principal off it (its calls are then repaired as tamper: stricter) or add one, which costs
them the read of the stack that decides, exactly as before: the environment can force a read, never an
"allowed".
"""

from __future__ import annotations

import ast
import logging
import time
from typing import Any

from trailguard import aws
from trailguard.config import Config, split
from trailguard.log import log_event
from trailguard.policy.inventory import principal_matches

LOG = logging.getLogger("trailguard.allowlist")
PARAMETER = "AllowedPrincipalArns"
CACHE_SECONDS = 300.0
_CACHE: dict[tuple[Any, str, tuple[str, ...]], tuple[float, tuple[str, ...]]] = {}
"""(client, stack, the environment's allow-list) -> (read at, the stack's allow-list); the client is
part of the key so a new endpoint, region or set of credentials reads again."""


def allowed_principals(config: Config, region: str) -> tuple[str, ...]:
    """The principals whose changes are authorised, from the stack's parameters; () when unknown."""
    if not config.stack_name:
        return ()
    try:
        client = aws.client("cloudformation", region)
        key = (client, config.stack_name, config.allowed_principal_arns)
        cached = _CACHE.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        (stack,) = client.describe_stacks(StackName=config.stack_name)["Stacks"]
    except Exception as exc:
        log_event(LOG, logging.ERROR, "allowlist.unreadable", stack=config.stack_name, error=str(exc))
        return ()
    found = next(
        (
            _values(str(parameter.get("ParameterValue") or ""))
            for parameter in stack.get("Parameters") or []
            if parameter.get("ParameterKey") == PARAMETER
        ),
        (),
    )
    _CACHE.pop(key, None)  # re-inserted last: the entries are kept oldest first
    while len(_CACHE) >= 32:  # one entry per function environment; the local cloud runs many in one process
        del _CACHE[next(iter(_CACHE))]  # the oldest goes, never the entries still in use
    _CACHE[key] = (time.monotonic(), found)
    return found


def allowed_for(config: Config, region: str, principals: tuple[str | None, ...]) -> tuple[str, ...]:
    """The stack's allow-list, for judging a call by one of ``principals`` (its issuer and caller ARNs):
    () with no call when the environment's list does not name any of them (see the module docstring),
    else :func:`allowed_principals` (the stack's parameter decides)."""
    if not principal_matches(principals, config.allowed_principal_arns):
        return ()
    return allowed_principals(config, region)


def _values(text: str) -> tuple[str, ...]:
    """CloudFormation answers a CommaDelimitedList as ``a,b``; moto (the local cloud) as the Python
    list's text ``['a', 'b']``: both read the same."""
    if text.startswith("[") and text.endswith("]"):
        try:
            found = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return ()
        return split(",".join(str(v) for v in found)) if isinstance(found, list) else ()
    return split(text)
