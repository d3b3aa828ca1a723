"""The emails a responder receives for real records, compared with reviewed golden files.

Each case runs the real handler against moto (so the repair lines are what trailguard really did), reads
the message back from the topic's SQS subscriber and compares subject + body with
``tests/notify/golden/<case>.txt``. The detection time is pinned (``notify.notice._now``); nothing else
varies.

To regenerate after an intended change: ``TRAILGUARD_UPDATE_GOLDEN=1 .venv/bin/pytest tests/notify`` and
review the diff as a reader at 3 a.m. would (``git diff tests/notify/golden``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from aws_support import stack_allowing
from trailguard import handlers
from trailguard.notify import Message, delivery

from .conftest import REGION, Cloud, event, records

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TRAILGUARD_UPDATE_GOLDEN") == "1"

# case -> (event file, handler, create the trail stopped?, allow-list the caller?)
CASES: dict[str, tuple[str, str, bool, bool]] = {
    "stoplogging_stratus": ("tamper/cloudtrail_stoplogging_stratus.json", "api_call", True, False),
    "stoplogging_assumedrole_panther": (
        "tamper/cloudtrail_stoplogging_assumedrole_panther.json",
        "api_call",
        True,
        False,
    ),
    "deletetrail_cli_elastic": ("tamper/cloudtrail_deletetrail_cli_elastic.json", "api_call", False, False),
    "attempt_stoplogging_invalidtrailname_panther": (
        "failed-tamper/cloudtrail_stoplogging_invalidtrailname_panther.json",
        "api_call",
        True,
        False,
    ),
    "authorised_stoplogging_assumedrole_panther": (
        "tamper/cloudtrail_stoplogging_assumedrole_panther.json",
        "api_call",
        True,
        True,
    ),
    "securityhub_finding_awssamples": (
        "findings/securityhub_imported_guardduty_cloudtrailloggingdisabled_awssamples.json",
        "finding",
        True,
        False,
    ),
}


def _run(cloud: Cloud, case: str) -> dict[str, Any]:
    path, handler, stopped, allowed = CASES[case]
    (record,) = [r for r in records(path) if r.kind == "cloudtrail" or r.is_trail_disabled_finding]
    if stopped:
        cloud.trail_for(record)
    # the allow-list trailguard trusts is the stack's parameter (trailguard.allowlist)
    extra = (  # both, as the template sets them: the stack's list is read for a caller the variable names
        {
            "TRAILGUARD_STACK_NAME": stack_allowing(str(record.issuer_arn), REGION),
            "TRAILGUARD_ALLOWED_PRINCIPAL_ARNS": str(record.issuer_arn),
        }
        if allowed
        else {}
    )
    cloud.invoke(getattr(handlers, handler), event(path), REGION, **extra)
    (message,) = cloud.messages()
    return message


def _check(name: str, actual: str) -> None:
    golden = GOLDEN / name
    if UPDATE or not golden.exists():
        if not UPDATE:
            pytest.fail(f"{golden} is missing: run with TRAILGUARD_UPDATE_GOLDEN=1 and review it")
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8"), f"{name} changed; see the module docstring"


@pytest.mark.parametrize("case", sorted(CASES))
def test_email_matches_the_reviewed_golden_file(cloud: Cloud, case: str) -> None:
    message = _run(cloud, case)
    _check(f"{case}.txt", f"Subject: {message['_sns_subject']}\n\n{message['text']}")


def test_chat_card_matches_the_reviewed_golden_file(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """What Slack / Teams show through AWS Chatbot: the ``https`` body of the published message."""
    published: list[dict[str, Any]] = []
    real = delivery.publish

    def capture(message: Message, topic_arn: str | None) -> str:
        published.append(json.loads(message.sns_payload()))
        return real(message, topic_arn)

    monkeypatch.setattr(delivery, "publish", capture)
    message = _run(cloud, "stoplogging_stratus")

    (payload,) = published
    assert payload["email"] == message["text"]
    card = json.loads(payload["https"])
    assert json.loads(card["metadata"]["additionalContext"].pop("incident")) == message["incident"]
    _check("stoplogging_stratus.chat.json", json.dumps(card, indent=2) + "\n")
