"""What membership of an organization means to CloudTrail and SNS, which moto does not emulate.

Sits in front of moto's WSGI app (inside the recorder, so a refused call is recorded with its
``errorCode`` as CloudTrail records it) and acts only while an :class:`~trailguard.local.org.Organization`
is set (``trailguard emulator --org``); otherwise every request goes to moto unchanged.

- **Shadow trails.** A member sees the organization trail: ``DescribeTrails`` (``includeShadowTrails``,
  AWS's default, true) and ``ListTrails`` list it, ``GetTrail``, ``GetTrailStatus``,
  ``GetEventSelectors`` and ``GetInsightSelectors`` answer it by ARN, from the owner's trail. moto
  knows only the caller's own trails (``TrailNotFoundException``).
- **A member cannot change it.** ``StopLogging``, ``StartLogging``, ``UpdateTrail``, ``DeleteTrail``,
  ``PutEventSelectors``, ``PutInsightSelectors``, ``AddTags``/``RemoveTags`` on the organization trail's
  ARN by a member fail with ``AccessDeniedException`` and change nothing. The security account stands in
  for CloudTrail's delegated administrator (moto has none): its ``StopLogging``/``StartLogging`` act on
  the owner's trail, in the trail's home region only (elsewhere ``InvalidHomeRegionException``, as AWS
  answers); its other changes answer 501 (not emulated), never a silent success.
- **Cross-account SNS publish.** moto publishes to any account's topic; AWS only when the topic policy
  allows the caller (an account, or ``aws:PrincipalOrgID``). A refused ``Publish`` answers
  ``AuthorizationError`` (403), so nothing reaches the outbox.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from trailguard.local.identity import account_of, user_identity
from trailguard.local.operations import signature_of
from trailguard.local.org import SECURITY, Organization, OrgTrail, policy_allows
from trailguard.local.recorder import read_body, request_headers

log = logging.getLogger(__name__)

WRITES = frozenset(
    {
        "StopLogging",
        "StartLogging",
        "UpdateTrail",
        "DeleteTrail",
        "PutEventSelectors",
        "PutInsightSelectors",
        "AddTags",
        "RemoveTags",
    }
)
DELEGATED = frozenset({"StopLogging", "StartLogging"})
READS = frozenset(
    {"GetTrailStatus", "GetTrail", "GetEventSelectors", "GetInsightSelectors", "DescribeTrails", "ListTrails"}
)
BY_ARN = frozenset({"GetTrailStatus", "GetTrail", "GetEventSelectors", "GetInsightSelectors"})
JSON_TYPE = "application/x-amz-json-1.1"

Reply = tuple[int, dict[str, Any] | str, str]
"""(status, JSON body or XML text, content type)"""


def _body(environ: dict[str, Any]) -> bytes:
    """The body, read once and put back for moto to read again."""
    data = read_body(environ)
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    return data


def _error(status: int, code: str, message: str) -> Reply:
    return status, {"__type": code, "message": message}, JSON_TYPE


def _owner_backend(trail: OrgTrail) -> Any:
    from moto.cloudtrail.models import cloudtrail_backends

    return cloudtrail_backends[trail.owner][trail.home_region]


def trail_name_of(params: Mapping[str, Any]) -> str:
    return str(params.get("Name") or params.get("TrailName") or params.get("ResourceId") or "")


def cloudtrail_reply(
    org: Organization,
    caller: str,
    *,
    caller_arn: str,
    region: str,
    operation: str,
    params: Mapping[str, Any],
) -> Reply | None:
    """The answer AWS gives an organization account for a call on the organization trail, or None when
    moto answers it as it is (the caller's own trails, the owner's calls)."""
    if not org.contains(caller):
        return None
    if operation in WRITES:
        trail = org.foreign_org_trail(caller, trail_name_of(params))
        if trail is None:
            return None
        if org.role_of(caller) == SECURITY and operation in DELEGATED:
            if region != trail.home_region:
                return _error(
                    400,
                    "InvalidHomeRegionException",
                    f"This operation must be called from the trail's home region {trail.home_region}.",
                )
            backend = _owner_backend(trail)
            (backend.stop_logging if operation == "StopLogging" else backend.start_logging)(trail.arn)
            return 200, {}, JSON_TYPE
        if org.role_of(caller) == SECURITY:
            return _error(
                501,
                "NotImplemented",
                f"local cloud: the delegated administrator's {operation} on an organization trail is not "
                "emulated (works on AWS)",
            )
        return _error(
            400,
            "AccessDeniedException",
            f"User: {caller_arn} is not authorized to perform: cloudtrail:{operation} on resource: "
            f"{trail.arn} (an organization trail can be changed only by the management account or a "
            "delegated administrator)",
        )
    if operation not in READS:
        return None
    if operation in BY_ARN:
        trail = org.foreign_org_trail(caller, trail_name_of(params))
        if trail is None:
            return None
        return 200, _read_by_arn(_owner_backend(trail), trail.arn, operation), JSON_TYPE
    visible = [t for t in org.trails if t.owner != caller]
    if not visible:
        return None
    from moto.cloudtrail.models import cloudtrail_backends

    own = cloudtrail_backends[caller][region]
    if operation == "ListTrails":
        shorts = [t.short() for t in own.list_trails()]
        shorts += [_owner_backend(t).get_trail(t.arn).short() for t in visible]
        return 200, {"Trails": shorts}, JSON_TYPE
    shadow = params.get("includeShadowTrails", True)
    if shadow is False:
        return None
    names = [str(n) for n in params.get("trailNameList") or []]
    trails = [t.description(include_region=True) for t in own.describe_trails(True)]
    for t in visible:
        trail = _owner_backend(t).get_trail(t.arn)
        shown_here = trail.is_multi_region or region == t.home_region  # as a shadow trail shows
        if shown_here and (not names or t.arn in names or t.name in names):
            trails.append(trail.description(include_region=True))
    return 200, {"trailList": trails}, JSON_TYPE


def _read_by_arn(backend: Any, arn: str, operation: str) -> dict[str, Any]:
    """The owner's answer to a read of its trail, shaped as moto's responses shape it."""
    if operation == "GetTrail":
        return {"Trail": backend.get_trail(arn).description()}
    if operation == "GetTrailStatus":
        status: dict[str, Any] = backend.get_trail_status(arn).description()
        return status
    if operation == "GetEventSelectors":
        trail_arn, selectors, advanced = backend.get_event_selectors(trail_name=arn)
        return {"TrailARN": trail_arn, "EventSelectors": selectors, "AdvancedEventSelectors": advanced}
    trail_arn, insights = backend.get_insight_selectors(trail_name=arn)
    return {"TrailARN": trail_arn, **({"InsightSelectors": insights} if insights else {})}


def sns_reply(org: Organization, caller: str, caller_arn: str, params: Mapping[str, str]) -> Reply | None:
    """``AuthorizationError`` for a cross-account ``Publish`` the topic policy does not allow."""
    if params.get("Action") not in ("Publish", "PublishBatch"):
        return None
    topic_arn = params.get("TopicArn") or params.get("TargetArn") or ""
    parts = topic_arn.split(":")
    if len(parts) < 6 or parts[4] == caller:
        return None
    from moto.sns.models import sns_backends

    topic = sns_backends[parts[4]][parts[3]].topics.get(topic_arn)
    if topic is None:
        return None  # moto answers NotFound, as AWS does
    org_id = org.id if org.contains(caller) else ""
    if policy_allows(topic.policy, "sns:Publish", caller, principal_arn=caller_arn, org_id=org_id):
        return None
    request_id = str(uuid.uuid4())
    xml = (
        '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
        f"<Code>AuthorizationError</Code><Message>User: {caller_arn} is not authorized to perform: "
        f"SNS:Publish on resource: {topic_arn}</Message></Error><RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    )
    return 403, xml, "text/xml"


class OrgGate:
    """WSGI middleware: answers what an organization changes, passes everything else to ``app``."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], organization: Callable[[], Organization | None]
    ) -> None:
        self.app = app
        self.organization = organization

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        org = self.organization()
        if org is not None:
            try:
                reply = self._reply(org, environ)
            except Exception:
                log.exception("organization gate failed; passing the request to moto")
                reply = None
            if reply is not None:
                return _respond(reply, start_response)
        return self.app(environ, start_response)

    def _reply(self, org: Organization, environ: dict[str, Any]) -> Reply | None:
        headers = request_headers(environ)
        query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
        sig = signature_of(headers, query)
        if sig is None or sig.signing_name not in ("cloudtrail", "sns"):
            return None
        caller = account_of(sig.access_key_id)
        if sig.signing_name == "cloudtrail":
            operation = headers.get("x-amz-target", "").rsplit(".", 1)[-1]
            if operation not in WRITES and operation not in READS:
                return None
            body = _body(environ)
            try:
                params = json.loads(body) if body else {}
            except ValueError:
                return None
            if not isinstance(params, dict):
                return None
            arn = str(user_identity(sig.access_key_id, sig.session_token).get("arn", ""))
            return cloudtrail_reply(
                org, caller, caller_arn=arn, region=sig.region, operation=operation, params=params
            )
        form = dict(parse_qsl(_body(environ).decode("utf-8", "replace"), keep_blank_values=True))
        arn = str(user_identity(sig.access_key_id, sig.session_token).get("arn", ""))
        return sns_reply(org, caller, arn, {**query, **form})


def _respond(reply: Reply, start_response: Callable[..., Any]) -> list[bytes]:
    status, body, content_type = reply
    data = (json.dumps(body, default=str) if isinstance(body, dict) else body).encode()
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 501: "Not Implemented"}.get(status, "")
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if status >= 400 and isinstance(body, dict):
        headers.append(("x-amzn-ErrorType", str(body.get("__type", ""))))
    start_response(f"{status} {reason}", headers)
    return [data]
