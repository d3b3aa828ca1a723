"""The allow-list trailguard trusts (issue 9, item 15): never the functions' environment.

Anyone who can edit a function could add themselves to ``TRAILGUARD_ALLOWED_PRINCIPAL_ARNS`` and have
their next StopLogging reported as "AUTHORISED" and recorded as the new baseline. The allow-list is read
instead from the stack's own ``AllowedPrincipalArns`` parameter (``DescribeStacks``, which the role may
call on its own stack only, so pointing ``TRAILGUARD_STACK_NAME`` at another stack is refused): changing
it takes an ``UpdateStack`` that ``guard.stack`` reports at once. This is the one function to swap when
the state table's signed configuration item lands.

Fails closed: no stack name, or the stack cannot be read, means nobody is allow-listed.
"""

from __future__ import annotations

import ast
import logging

from trailguard import aws
from trailguard.config import Config, split
from trailguard.log import log_event

LOG = logging.getLogger("trailguard.allowlist")
PARAMETER = "AllowedPrincipalArns"


def allowed_principals(config: Config, region: str) -> tuple[str, ...]:
    """The principals whose changes are authorised, from the stack's parameters; () when unknown."""
    if not config.stack_name:
        return ()
    try:
        answer = aws.client("cloudformation", region).describe_stacks(StackName=config.stack_name)
        (stack,) = answer["Stacks"]
    except Exception as exc:
        log_event(LOG, logging.ERROR, "allowlist.unreadable", stack=config.stack_name, error=str(exc))
        return ()
    for parameter in stack.get("Parameters") or []:
        if parameter.get("ParameterKey") == PARAMETER:
            return _values(str(parameter.get("ParameterValue") or ""))
    return ()


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
