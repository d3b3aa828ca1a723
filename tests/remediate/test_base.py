"""The action core: one way to finish an outcome, typed "gone" errors, shared helpers, discovery."""

from __future__ import annotations

import pkgutil
from typing import Any

import pytest

from trailguard import remediate
from trailguard.policy import TECHNIQUES, Verdict
from trailguard.remediate import ACTIONS, Gone, Outcome, RepairRequest
from trailguard.remediate.base import policy_json, squash
from trailguard.resources import bucket, trail


class _ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code, "Message": "m"}}


def test_finish_one_status_and_one_sentence() -> None:
    done = Outcome("x").finish("rule r", ["re-enabled rule r"], [], "it is ENABLED")
    assert (done.status, done.verified) == ("remediated", True)
    assert done.summary == "re-enabled rule r; verified that it is ENABLED"
    same = Outcome("x").finish("rule r", [], [], "")
    assert same.status == "already-restored"
    assert same.summary == "rule r already matched its baseline when trailguard checked; nothing changed"
    off = Outcome("x").finish("rule r", ["a"], ["b"], "")
    assert (off.status, off.summary) == ("failed", "a; STILL OFF: b")
    refused = Outcome("x").finish("trail t", [], [], "", ok=False)
    assert (refused.status, refused.summary) == ("failed", "could not restore trail t")
    follow = {"follow_up": "Review the findings", "unchanged": "no rule hides it; nothing changed"}
    assert (
        Outcome("x").finish("rule r", ["a"], [], "v", **follow).summary
        == "a; verified that v. Review the findings"
    )
    assert Outcome("x").finish("rule r", [], [], "", **follow).summary == "no rule hides it; nothing changed"
    assert Outcome("x").finish("rule r", ["a"], ["b"], "", **follow).summary == "a; STILL OFF: b"


def test_pages_follows_next_token_with_one_recorded_call_a_page(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {None: {"Names": ["a", "b"], "NextToken": "2"}, "2": {"Names": ["c"]}}
    asked: list[Any] = []

    class Client:
        def list_filters(self, **params: Any) -> Any:
            asked.append(params.get("NextToken"))
            return pages[params.get("NextToken")]

    monkeypatch.setattr(remediate.base.aws, "client", lambda *a, **k: Client())
    outcome = Outcome("x")
    assert outcome.pages("guardduty", "us-east-1", "ListFilters", "Names", DetectorId="d") == ["a", "b", "c"]
    assert asked == [None, "2"]
    assert [(c.operation, c.params) for c in outcome.calls] == [
        ("ListFilters", {"DetectorId": "d"}),
        ("ListFilters", {"DetectorId": "d", "NextToken": "2"}),
    ]


def test_a_call_that_meets_a_gone_code_raises_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    class Client:
        def get_bucket_policy(self, **_: Any) -> Any:
            raise _ClientError("NoSuchBucket")

        def get_trail_status(self, **_: Any) -> Any:
            raise _ClientError("NoSuchBucket")

    monkeypatch.setattr(remediate.base.aws, "client", lambda *a, **k: Client())
    outcome = Outcome("x")
    with pytest.raises(Gone) as raised:
        outcome.call("s3", "us-east-1", "GetBucketPolicy", gone=bucket.KIND, Bucket="b")
    assert raised.value.kind is bucket.KIND and remediate.error_code(raised.value) == "NoSuchBucket"
    assert outcome.calls[-1].error == "NoSuchBucket: m"
    with pytest.raises(_ClientError):  # another kind's codes do not make it gone
        outcome.call("cloudtrail", "us-east-1", "GetTrailStatus", gone=trail.KIND, Name="t")


def test_shared_helpers() -> None:
    assert squash({"a": "", "b": None, "c": [], "d": {"e": 1, "f": {}}}) == {"d": {"e": 1}}
    assert squash({"a": ""}, blank_strings=False) == {"a": ""}
    assert policy_json('{"Version": "2012-10-17"}') == {"Version": "2012-10-17"}
    assert policy_json("  ") is None
    assert policy_json("not json") == "not json"
    with pytest.raises(ValueError):
        policy_json("not json", strict=True)


def test_every_action_module_is_discovered_and_declares_its_kind() -> None:
    modules = {m.name for m in pkgutil.iter_modules(remediate.__path__)} - {"base", "floors"}
    assert {name.split(".")[0] for name in ACTIONS} >= {"trail", "bucket", "key", "lake", "guard"}
    assert {a.function.__module__.rsplit(".", 1)[-1] for a in ACTIONS.values() if a.function} == modules
    assert all(a.restores is not None and a.permissions for a in ACTIONS.values())


def test_a_sweep_request_has_no_record() -> None:
    request = RepairRequest(bucket.KIND, "logs", "backstop", {"Name": "logs"})
    assert request.record is None and request.baseline == {"Name": "logs"}
    assert remediate.base.target(request, "bucketName") == "logs"


def test_a_request_from_a_verdict_names_its_technique_by_id() -> None:
    verdict = Verdict("tamper", TECHNIQUES["trail.stop-logging"], "my-trail", None, "stops logging.")
    request = RepairRequest.of_verdict(verdict, trail.KIND)
    assert (request.technique, request.ident, request.kind) == ("trail.stop-logging", "my-trail", trail.KIND)


def test_an_outcome_concludes_through_one_of_its_named_endings() -> None:
    assert (Outcome("a").repaired("did it").status, Outcome("a").repaired("x").verified) == (
        "remediated",
        True,
    )
    unchanged = Outcome("a").unchanged("already fine")
    assert (unchanged.status, unchanged.verified, unchanged.summary) == (
        "already-restored",
        True,
        "already fine",
    )
    failed = Outcome("a").fail("could not", "AccessDenied")
    assert (failed.status, failed.verified, failed.errors) == ("failed", False, ["AccessDenied"])
