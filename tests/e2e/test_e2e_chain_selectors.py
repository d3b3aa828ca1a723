"""The red team's three advanced-selector attacks (issue 10) on the local cloud, end to end: ``trailguard
emulator`` as a subprocess, the real AWS CLI as the IAM user ``attacker`` putting advanced event selectors
that keep only data events, exclude ``kms``/``rdsdata``, or keep only read events, each on the protected
trail whose baseline holds classic selectors. Each must come back to exactly the baseline, checked with
``get-event-selectors`` through the real AWS CLI (classic selectors as recorded, no advanced ones left),
with one email naming the attacker and the technique.

moto keeps advanced selectors beside classic ones put afterwards; AWS replaces them. The local cloud's
patch (``trailguard.local.cloudtrail_patch``, docs/local-cloud.md) makes moto behave as AWS, which is what
lets the repair verify here; before it, all three ended "[ACTION REQUIRED] REPAIR FAILED".

Each attack runs on a fresh emulator (see the ``e`` fixture) and so pays the function's cold start: the
bound is generous (5 s, or ``TRAILGUARD_E2E_BOUND`` when a loaded machine needs more); the other e2e files
measure the 2-second one on warm functions.

The same module also changes the trail's CloudWatch Logs delivery role (``logs.delivery-role``) with the
real AWS CLI: its inline policy overwritten with a Deny, and its trust policy rewritten, each put back
from the role's baseline and read back with ``aws iam``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from emulator_support import ATTACKER, aws_cli, eventually, running_emulator

from selector_attacks import RED_TEAM_SELECTORS

pytestmark = pytest.mark.e2e

BOUND = float(os.environ.get("TRAILGUARD_E2E_BOUND", "5.0"))
ATTACKS = RED_TEAM_SELECTORS


@dataclass
class Emulator:
    ready: dict[str, Any]
    outbox: Path
    seen: set[str] = field(default_factory=set)
    baseline: dict[str, Any] = field(default_factory=dict)

    def cli(self, *args: str, key: dict[str, str] | None = None) -> Any:
        """The real AWS CLI (as the attacker unless ``key``), its JSON answer."""
        result = aws_cli(self.ready, key or self.ready["attacker"], *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else None

    def warm_up(self) -> None:
        """Another family's attack first (the trail's log group retention cut to 1 day), waited for until
        repaired and mailed: the function's cold start and its first incident's clients (ledger, KMS,
        SNS, Security Hub: seconds on a loaded machine) are then paid before the attack the bound
        measures, as on AWS after the first incident."""
        group = str(self.ready["trail"]["log_group"])
        self.cli("logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "1")
        eventually(lambda: self.new_emails("PutRetentionPolicy", ATTACKER), 120.0, "the warm-up's email")

    def selectors(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.cli("cloudtrail", "get-event-selectors", "--trail-name", self.trail)
        return {k: answer.get(k) or [] for k in ("EventSelectors", "AdvancedEventSelectors")}

    @property
    def trail(self) -> str:
        return str(self.ready["trail"]["name"])

    def new_emails(self, *needles: str) -> list[dict[str, Any]]:
        found = []
        for path in sorted(self.outbox.glob("*.json")):
            if path.name in self.seen:
                continue
            email: dict[str, Any] = json.loads(path.read_text())
            if all(n in f"{email['subject']}\n{email['body']}" for n in needles):
                found.append(email)
        return found


@pytest.fixture
def e(tmp_path: Path) -> Iterator[Emulator]:
    """A fresh emulator per attack: the ledger folds repeats of one technique on one resource within
    five quiet minutes into one burst (one email, a follow-up counting the rest), so three attacks in a
    row on one emulator would give one email, not one each."""
    with running_emulator(tmp_path) as run:
        made = Emulator(run.ready, run.outbox)
        made.baseline = made.selectors()
        assert made.baseline["EventSelectors"] and not made.baseline["AdvancedEventSelectors"]
        made.warm_up()
        time.sleep(0.3)
        made.seen = {p.name for p in made.outbox.glob("*.json")}
        yield made


@pytest.mark.parametrize("variant", sorted(ATTACKS))
def test_an_advanced_selector_attack_is_restored_to_the_classic_baseline(e: Emulator, variant: str) -> None:
    put = e.cli("cloudtrail", "put-event-selectors", "--trail-name", e.trail,
                "--advanced-event-selectors", json.dumps(ATTACKS[variant]))  # fmt: skip
    attacked = time.monotonic()
    assert put["AdvancedEventSelectors"] == ATTACKS[variant], "the attack took effect"  # (read-backs race)

    eventually(lambda: e.selectors() == e.baseline, BOUND, "get-event-selectors back at the baseline",
               retry_errors=True)  # fmt: skip
    (email,) = eventually(
        lambda: e.new_emails("PutEventSelectors", ATTACKER, "trail.selectors-degrade"),
        BOUND,
        "the email",
    )
    elapsed = time.monotonic() - attacked
    assert elapsed <= BOUND, f"restored and emailed {elapsed:.2f}s after the attack"
    assert "REPAIRED" in email["subject"] and "REPAIR FAILED" not in email["subject"], email["subject"]
    assert f"advanced [{ATTACKS[variant][0]['Name']}: " in email["body"], email["body"]  # before -> after
    time.sleep(1.0)  # a second email (a duplicate, or the finding's) would land within this
    assert len(e.new_emails("PutEventSelectors")) == 1
    assert e.selectors() == e.baseline


DENY = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "logs:*", "Resource": "*"}]}


def _role(e: Emulator) -> dict[str, Any]:
    name = str(e.ready["trail"]["delivery_role"])
    role = e.cli("iam", "get-role", "--role-name", name)["Role"]
    names = e.cli("iam", "list-role-policies", "--role-name", name)["PolicyNames"]
    inline = {
        n: e.cli("iam", "get-role-policy", "--role-name", name, "--policy-name", n)["PolicyDocument"]
        for n in names
    }
    return {"trust": role["AssumeRolePolicyDocument"], "inline": inline}


def _incidents(e: Emulator, event_name: str) -> list[dict[str, Any]]:
    lines = (e.outbox / "invocations.jsonl").read_text().splitlines()
    runs = [json.loads(line) for line in lines if line.strip()]
    return [
        i
        for r in runs
        for i in (r.get("result") or {}).get("incidents") or []
        if i["event_name"] == event_name
    ]


def test_the_delivery_roles_policy_and_trust_are_put_back(e: Emulator) -> None:
    name = str(e.ready["trail"]["delivery_role"])
    before = _role(e)
    (policy,) = before["inline"]
    e.cli("iam", "put-role-policy", "--role-name", name, "--policy-name", policy,
          "--policy-document", json.dumps(DENY))  # fmt: skip

    eventually(lambda: _role(e) == before, BOUND, "the delivery role's policy back", retry_errors=True)
    (email,) = eventually(
        lambda: e.new_emails("PutRolePolicy", ATTACKER, "logs.delivery-role"), BOUND, "email"
    )
    assert "REPAIRED" in email["subject"], email["subject"]
    assert "Deny logs:*" in email["body"], email["body"]

    # the trust rewritten too: restored; the same technique on the same role within the burst is
    # counted into the burst's follow-up rather than mailed again
    trust = json.dumps(
        {**before["trust"], "Statement": [{**before["trust"]["Statement"][0], "Effect": "Deny"}]}
    )
    e.cli("iam", "update-assume-role-policy", "--role-name", name, "--policy-document", trust)
    eventually(lambda: _role(e) == before, BOUND, "the delivery role's trust back", retry_errors=True)
    found = eventually(
        lambda: [i for i in _incidents(e, "UpdateAssumeRolePolicy") if i["status"] == "remediated"],
        BOUND,
        "judged",
    )
    assert all(i["principal"] == ATTACKER and i["verified"] for i in found), found
    time.sleep(1.0)
    # trailguard's own restoring calls came back as events too: judged its own, never incidents
    for event in ("PutRolePolicy", "UpdateAssumeRolePolicy"):
        assert {i["principal"] for i in _incidents(e, event)} == {ATTACKER}, _incidents(e, event)
    assert len(e.new_emails("logs.delivery-role")) == 1
