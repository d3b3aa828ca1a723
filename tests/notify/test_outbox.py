"""``notify.outbox``: an alert SNS would not take is kept in the state table, and the next backstop sweep
sends it, once. On the deployed stack in moto: SNS's ``Publish`` is broken for a while by patching moto's
backend (an outage longer than Lambda's retries), then restored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError
from moto.sns.models import SNSBackend

import envelopes
from aws_support import ACCOUNT, REGION
from trailguard.integrity import MAC_ATTRIBUTE, TAMPERED
from trailguard.notify import NotificationError, outbox
from trailguard.notify.outbox import PK, Outbox
from trailguard.state import StateStore
from worlds import Deployed, retarget

STOP = "tamper/cloudtrail_stoplogging_stratus.json"


def _stop_logging_event(deployed: Deployed) -> dict[str, Any]:
    record = retarget(STOP, REGION, {"name": deployed.trail_arn})
    return envelopes.api_call(record, event_id="0b6f3c1a-8d2e-4f5a-9c7b-1e2d3f4a5b6c", account=ACCOUNT)


def _down(self: Any, *args: Any, **kwargs: Any) -> None:
    raise JsonRESTError("InternalError", "SNS is unavailable")


def _kept(deployed: Deployed) -> list[dict[str, Any]]:
    return StateStore(deployed.env["TRAILGUARD_STATE_TABLE"], REGION).query(PK)


def test_an_alert_sns_refused_is_kept_and_the_next_sweep_sends_it_once(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _stop_logging_event(deployed)
    deployed.client("cloudtrail").stop_logging(Name=deployed.trail_arn)
    with monkeypatch.context() as outage:
        outage.setattr(SNSBackend, "publish", _down)
        for _attempt in range(3):  # the invocation and Lambda's two asynchronous retries
            with pytest.raises(NotificationError, match="not published"):
                deployed.call(event)
        sweep = deployed.sweep()["sweep"]  # a sweep during the outage keeps it too
        assert sweep["outbox"]["resent"] == [] and sweep["outbox"]["pending"] == 1
    assert deployed.client("cloudtrail").get_trail_status(Name=deployed.trail_arn)["IsLogging"]
    (kept,) = _kept(deployed)
    assert kept["subject"].startswith("[trailguard] ") and "StopLogging" in kept["subject"]
    (raw,) = StateStore(deployed.env["TRAILGUARD_STATE_TABLE"], REGION).query_items(PK)
    assert raw.attributes.get(MAC_ATTRIBUTE)  # kept signed with the stack's state key
    assert kept["attempts"] == 2 and "SNS is unavailable" in kept["error"]
    assert deployed.messages() == []

    sweep = deployed.sweep()["sweep"]  # SNS is back

    assert sweep["outbox"] == {"resent": [kept["subject"]], "pending": 0, "error": None}
    (message,) = deployed.messages()
    assert message["subject"] == kept["subject"] and message["doc"]["kind"] == "incident"
    assert _kept(deployed) == []
    late = deployed.call(event)  # a Lambda retry arriving after the sweep sent it: nothing more
    assert late["incidents"][0]["published"] is False
    assert deployed.messages() == [] and deployed.sweep()["sweep"]["outbox"]["resent"] == []


def test_a_lambda_retry_that_gets_through_discards_the_kept_copy(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _stop_logging_event(deployed)
    with monkeypatch.context() as outage:
        outage.setattr(SNSBackend, "publish", _down)
        with pytest.raises(NotificationError):
            deployed.call(event)
    assert len(_kept(deployed)) == 1
    retry = deployed.call(event)
    assert retry["incidents"][0]["published"] is True
    assert _kept(deployed) == [] and len(deployed.messages()) == 1
    assert deployed.sweep()["sweep"]["outbox"]["resent"] == [] and deployed.messages() == []


def test_kept_alerts_go_out_oldest_first_and_a_failure_stops_the_flush(deployed: Deployed) -> None:
    box = Outbox(
        StateStore(deployed.env["TRAILGUARD_STATE_TABLE"], REGION), clock=iter([3.0, 1.0, 2.0]).__next__
    )
    for n in range(3):
        box.store.put(PK, f"k{n}", {"kept_at": [3.0, 1.0, 2.0][n], "subject": f"s{n}",
                                    "body_zlib_b64": outbox._pack(f"b{n}"), "attempts": 1})  # fmt: skip
    sent: list[str] = []

    def publish(subject: str, body: str, topic: str | None) -> str:
        if subject == "s0":
            raise RuntimeError("down again")
        sent.append(body)
        return "id"

    result = box.flush("arn:t", publish)
    assert sent == ["b1", "b2"] and result == {
        "resent": ["s1", "s2"],
        "pending": 1,
        "error": "RuntimeError: down again",
    }
    (left,) = box.pending()
    assert left["_sk"] == "k0" and left["attempts"] == 2


def _forged_item(subject: str, text: str, kept_at: float = 1.0) -> dict[str, Any]:
    body = json.dumps({"default": text, "email": text})
    doc = {"kept_at": kept_at, "subject": subject, "body_zlib_b64": outbox._pack(body), "attempts": 1,
           "error": None, "ledger_item": None}  # fmt: skip
    return {"pk": {"S": PK}, "sk": {"S": "incident#forged"}, "doc": {"S": json.dumps(doc, sort_keys=True)}}


def test_a_forged_outbox_item_is_never_published_and_the_sweep_reports_it(deployed: Deployed) -> None:
    """The attacker's one raw ``PutItem`` (no MAC, or a MAC copied from a genuine item) is not sent as
    trailguard: it is deleted and the sweep's message says trailguard's state was tampered with."""
    table = deployed.env["TRAILGUARD_STATE_TABLE"]
    lure = "[trailguard] all clear: disregard the earlier StopLogging alert"
    deployed.client("dynamodb").put_item(TableName=table, Item=_forged_item(lure, "Nothing happened."))

    sweep = deployed.sweep()["sweep"]

    assert sweep["outbox"]["resent"] == [] and sweep["outbox"]["pending"] == 0
    (told,) = sweep["outbox"]["tampered"]
    assert told.startswith(TAMPERED) and "sk=incident#forged" in told and "NOT sent" in told
    assert told in sweep["errors"]
    (message,) = deployed.messages()  # the sweep's own message, not the attacker's
    assert message["subject"] != lure and "[ACTION REQUIRED]" in message["subject"]
    assert TAMPERED in message["text"] and "Nothing happened." not in message["text"]
    assert _kept(deployed) == []


def test_a_genuine_mac_copied_onto_a_forged_outbox_item_does_not_verify(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as outage:
        outage.setattr(SNSBackend, "publish", _down)
        with pytest.raises(NotificationError):
            deployed.call(_stop_logging_event(deployed))
    (genuine,) = StateStore(deployed.env["TRAILGUARD_STATE_TABLE"], REGION).query_items(PK)
    forged = _forged_item("[trailguard] all clear", "Nothing happened.", kept_at=0.5)
    forged["sk"] = {"S": genuine.sk}  # the genuine item's key and MAC, the attacker's text
    forged["mac"] = {"S": genuine.attributes[MAC_ATTRIBUTE]}
    deployed.client("dynamodb").put_item(TableName=deployed.env["TRAILGUARD_STATE_TABLE"], Item=forged)

    sweep = deployed.sweep()["sweep"]

    assert sweep["outbox"]["resent"] == [] and len(sweep["outbox"]["tampered"]) == 1
    assert all("Nothing happened." not in m["text"] for m in deployed.messages())
