"""trailguard's own Lambda functions: ids are function names (qualified names and ARNs read too)."""

from __future__ import annotations

from typing import Any

from trailguard.aws import error_code
from trailguard.resources.base import Clients, Kind, jsonable, meta

# What a function baseline keeps of GetFunction's configuration.
FIELDS = (
    "FunctionName",
    "FunctionArn",
    "Runtime",
    "Handler",
    "Role",
    "CodeSha256",
    "CodeSize",
    "Timeout",
    "MemorySize",
    "Architectures",
    "Environment",
    "DeadLetterConfig",
    "Layers",
    "Version",
)
GONE = frozenset({"ResourceNotFoundException", "NotFound", "NotFoundException"})


def name_of(ref: str) -> str:
    """``f`` of ``f``, ``f:alias``, ``123:function:f`` or ``arn:aws:lambda:r:123:function:f:1``."""
    if ":function:" in ref:
        ref = ref.split(":function:", 1)[1]
    elif ref.startswith("function:"):
        ref = ref[len("function:") :]
    return ref.split(":", 1)[0]


def capture(name: str, clients: Clients, source: str) -> dict[str, Any]:
    """Configuration essentials, reserved concurrency (None when unreserved), the resource policy and the
    asynchronous invocation settings (the on-failure destination; None when there are none): what a
    deleted function is recreated from."""
    lam = clients("lambda")
    configuration = lam.get_function(FunctionName=name)["Configuration"]
    doc = {k: jsonable(configuration[k]) for k in FIELDS if k in configuration}
    concurrency = lam.get_function_concurrency(FunctionName=name)
    doc["ReservedConcurrentExecutions"] = concurrency.get("ReservedConcurrentExecutions")
    try:
        doc["Policy"] = lam.get_policy(FunctionName=name).get("Policy")
    except Exception as exc:
        if error_code(exc) not in GONE:
            raise
        doc["Policy"] = None
    doc["EventInvokeConfig"] = invoke_config(lam, name)
    doc["_meta"] = meta(source)
    return doc


INVOKE_CONFIG_FIELDS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


def invoke_config(lam: Any, name: str) -> dict[str, Any] | None:
    """GetFunctionEventInvokeConfig's settings a repair puts back; None when the function has none."""
    try:
        found = lam.get_function_event_invoke_config(FunctionName=name)
    except Exception as exc:
        if error_code(exc) not in GONE:
            raise
        return None
    return {k: jsonable(found[k]) for k in INVOKE_CONFIG_FIELDS if k in found}


_FUNCTION = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}"

KIND = Kind(
    name="function",
    noun="function",
    sweep_order=30,
    securityhub_type="AwsLambdaFunction",
    ident=name_of,
    gone_codes=GONE,
    summary_fields=("CodeSha256", "ReservedConcurrentExecutions"),
    iam_actions=("lambda:*",),
    iam_reason="trailguard's own functions only.",
    iam_resources=(f"{_FUNCTION}-api-call", f"{_FUNCTION}-finding"),
    capture=capture,
    baseline_order=6,
)
