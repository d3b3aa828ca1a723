"""The Lambda runner: runs a function's handler in-process, as Lambda would for an EventBridge target.

moto cannot run Lambda code without Docker. The deployed code is the trailguard installed here, so the
runner imports the function's ``Handler`` (``module.function``) and calls it on a worker thread with the
function's environment bound by :func:`trailguard.aws.using_environ`: its variables, its region, the
emulator's endpoint and credentials of the function's role from STS ``AssumeRole``, so the CloudTrail
records of its calls name that role. What stops Lambda from invoking a function stops it here too: a
deleted function, reserved concurrency 0, no resource-based permission for the rule.
"""

from __future__ import annotations

import fnmatch
import importlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trailguard.aws import using_environ

log = logging.getLogger(__name__)

EVENTS_PRINCIPAL = "events.amazonaws.com"
_CREDENTIAL_TTL = 900.0


@dataclass
class Invocation:
    """One delivery of an event to a function: invoked (with result or error) or refused (with reason)."""

    function_name: str
    function_arn: str
    rule_arn: str | None
    event_id: str | None
    detail_type: str | None
    invoked: bool
    started: float = field(default_factory=time.time)
    duration: float = 0.0
    result: Any = None
    error: str | None = None
    reason: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def rule_name(self) -> str | None:
        return self.rule_arn.rsplit("/", 1)[-1] if self.rule_arn else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function_name,
            "function_arn": self.function_arn,
            "rule": self.rule_name,
            "rule_arn": self.rule_arn,
            "event_id": self.event_id,
            "detail_type": self.detail_type,
            "invoked": self.invoked,
            "started": self.started,
            "duration": round(self.duration, 6),
            "result": self.result,
            "error": self.error,
            "reason": self.reason,
        }


class LambdaContext:
    """The ``context`` argument Lambda passes to a Python handler (the attributes handlers use)."""

    def __init__(self, function: Any, request_id: str) -> None:
        self.function_name: str = function.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = function.function_arn
        self.memory_limit_in_mb = int(function.memory_size or 128)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + float(function.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_allows(condition: Mapping[str, Any], source_arn: str | None, account: str) -> bool:
    """The conditions EventBridge permissions use; an unknown operator is not assumed to pass."""
    for operator, pairs in condition.items():
        for key, expected in dict(pairs).items():
            key_l = key.lower()
            if key_l == "aws:sourcearn":
                actual = source_arn or ""
            elif key_l == "aws:sourceaccount":
                actual = account
            else:
                return False
            values = [str(v) for v in _as_list(expected)]
            if operator in ("ArnLike", "StringLike"):
                ok = any(fnmatch.fnmatchcase(actual, v) for v in values)
            elif operator in ("ArnEquals", "StringEquals"):
                ok = actual in values
            else:
                return False
            if not ok:
                return False
    return True


def _statement_applies(
    statement: Mapping[str, Any], source_arn: str | None, account: str, service: str = EVENTS_PRINCIPAL
) -> bool:
    actions = [str(a) for a in _as_list(statement.get("Action", []))]
    if not any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
        return False
    principal = statement.get("Principal", {})
    if principal != "*":
        services = _as_list(principal.get("Service", [])) if isinstance(principal, Mapping) else []
        if service not in services:
            return False
    return _condition_allows(statement.get("Condition", {}), source_arn, account)


def permission_allows(
    statements: list[Mapping[str, Any]],
    source_arn: str | None,
    account: str,
    service: str = EVENTS_PRINCIPAL,
) -> bool:
    """Whether a function's resource policy lets ``service`` (EventBridge, or SNS for a topic's
    subscription) invoke it from ``source_arn``."""
    applicable = [s for s in statements if _statement_applies(s, source_arn, account, service)]
    if any(s.get("Effect") == "Deny" for s in applicable):
        return False
    return any(s.get("Effect", "Allow") == "Allow" for s in applicable)


def parse_function_arn(arn: str) -> tuple[str, str, str]:
    """``(account, region, name)`` of ``arn:aws:lambda:region:account:function:name[:qualifier]``."""
    parts = arn.split(":")
    return parts[4], parts[3], parts[6]


class LambdaRunner:
    """Invokes functions in-process and keeps a bounded log of :class:`Invocation`."""

    def __init__(
        self,
        endpoint_url: str,
        admin_environ: Mapping[str, str],
        limit: int = 1000,
        listeners: list[Callable[[Invocation], None]] | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.admin_environ = dict(admin_environ)
        self.invocations: deque[Invocation] = deque(maxlen=limit)
        self.listeners = listeners if listeners is not None else []
        self._credentials: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def role_arns(self) -> set[str]:
        """Roles whose credentials this runner handed to a function (the guard's own principals)."""
        with self._lock:
            return {role for role, _ in self._credentials}

    def invoke(
        self,
        function_arn: str,
        event: Mapping[str, Any],
        rule_arn: str | None = None,
        service: str = EVENTS_PRINCIPAL,
    ) -> Invocation:
        from moto.awslambda.models import lambda_backends

        account, region, name = parse_function_arn(function_arn)
        detail_type = event.get("detail-type") if isinstance(event, Mapping) else None
        event_id = event.get("id") if isinstance(event, Mapping) else None

        def refused(reason: str) -> Invocation:
            inv = Invocation(
                name, function_arn, rule_arn, event_id, detail_type, invoked=False, reason=reason
            )
            log.warning("not invoking %s for %s: %s", name, rule_arn, reason)
            return self._keep(inv)

        backend = lambda_backends[account][region]
        try:
            function = backend.get_function(name)
        except Exception:
            return refused("ResourceNotFoundException: function not found")
        if function.reserved_concurrency is not None and int(function.reserved_concurrency) == 0:
            return refused("TooManyRequestsException: reserved concurrency is 0 (throttled)")
        if not permission_allows(list(function.policy.statements), rule_arn, account, service):
            return refused(f"AccessDeniedException: no permission for {service} from {rule_arn}")

        inv = Invocation(name, function.function_arn, rule_arn, event_id, detail_type, invoked=True)
        started = time.monotonic()
        try:
            handler = resolve_handler(str(function.handler))
            env = self._environment(function, region)
            with using_environ(env):
                inv.result = handler(dict(event), LambdaContext(function, inv.request_id))
        except Exception as exc:
            inv.error = f"{type(exc).__name__}: {exc}"
            log.exception("function %s failed on %s", name, event_id)
        inv.duration = time.monotonic() - started
        return self._keep(inv)

    def _keep(self, inv: Invocation) -> Invocation:
        self.invocations.append(inv)
        for listener in self.listeners:
            try:
                listener(inv)
            except Exception:
                log.exception("invocation listener failed")
        return inv

    def _environment(self, function: Any, region: str) -> dict[str, str]:
        creds = self.credentials_for(str(function.role), str(function.function_name))
        env = {str(k): str(v) for k, v in dict(function.environment_vars or {}).items()}
        env.update(
            {
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_LAMBDA_FUNCTION_NAME": str(function.function_name),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size or 128),
                **creds,
            }
        )
        return env

    def credentials_for(self, role_arn: str, session_name: str) -> dict[str, str]:
        """Temporary credentials of the role from the emulator's STS (session named after the function,
        as Lambda does), reused while fresh."""
        key = (role_arn, session_name[:64])
        with self._lock:
            cached = self._credentials.get(key)
            if cached and time.monotonic() - cached[0] < _CREDENTIAL_TTL:
                return cached[1]
        from trailguard import aws

        with using_environ({**self.admin_environ, "AWS_ENDPOINT_URL": self.endpoint_url}):
            sts = aws.client("sts", endpoint_url=self.endpoint_url)
        resp = sts.assume_role(RoleArn=role_arn, RoleSessionName=key[1])
        c = resp["Credentials"]
        creds = {
            "AWS_ACCESS_KEY_ID": c["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
            "AWS_SESSION_TOKEN": c["SessionToken"],
        }
        with self._lock:
            self._credentials[key] = (time.monotonic(), creds)
        return creds


def resolve_handler(spec: str) -> Callable[[dict[str, Any], LambdaContext], Any]:
    """``package.module.function`` -> the callable, imported as the Lambda runtime would."""
    module_name, _, attr = spec.rpartition(".")
    if not module_name:
        raise ImportError(f"Runtime.MalformedHandlerName: {spec!r}")
    module = importlib.import_module(module_name)
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise ImportError(f"Runtime.HandlerNotFound: {spec!r}")
    return handler  # type: ignore[no-any-return]
