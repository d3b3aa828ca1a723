"""The CloudTrail recorder: every mutating management call moto serves becomes a CloudTrail record.

moto records nothing. :class:`CallCapture` wraps moto's WSGI app, so it sees each request exactly as
sent (headers, body, the client's address) and each response exactly as returned (status, error body),
whatever the protocol, and hands a :class:`Call` to observers. :class:`Recorder` is the observer that
writes the record CloudTrail would, wraps it in the ``AWS API Call via CloudTrail`` envelope EventBridge
delivers, keeps the recent ones in memory and passes each on (to the router, the findings emitter).
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from trailguard.local import dataevents
from trailguard.local.identity import account_of, user_identity
from trailguard.local.operations import Operation, Signature, cloudtrail_keys, identify, signature_of

log = logging.getLogger(__name__)

EVENT_VERSION = "1.09"
DETAIL_TYPE = "AWS API Call via CloudTrail"


@dataclass
class Call:
    """One HTTP request moto served, with its response."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    source_ip: str
    time: datetime
    signature: Signature | None = None
    operation: Operation | None = None
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300


Observer = Callable[[Call], None]


class CallCapture:
    """WSGI middleware around moto: buffers request and response and tells observers about each call."""

    def __init__(self, app: Callable[..., Iterable[bytes]], observers: Iterable[Observer] = ()) -> None:
        self.app = app
        self.observers: list[Observer] = list(observers)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = datetime.now(UTC)
        body = read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        captured: dict[str, Any] = {}

        def capture_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = {k.lower(): v for k, v in headers}
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            result = self.app(environ, capture_start)
        except NotImplementedError as exc:
            result = _not_implemented(exc, capture_start)
        try:
            chunks = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if self.observers and not environ.get("PATH_INFO", "").startswith("/moto-api"):
            try:
                call = _call_from(environ, body, started)
                call.status = captured.get("status", 0)
                call.response_headers = captured.get("headers", {})
                call.response_body = b"".join(chunks)
                for observer in self.observers:
                    try:
                        observer(call)
                    except Exception:
                        log.exception("observer %r failed on %s %s", observer, call.method, call.path)
            except Exception:
                log.exception("could not read a call for the recorder")
        return chunks


def _not_implemented(exc: NotImplementedError, start_response: Callable[..., Any]) -> list[bytes]:
    """An API moto lacks (CloudTrail Lake, Security Hub BatchUpdateFindings, ...) answers 501 in one line.

    The call works on AWS; the caller gets an error it reports, and the log gets one line instead of
    werkzeug's traceback, which would bury the story a person is watching.
    """
    log.warning("moto gap (works on AWS, not in the local cloud): %s", exc)
    body = json.dumps({"__type": "NotImplemented", "message": f"local cloud: {exc}"}).encode()
    start_response(
        "501 Not Implemented",
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
    )
    return [body]


def read_body(environ: Mapping[str, Any]) -> bytes:
    """The request's body, read from the WSGI stream (by its length, or to the end when chunked)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        data: bytes = stream.read(int(length))
        return data
    if environ.get("wsgi.input_terminated"):
        data = stream.read()
        return data
    return b""


def request_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers, lower-cased, from the WSGI environment."""
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _call_from(environ: Mapping[str, Any], body: bytes, started: datetime) -> Call:
    headers = request_headers(environ)
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    call = Call(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=str(environ.get("PATH_INFO", "/")),
        query=query,
        headers=headers,
        body=body,
        source_ip=str(environ.get("REMOTE_ADDR", "127.0.0.1")),
        time=started,
    )
    call.signature = signature_of(headers, query)
    if call.signature is not None:
        call.operation = identify(call.signature, call.method, call.path, query, headers=headers, body=body)
    return call


_XML_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_XML_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")


def error_of(call: Call) -> tuple[str, str] | None:
    """``(errorCode, errorMessage)`` of a failed call, read from the response as the SDKs read it."""
    if call.succeeded:
        return None
    code = call.response_headers.get("x-amzn-errortype", "").split(":", 1)[0]
    message = ""
    try:
        loaded = json.loads(call.response_body) if call.response_body else {}
    except ValueError:
        loaded = None
    if isinstance(loaded, dict):
        code = code or str(loaded.get("__type") or loaded.get("code") or loaded.get("Code") or "")
        message = str(loaded.get("message") or loaded.get("Message") or "")
    else:
        m = _XML_CODE.search(call.response_body)
        if m:
            code = code or m.group(1).decode("utf-8", "replace")
        m = _XML_MESSAGE.search(call.response_body)
        if m:
            message = m.group(1).decode("utf-8", "replace")
    code = code.rsplit("#", 1)[-1] or ("InternalFailure" if call.status >= 500 else f"Http{call.status}")
    return code, message or f"HTTP {call.status}"


def _response_elements(call: Call, service: str) -> Any:
    if not call.succeeded or not call.response_body:
        return None
    if not call.response_headers.get("content-type", "").startswith(
        ("application/json", "application/x-amz")
    ):
        return None
    try:
        loaded = json.loads(call.response_body)
    except ValueError:
        return None
    return cloudtrail_keys(service, loaded) if isinstance(loaded, dict) and loaded else None


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_of(call: Call) -> dict[str, Any] | None:
    """The CloudTrail record of a call, or None when CloudTrail would not log it as a management write."""
    op, sig = call.operation, call.signature
    if op is None or sig is None or op.read_only:
        return None
    identity = user_identity(sig.access_key_id, sig.session_token)
    account = identity.get("accountId") or account_of(sig.access_key_id)
    resources = _data_resources(op, account) if op.data_event else None
    if op.data_event and resources is None:
        return None
    request_id = (
        call.response_headers.get("x-amzn-requestid")
        or call.response_headers.get("x-amz-request-id")
        or str(uuid.uuid4())
    )
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": _time(call.time),
        "eventSource": op.event_source,
        "eventName": op.event_name,
        "awsRegion": sig.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.headers.get("user-agent", ""),
        "requestParameters": op.request_parameters or None,
        "responseElements": _response_elements(call, op.service),
        "requestID": request_id,
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if resources is not None:  # an S3 data event a trail selects (see trailguard.local.dataevents)
        record.update(managementEvent=False, eventCategory="Data", resources=resources)
    error = error_of(call)
    if error is not None:
        record["errorCode"], record["errorMessage"] = error
    return record


def _data_resources(op: Operation, account: str) -> list[dict[str, Any]] | None:
    """The ``resources`` of an S3 object write some logging trail selects as a data event; None when
    CloudTrail would not record it (another service's data event, or no trail selects the object)."""
    params = op.request_parameters
    bucket, key = params.get("bucketName"), params.get("key")
    if op.service != "s3" or not isinstance(bucket, str) or not bucket:
        return None
    if not dataevents.selected(account, bucket, key if isinstance(key, str) else None):
        return None
    found: list[dict[str, Any]] = []
    if isinstance(key, str) and key:
        found.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"})
    found.append({"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"})
    return found


def envelope_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The EventBridge event that carries a CloudTrail record."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws." + str(record["eventSource"]).split(".", 1)[0],
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": dict(record),
    }


EnvelopeListener = Callable[[dict[str, Any]], None]


class Recorder:
    """Call observer that keeps the last ``limit`` envelopes and passes each to the listeners."""

    def __init__(self, limit: int = 2000, journal: Path | None = None) -> None:
        self.envelopes: deque[dict[str, Any]] = deque(maxlen=limit)
        self.received: dict[str, float] = {}  # envelope id -> when recorded (epoch seconds), bounded too
        self.listeners: list[EnvelopeListener] = []
        self.journal = journal
        self._lock = threading.Lock()
        self._journal_lock = threading.Lock()

    @property
    def records(self) -> list[dict[str, Any]]:
        """The recent CloudTrail records, oldest first."""
        return [env["detail"] for env in list(self.envelopes)]

    def find(self, event_name: str | None = None, **identity: str) -> list[dict[str, Any]]:
        """Recent records with this eventName (prefix match) and userIdentity fields."""
        return [
            r
            for r in self.records
            if (event_name is None or str(r["eventName"]).startswith(event_name))
            and all(r["userIdentity"].get(k) == v for k, v in identity.items())
        ]

    def __call__(self, call: Call) -> None:
        record = record_of(call)
        if record is None:
            return
        envelope = envelope_of(record)
        with self._lock:
            if len(self.envelopes) == self.envelopes.maxlen:
                self.received.pop(self.envelopes[0]["id"], None)
            self.envelopes.append(envelope)
            self.received[envelope["id"]] = time.time()
        if self.journal is not None:
            line = json.dumps(envelope, separators=(",", ":"), default=str)
            with self._journal_lock, self.journal.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        for listener in self.listeners:
            try:
                listener(envelope)
            except Exception:
                log.exception("listener %r failed on %s", listener, record["eventName"])
