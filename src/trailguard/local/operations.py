"""Which AWS operation an HTTP request to the emulator is, named and parameterised as CloudTrail would.

moto serves every protocol (JSON, query, REST-JSON, REST-XML); CloudTrail names them all the same way.
The service comes from the SigV4 credential scope, the operation from ``X-Amz-Target`` (JSON), the
``Action`` parameter (query) or, for REST services (Lambda, S3, GuardDuty, ...), from matching method,
path and query-string keys against botocore's service model, the same model the SDKs are built from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote

# SigV4 signing name -> botocore service name, where they differ.
_SERVICE_BY_SIGNING_NAME = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "states": "stepfunctions",
    "execute-api": "apigateway",
}

# CloudTrail names a few operations differently from the API reference.
_S3_EVENT_NAMES = {
    "PutBucketLifecycleConfiguration": "PutBucketLifecycle",
    "DeleteBucketLifecycle": "DeleteBucketLifecycle",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "DeleteBucketPublicAccessBlock",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetBucketLifecycleConfiguration": "GetBucketLifecycle",
    "PutBucketEncryption": "PutBucketEncryption",
    "ListObjectsV2": "ListObjects",
}

# Lambda operations whose CloudTrail eventName ends in "v2" after the API date.
_LAMBDA_V2 = frozenset(
    {
        "AddPermission",
        "RemovePermission",
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "GetPolicy",
        "GetFunction",
        "GetFunctionConfiguration",
    }
)

_READ_PREFIXES = (
    "Get",
    "Describe",
    "List",
    "Head",
    "Lookup",
    "LookUp",
    "Search",
    "Select",
    "Query",
    "Scan",
    "BatchGet",
    "Test",
    "Check",
    "Verify",
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateRandom",
    "Sign",
)
_READ_ONLY_OPERATIONS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})

# Data events: CloudTrail does not log them as management events (and trails here log management only).
_DATA_EVENTS: dict[str, frozenset[str]] = {
    "sns": frozenset({"Publish", "PublishBatch"}),
    "lambda": frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"}),
    "dynamodb": frozenset(
        {
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "BatchWriteItem",
            "TransactWriteItems",
            "ExecuteStatement",
            "BatchExecuteStatement",
            "ExecuteTransaction",
        }
    ),
    "sqs": frozenset({"SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch"}),
    # Object calls addressed to the bucket (POST /bucket?delete); the others name a key (object-level).
    "s3": frozenset({"DeleteObjects"}),
}

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Signature:
    """What the SigV4 signature of a request says: who signed and for which region and service."""

    access_key_id: str
    region: str
    signing_name: str
    session_token: str | None = None


@dataclass(frozen=True)
class Operation:
    """One identified API call."""

    service: str  # botocore name: cloudtrail, s3, lambda, ...
    signing_name: str  # cloudtrail, s3, lambda, ...
    name: str  # the API operation: StopLogging, PutBucketLifecycleConfiguration, ...
    event_name: str  # as CloudTrail writes it: StopLogging, PutBucketLifecycle, DeleteFunction20150331
    request_parameters: dict[str, Any] = field(default_factory=dict)
    read_only: bool = False
    data_event: bool = False

    @property
    def event_source(self) -> str:
        return f"{self.signing_name}.amazonaws.com"


def signature_of(headers: Mapping[str, str], query: Mapping[str, str]) -> Signature | None:
    """The SigV4 credential scope from the Authorization header or a presigned URL, or None."""
    auth = headers.get("authorization", "")
    match = _CREDENTIAL.search(auth) or _CREDENTIAL.search("Credential=" + query.get("X-Amz-Credential", ""))
    if not match:
        return None
    token = headers.get("x-amz-security-token") or query.get("X-Amz-Security-Token") or None
    return Signature(match.group(1), match.group(3), match.group(4), token)


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:] if name else name


# CloudTrail writes these services' requestParameters and responseElements with the API's member names
# as sent (Security Hub's PascalCase: ``RuleName``, ``Criteria``); every other service's in camelCase.
AS_SENT = frozenset({"securityhub"})


def cloudtrail_keys(service: str, value: Any) -> Any:
    """``value`` (a request or response body) spelled as CloudTrail writes it for ``service``."""
    return value if service in AS_SENT else camel_keys(value)


def camel_keys(value: Any) -> Any:
    """Lower the first letter of every key, recursively: ``{"Name": x}`` -> ``{"name": x}``."""
    if isinstance(value, dict):
        return {lower_first(str(k)): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


def unflatten_query(params: Mapping[str, str]) -> dict[str, Any]:
    """Query-protocol parameters (``Tags.member.1.Key=k``) as the nested, camelCase JSON CloudTrail shows."""
    root: dict[str, Any] = {}
    for dotted, value in params.items():
        parts = dotted.split(".")
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            key: Any = int(part) if part.isdigit() else lower_first(part)
            if key in ("member", "entry"):
                continue
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
    result: dict[str, Any] = _lists(root)
    return result


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(isinstance(k, int) for k in node):
            return [_lists(node[k]) for k in sorted(node)]
        return {k: _lists(v) for k, v in node.items()}
    return node


@lru_cache(maxsize=64)
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=64)
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], frozenset[str], int, str]]:
    """(method, path regex, required query keys, specificity, operation) for each REST operation."""
    model = _service_model(service)
    routes = []
    for op_name in model.operation_names:
        http = model.operation_model(op_name).http
        uri: str = http.get("requestUri", "/")
        path, _, qs = uri.partition("?")
        required = frozenset(k for k, _ in parse_qsl(qs, keep_blank_values=True)) | _required_query(
            model.operation_model(op_name)
        )
        pattern = ""
        for piece in re.split(r"(\{[^}]+\})", path):
            if piece.startswith("{"):
                name = piece[1:-1]
                greedy = name.endswith("+")
                name = name.rstrip("+")
                pattern += f"(?P<{_group(name)}>{'.+' if greedy else '[^/]+'})"
            else:
                pattern += re.escape(piece)
        if pattern.endswith("/") and pattern != "/":
            pattern = pattern[:-1]
        literal = len(re.sub(r"\{[^}]+\}", "", path))
        routes.append(
            (
                http.get("method", "GET"),
                re.compile(pattern + "/?"),
                required,
                literal + 100 * len(required),
                op_name,
            )
        )
    return routes


def _required_query(operation: Any) -> frozenset[str]:
    """The query-string parameters an operation requires (``uploadId`` of ``AbortMultipartUpload``),
    which tell it from another operation on the same method and URI (``DeleteObject``)."""
    shape = operation.input_shape
    if shape is None:
        return frozenset()
    return frozenset(
        str(member.serialization.get("name") or name)
        for name, member in shape.members.items()
        if name in shape.required_members and member.serialization.get("location") == "querystring"
    )


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _match_rest(
    service: str, method: str, path: str, query: Mapping[str, str]
) -> tuple[str, dict[str, str]] | None:
    best: tuple[int, str, dict[str, str]] | None = None
    qkeys = set(query)
    for route_method, regex, required, score, op_name in _rest_routes(service):
        if route_method != method or not required <= qkeys:
            continue
        m = regex.fullmatch(path)
        if m is None:
            continue
        if best is None or score > best[0]:
            groups = {k[2:]: unquote(v) for k, v in m.groupdict().items()}
            best = (score, op_name, groups)
    return (best[1], best[2]) if best else None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else {}
    except ValueError:
        return {}


def _xml(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        import xmltodict  # type: ignore[import-untyped]

        parsed = xmltodict.parse(body, attr_prefix="")
    except Exception:
        return {}
    return dict(parsed) if isinstance(parsed, Mapping) else {}


def is_read_only(service: str, operation: str) -> bool:
    return operation in _READ_ONLY_OPERATIONS or operation.startswith(_READ_PREFIXES)


def identify(
    signature: Signature,
    method: str,
    path: str,
    query: Mapping[str, str],
    *,
    headers: Mapping[str, str],
    body: bytes,
) -> Operation | None:
    """Name the operation a signed request calls, with its CloudTrail ``requestParameters``."""
    signing = signature.signing_name
    service = _SERVICE_BY_SIGNING_NAME.get(signing, signing)
    try:
        model = _service_model(service)
    except Exception:
        return None
    protocol = model.metadata.get("protocol", "")
    params: dict[str, Any]
    object_level = False
    if protocol == "json":
        target = headers.get("x-amz-target", "")
        if not target:
            return None
        name = target.rsplit(".", 1)[-1]
        loaded = _json(body)
        params = camel_keys(loaded) if isinstance(loaded, dict) else {}
        event_name = name
    elif protocol in ("query", "ec2"):
        form = dict(query)
        content_type = headers.get("content-type", "")
        if body and "x-www-form-urlencoded" in content_type:
            form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        name = form.pop("Action", "")
        form.pop("Version", None)
        if not name:
            return None
        params = unflatten_query(form)
        event_name = name
    else:
        matched = _match_rest(service, method, path, query)
        if matched is None:
            return None
        name, path_params = matched
        if name == "CopyObject" and "x-amz-copy-source" not in headers:
            name = "PutObject"  # same method and URI; only the header tells them apart
        event_name = name
        if service == "s3":
            event_name = _S3_EVENT_NAMES.get(name, name)
            object_level = "Key" in path_params
            params = _s3_parameters(path_params, query, headers, body, name)
        else:
            params = cloudtrail_keys(service, {**path_params, **query})
            loaded = _json(body) if body else {}
            if isinstance(loaded, dict):
                params.update(cloudtrail_keys(service, loaded))
            if service == "lambda":
                event_name = _lambda_event_name(name, model)
    data_event = object_level or name in _DATA_EVENTS.get(service, frozenset())
    return Operation(
        service=service,
        signing_name=signing,
        name=name,
        event_name=event_name,
        request_parameters=params,
        read_only=is_read_only(service, name),
        data_event=data_event,
    )


def _lambda_event_name(name: str, model: Any) -> str:
    """``DeleteFunction`` -> ``DeleteFunction20150331``: CloudTrail appends the API date in the URI."""
    uri: str = model.operation_model(name).http.get("requestUri", "")
    m = re.match(r"/(\d{4})-(\d{2})-(\d{2})/", uri)
    if not m:
        return name
    suffix = "".join(m.groups())
    return f"{name}{suffix}{'v2' if name in _LAMBDA_V2 else ''}"


def _s3_parameters(
    path_params: Mapping[str, str],
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    operation: str,
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if "Bucket" in path_params:
        params["bucketName"] = path_params["Bucket"]
    if "Key" in path_params:
        params["key"] = path_params["Key"]
    if host := headers.get("host"):
        params["Host"] = host
    for key, value in query.items():
        if not key.startswith("X-Amz-"):
            params[key] = value
    for name, value in headers.items():  # CloudTrail lists ACL headers as one-element lists
        if name == "x-amz-acl" or name.startswith("x-amz-grant-"):
            params[name] = [value]
    if operation == "PutBucketPolicy":
        policy = _json(body)
        params["bucketPolicy"] = policy if policy else body.decode("utf-8", "replace")
    elif body and "Key" not in path_params:
        params.update(_xml(body))
    return params
