"""``notify.ledger`` on the stack's state table (moto), driven by a fake clock: the storm's follow-up
slots, the quiet gap, the finding window, and the sweep's window, with exact decisions and no sleeping.
The store's TTL checks read ``state.time``, which follows the same fake clock here."""

from __future__ import annotations

import copy
import json
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from trailguard import state
from trailguard.events import Record, records_from_object
from trailguard.integrity import MAC_ATTRIBUTE, TAMPERED, DerivedMac
from trailguard.notify import Drift, Incident, Ledger, SweepFindings
from trailguard.notify.ledger import (
    BURST_QUIET_SECONDS,
    DEDUP_SECONDS,
    FINDING_WINDOW_SECONDS,
    SWEEP_WINDOW_SECONDS,
    burst_key,
    event_attribute,
    event_key,
    fingerprint,
    forget_bursts,
    sweep_key,
)
from trailguard.policy import Verdict
from trailguard.remediate import Outcome
from trailguard.state import StateStore

from .conftest import REGION, TABLE, Cloud, FakeClock, event

STOP = "tamper/cloudtrail_stoplogging_stratus.json"
FINDING = "findings/securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json"
ACCOUNT = "123456789012"


@pytest.fixture
def ledger(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> tuple[Ledger, FakeClock]:
    fake = FakeClock(1_700_000_000.0)
    monkeypatch.setattr(state, "time", SimpleNamespace(time=fake))
    return Ledger(StateStore(TABLE, REGION), clock=fake), fake


def _stop(n: int, **changes: Any) -> Record:
    raw = copy.deepcopy(event(STOP))
    raw["eventID"] = f"00000000-0000-4000-8000-{n:012d}"
    raw.update(changes)
    (record,) = records_from_object(raw)
    return record


def _incident(record: Record, resource: str = "org-trail") -> Incident:
    verdict = Verdict("tamper", "trail.stop-logging", resource, record.principal_arn, "Stopped.", record)
    outcome = Outcome("trail.start_logging", resource, "remediated", "restarted", verified=True)
    return Incident(verdict, record, "api_call", REGION, outcome=outcome)


def test_the_default_clock_is_the_system_clock() -> None:
    assert Ledger(StateStore(TABLE, REGION)).clock is time.time


def test_a_long_storm_gets_follow_ups_spaced_out_and_a_quiet_gap_starts_over(
    ledger: tuple[Ledger, FakeClock],
) -> None:
    """One message, then the count: at each follow-up slot while it goes on, and once when it ends (the
    sweep's ``close_bursts``); each call is counted exactly once."""
    book, clock = ledger
    actions, followups = [], []
    for n in range(8):  # one call every 200 s: the burst never goes quiet for 300 s
        actions.append(book.decide(_incident(_stop(n))).action)
        followups += [d.more for _, d in book.close_bursts(REGION)]
        clock.advance(200)
    assert actions == ["publish"] + ["suppress"] * 7
    assert followups == [3]  # at 600 s slot 1 opened: 3 more since the first; the next slot is at 1800 s
    clock.advance(BURST_QUIET_SECONDS)
    ((incident, final),) = book.close_bursts(REGION)
    assert final.action == "follow-up" and final.more == 7 and "ended" in final.reason
    assert incident.technique_id == "trail.stop-logging" and incident.record.event_id == _stop(0).event_id
    assert book.close_bursts(REGION) == []  # told once
    assert book.decide(_incident(_stop(99))).action == "publish"  # a quiet gap starts over


def test_a_redelivered_event_is_suppressed_as_a_duplicate(ledger: tuple[Ledger, FakeClock]) -> None:
    """(A Lambda retry after a refused publish is re-sent from the outbox: ``notify.delivery``.)"""
    book, clock = ledger
    incident = _incident(_stop(1))
    assert book.decide(incident).action == "publish"
    clock.advance(30)
    again = book.decide(incident)
    assert again.action == "suppress" and again.duplicate and "duplicate delivery" in again.reason


def test_a_finding_inside_the_window_of_its_api_call_is_counted_not_told(
    ledger: tuple[Ledger, FakeClock],
) -> None:
    book, clock = ledger
    (finding,) = records_from_object(event(FINDING))
    trail = str(finding.finding_trail)
    call = _stop(1, requestParameters={"name": trail}, recipientAccountId=finding.account_id)
    assert book.decide(_incident(call, resource=trail)).action == "publish"

    def _finding(record: Record) -> Incident:
        verdict = Verdict("tamper", "finding.trail-disabled", trail, None, "x.", record)
        outcome = Outcome("trail.reconcile", trail, "already-restored", "ok", verified=True)
        return Incident(verdict, record, "finding", REGION, outcome=outcome)

    clock.advance(FINDING_WINDOW_SECONDS - 60)  # GuardDuty is late, but inside the window
    told = book.decide(_finding(finding))
    assert told.action == "suppress" and "already reported from the call" in told.reason
    clock.advance(120)  # past the window: another finding about the trail is news again
    later = Record({**finding.raw, "Id": f"{finding.event_id}-later"}, finding.kind)
    assert book.decide(_finding(later)).action == "publish"


def _sweep(*drift: Drift, errors: tuple[str, ...] = ()) -> SweepFindings:
    return SweepFindings(ACCOUNT, REGION, {"function": 2}, list(drift), list(errors))


GONE = Drift("function", "tg-api-call", [Outcome("guard.restore_function", "tg-api-call", "failed", "gone")])
TRAIL = Drift("trail", "audit-trail", [Outcome("trail.reconcile", "audit-trail", "remediated", "ok", True)])


def test_the_same_sweep_findings_are_told_once_then_reminded_after_the_window(
    ledger: tuple[Ledger, FakeClock],
) -> None:
    book, clock = ledger
    notice = _sweep(GONE)
    first = book.decide(notice)
    assert first is not None and first.action == "publish"
    book.finished(notice, first, "msg-1", None)

    actions = []
    for _ in range(3):
        clock.advance(SWEEP_WINDOW_SECONDS / 4)
        decision = book.decide(notice)
        assert decision is not None
        actions.append((decision.action, decision.repeats))
    assert actions == [("suppress", 1), ("suppress", 2), ("suppress", 3)]

    clock.advance(SWEEP_WINDOW_SECONDS / 4)  # exactly one window after the message
    reminder = book.decide(notice)
    assert reminder is not None and (reminder.action, reminder.repeats) == ("reminder", 4)
    assert reminder.since == first.since
    book.finished(notice, reminder, "msg-2", None)
    again = book.decide(notice)
    assert again is not None and again.action == "suppress" and again.repeats == 1


def test_a_failed_sweep_publish_is_not_recorded_and_new_findings_are_news(
    ledger: tuple[Ledger, FakeClock],
) -> None:
    book, _ = ledger
    notice = _sweep(GONE)
    first = book.decide(notice)
    assert first is not None
    book.finished(notice, first, None, "RuntimeError: topic unreachable")
    retry = book.decide(notice)
    assert retry is not None and retry.action == "publish"
    book.finished(notice, retry, "msg-1", None)

    wider = book.decide(_sweep(GONE, TRAIL))
    assert wider is not None and wider.action == "publish" and "differ" in wider.reason


def test_a_clean_sweep_forgets_the_findings(ledger: tuple[Ledger, FakeClock]) -> None:
    book, _ = ledger
    notice = _sweep(GONE, errors=("bucket x: AccessDenied",))
    first = book.decide(notice)
    assert first is not None
    book.finished(notice, first, "msg-1", None)
    stored = book.store.get(*sweep_key(ACCOUNT, REGION))
    assert stored is not None and stored["fingerprint"] == fingerprint(notice.findings())

    assert book.decide(_sweep()) is None
    assert book.store.get(*sweep_key(ACCOUNT, REGION)) is None
    back = book.decide(notice)
    assert back is not None and back.action == "publish"


# -- authenticated state: the records that gate a message are signed (issue 9) ----------------------


@pytest.fixture
def signed(ledger: tuple[Ledger, FakeClock]) -> tuple[Ledger, FakeClock]:
    """The ledger with the stack's state key (a real HMAC_256 key in moto's KMS)."""
    _, clock = ledger
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
    return Ledger(StateStore(TABLE, REGION), clock=clock, mac=DerivedMac(key, REGION)), clock


def _forge(pk: str, sk: str, doc: dict[str, Any]) -> None:
    """What an attacker with dynamodb:PutItem on the table writes: a plain item, no MAC."""
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": pk},
            "sk": {"S": sk},
            "doc": {"S": json.dumps(doc)},
            "expires_at": {"N": str(int(time.time()) + 86400 * 30)},
        },
    )


def _forged_burst(incident: Incident, clock: FakeClock, **extra: dict[str, str]) -> tuple[str, str]:
    """What an attacker with dynamodb:PutItem writes where the incident's burst is kept: no MAC."""
    pk, sk = burst_key(incident)
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": pk},
            "sk": {"S": sk},
            "doc": {
                "S": json.dumps(
                    {"opened_at": clock(), "row": "x", "told": "remediated", "kind": "cloudtrail"}
                )
            },
            "count": {"N": "1"},
            "reported": {"N": "1"},
            "closed": {"N": "0"},
            "last_at": {"N": str(clock())},
            "last": {"S": f"e_x|{clock():.3f}|remediated|"},
            "expires_at": {"N": str(int(time.time()) + 86400 * 30)},
            **extra,
        },
    )
    return pk, sk


def test_a_forged_already_seen_record_does_not_suppress_the_alert(signed: tuple[Ledger, FakeClock]) -> None:
    book, clock = signed
    incident = _incident(_stop(7))
    stamp = f"{event_attribute(event_key(incident))}|{clock():.3f}|remediated|"
    pk, sk = _forged_burst(incident, clock, **{event_attribute(event_key(incident)): {"S": stamp}})

    decision = book.decide(incident)

    assert decision.action == "publish"
    assert TAMPERED in decision.reason and f"pk={pk} sk={sk}" in decision.reason
    stored = book.store.get_item(pk, sk)  # the forged item was replaced by trailguard's own, signed
    assert stored is not None and stored.attributes.get(MAC_ATTRIBUTE)


def test_a_forged_open_burst_does_not_fold_a_new_incident_into_a_count(
    signed: tuple[Ledger, FakeClock],
) -> None:
    book, clock = signed
    incident = _incident(_stop(8))
    _forged_burst(incident, clock)

    decision = book.decide(incident)

    assert decision.action == "publish" and TAMPERED in decision.reason
    assert decision.row != "x"


def test_a_forged_sweep_record_does_not_quiet_the_sweep_message(signed: tuple[Ledger, FakeClock]) -> None:
    book, clock = signed
    notice = _sweep(GONE)
    doc = {"fingerprint": fingerprint(notice.findings()), "first_at": clock(), "alerted_at": clock()}
    _forge(*sweep_key(ACCOUNT, REGION), doc)

    decision = book.decide(notice)

    assert decision is not None and decision.action == "publish" and TAMPERED in decision.reason


def test_signed_records_still_deduplicate_and_fold_a_storm(signed: tuple[Ledger, FakeClock]) -> None:
    book, clock = signed
    incident = _incident(_stop(1))
    first = book.decide(incident)
    book.finished(incident, first, "msg-1", None)
    assert first.action == "publish" and book.decide(incident).action == "suppress"  # redelivery
    clock.advance(10)
    assert book.decide(_incident(_stop(2))).action == "suppress"  # a repeat in the burst
    assert book.tampered == []


def _kms_calls(book: Ledger) -> list[str]:
    """The KMS operations the ledger's key makes from now on (botocore's own before-call event)."""
    calls: list[str] = []
    assert book.mac is not None
    book.mac._client.meta.events.register(
        "before-call.kms", lambda model, **_: calls.append(model.name), unique_id="ledger-kms-count"
    )
    return calls


def _finding_about(trail: str, record: Record) -> Incident:
    verdict = Verdict("tamper", "finding.trail-disabled", trail, None, "x.", record)
    outcome = Outcome("trail.reconcile", trail, "remediated", "ok", verified=True)
    return Incident(verdict, record, "finding", REGION, outcome=outcome)


def test_the_signed_ledger_derives_its_key_once_and_then_calls_kms_no_more(
    signed: tuple[Ledger, FakeClock],
) -> None:
    """One GenerateMac per process (the derived key); every decision after it signs and verifies
    locally: first incident, redelivery, repeat and the finding folded into the call's burst."""
    book, clock = signed
    DerivedMac.forget()
    (finding,) = records_from_object(event(FINDING))
    trail = str(finding.finding_trail)
    call = _stop(1, requestParameters={"name": trail}, recipientAccountId=finding.account_id)
    calls = _kms_calls(book)
    incident = _incident(call, resource=trail)
    decided = [book.decide(incident)]
    assert calls == ["GenerateMac"]
    decided.append(book.decide(incident))
    clock.advance(10)
    repeat = _stop(2, requestParameters={"name": trail}, recipientAccountId=finding.account_id)
    decided.append(book.decide(_incident(repeat, trail)))
    clock.advance(60)
    decided.append(book.decide(_finding_about(trail, finding)))
    assert [d.action for d in decided] == ["publish", "suppress", "suppress", "suppress"]
    assert calls == ["GenerateMac"]
    assert book.tampered == []
    DerivedMac.forget()  # a fresh process verifies the records with one derivation of their nonce
    fresh = Ledger(StateStore(TABLE, REGION), clock=clock, mac=DerivedMac(str(book.mac.key_id), REGION))
    calls.clear()  # the same cached client: the hook above still counts
    assert fresh.decide(incident).action == "suppress" and fresh.tampered == []
    assert calls.count("GenerateMac") == 2  # its own key for its stamp, and the writer's to verify


def _role_call(status: str) -> Incident:
    """One PutRolePolicy on the trail's delivery role: the guard-calls rule delivers it to both functions
    (the guard role's technique judges the same call), so both judge it at once."""
    raw = copy.deepcopy(event(STOP))
    raw.update(
        eventSource="iam.amazonaws.com",
        eventName="PutRolePolicy",
        requestParameters={"roleName": "trail-logs", "policyName": "p", "policyDocument": "{}"},
    )
    (record,) = records_from_object(raw)
    verdict = Verdict("tamper", "logs.delivery-role", "trail-logs", record.principal_arn, "x.", record)
    outcome = Outcome("logs.restore_delivery_role", "trail-logs", status, "s", verified=True)
    return Incident(verdict, record, "finding" if status == "already-restored" else "api_call", REGION,
                    outcome=outcome)  # fmt: skip


def test_a_guard_call_found_already_restored_lets_the_function_that_repaired_it_tell(
    ledger: tuple[Ledger, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both functions get the call; the one that finds its sibling's repair done waits the grace, so the
    one message says REPAIRED (the sibling's decision lands while it waits: CI saw ALREADY RESTORED)."""
    from trailguard.notify import ledger as ledger_module

    book, _ = ledger
    monkeypatch.setattr(ledger_module, "FINDING_GRACE_SECONDS", 2.0)
    sibling: list[Any] = []
    book.sleep = lambda seconds: sibling.append((seconds, book.decide(_role_call("remediated"))))
    late = book.decide(_role_call("already-restored"))
    ((waited, first),) = sibling
    assert waited == 2.0 and first.action == "publish"
    assert late.action == "suppress" and late.duplicate


def test_a_call_only_one_function_gets_decides_at_once_when_already_restored(
    ledger: tuple[Ledger, FakeClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trailguard.notify import ledger as ledger_module

    book, _ = ledger
    monkeypatch.setattr(ledger_module, "FINDING_GRACE_SECONDS", 2.0)
    book.sleep = lambda seconds: pytest.fail("no other function judges a key policy call")
    record = _stop(7, eventSource="kms.amazonaws.com", eventName="PutKeyPolicy")
    verdict = Verdict("tamper", "key.policy-change", "k", record.principal_arn, "x.", record)
    outcome = Outcome("key.restore_policy", "k", "already-restored", "s", verified=True)
    incident = Incident(verdict, record, "api_call", REGION, outcome=outcome)
    assert book.decide(incident).action == "publish"


# -- storms: a redelivered repeat is counted once, and the burst item does not grow with the storm ----


def _burst_item(incident: Incident) -> dict[str, Any]:
    pk, sk = burst_key(incident)
    got = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )
    item: dict[str, Any] = got["Item"]
    return item


def test_a_redelivered_repeat_is_a_duplicate_and_counted_once(signed: tuple[Ledger, FakeClock]) -> None:
    book, clock = signed
    assert book.decide(_incident(_stop(0))).action == "publish"
    clock.advance(1)
    repeat = _incident(_stop(1))
    assert book.decide(repeat).action == "suppress"
    clock.advance(DEDUP_SECONDS - 1)  # still within the dedup window of its delivery

    again = book.decide(repeat)

    assert again.action == "suppress" and again.duplicate, again
    assert _burst_item(repeat)["count"] == {"N": "2"}  # the first and one repeat, not two
    assert book.tampered == []


def test_a_redelivered_repeat_whose_repair_needs_a_person_keeps_its_signed_stamp(
    signed: tuple[Ledger, FakeClock],
) -> None:
    book, clock = signed
    assert book.decide(_incident(_stop(0))).action == "publish"
    bad = _incident(_stop(1))
    assert bad.outcome is not None
    bad.outcome.status = "failed"
    assert book.decide(bad).action == "publish"  # a repeat whose repair needs a person: told
    clock.advance(DEDUP_SECONDS * 10)  # long after the rotating sets forgot it; the burst still live

    again = book.decide(bad)

    assert again.action == "suppress" and again.duplicate, again


def test_a_long_storm_keeps_its_burst_item_small_and_counts_every_call(
    ledger: tuple[Ledger, FakeClock],
) -> None:
    """300 calls, two a second: every one counted, the item holding the digests of two dedup periods at
    most, and the follow-up telling 299 more."""
    book, clock = ledger
    sizes = []
    for n in range(300):
        assert book.decide(_incident(_stop(n))).action == ("publish" if n == 0 else "suppress")
        clock.advance(0.5)
        if n % 50 == 49:
            item = _burst_item(_incident(_stop(n)))
            sizes.append(sum(len(item.get(slot, {}).get("SS", [])) for slot in ("d0", "d1", "d2")))
            assert item["count"] == {"N": str(n + 1)}
    assert max(sizes) <= 3 * DEDUP_SECONDS * 2, sizes  # three periods' worth at two calls a second
    assert len(_burst_item(_incident(_stop(0)))) < 30  # one stamp (the first's), not one per call
    clock.advance(BURST_QUIET_SECONDS)
    ((_, final),) = book.close_bursts(REGION)
    assert final.more == 299


def _update_returns(book: Ledger) -> list[str]:
    """What each UpdateItem the ledger makes from now on asks back (``ReturnValues``)."""
    asked: list[str] = []
    book.store._client.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem",
        lambda params, **_: asked.append(params.get("ReturnValues")),
        unique_id="ledger-returns",
    )
    return asked


def test_a_warm_repeat_is_one_write_that_brings_nothing_back(signed: tuple[Ledger, FakeClock]) -> None:
    book, clock = signed
    forget_bursts()  # a fresh process
    assert book.decide(_incident(_stop(0))).action == "publish"
    asked = _update_returns(book)
    for n in range(1, 4):
        clock.advance(1)
        assert book.decide(_incident(_stop(n))).action == "suppress"
    assert asked == ["NONE"] * 3  # the process wrote the burst and verified its document itself
    assert _burst_item(_incident(_stop(0)))["count"] == {"N": "4"}


def test_a_rewritten_burst_document_sends_a_warm_repeat_the_full_way(
    signed: tuple[Ledger, FakeClock],
) -> None:
    """The attacker rewrites the burst's document (its MAC no longer the one this process verified): the
    quick write's condition fails, the full one reads the item, and the forged document is news."""
    book, clock = signed
    forget_bursts()  # a fresh process
    assert book.decide(_incident(_stop(0))).action == "publish"
    pk, sk = burst_key(_incident(_stop(0)))
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, UpdateExpression="SET #m = :m",
        ExpressionAttributeNames={"#m": MAC_ATTRIBUTE}, ExpressionAttributeValues={":m": {"S": "forged"}},
    )  # fmt: skip
    asked = _update_returns(book)
    clock.advance(1)

    decision = book.decide(_incident(_stop(1)))

    assert asked == ["NONE", "ALL_NEW"]
    assert decision.action == "publish" and TAMPERED in decision.reason
