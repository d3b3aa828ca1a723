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
    """Configuration essentials, reserved concurrency (None when unreserved) and the resource policy."""
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
    doc["_meta"] = meta(source)
    return doc


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
