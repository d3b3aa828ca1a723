"""``OrgTrailRole`` in the configuration trailguard rebuilds from outside a stack and records signed.

The template passes the parameter to both functions as ``TRAILGUARD_ORG_TRAIL_ROLE``; a command that
cannot read the function's environment (``trailguard deploy``'s baseline step, ``baseline record``,
``audit``) rebuilds the Config from the stack's outputs and parameters, and the config item it signs
records the role beside the other values trailguard trusts about its stack.
"""

from __future__ import annotations

from typing import Any

import pytest

from trailguard.baseline import deployed
from trailguard.config import Config
from trailguard.deploy.config import config_from_stack

OUTPUTS = {
    "TopicArn": "arn:aws:sns:us-east-1:111111111111:tg-alerts",
    "StateTableName": "tg-state",
    "ApiCallFunctionName": "tg-api-call",
    "FindingFunctionName": "tg-finding",
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [("member", "member"), ("delegated-admin", "delegated-admin"), ("owner", "owner"), (None, "owner")],
)
def test_a_config_rebuilt_from_the_stack_carries_its_org_trail_role(given: str | None, expected: str) -> None:
    parameters = {"OrgTrailRole": given} if given is not None else {}
    assert config_from_stack(OUTPUTS, parameters).org_trail_role == expected


def test_an_unreadable_function_falls_back_to_the_parameter_not_owner(moto_aws: dict[str, str]) -> None:
    """The function does not exist (moto answers ResourceNotFound), so the parameters decide: a member
    stack stays a member, which only verifies organization trails."""
    config = config_from_stack(OUTPUTS, {"OrgTrailRole": "member"}, region="us-east-1")
    assert config.org_trail_role == "member"


def test_the_signed_config_item_records_the_role_and_reads_it_back() -> None:
    config = Config(topic_arn=OUTPUTS["TopicArn"], state_table="tg-state", org_trail_role="member")
    doc = deployed.build(config, region="us-east-1", account="111111111111", alert_endpoints=[])
    assert doc["org_trail_role"] == "member"
    assert deployed.parse(doc, "verified").org_trail_role == "member"
    older: dict[str, Any] = {k: v for k, v in doc.items() if k != "org_trail_role"}
    assert deployed.parse(older, "verified").org_trail_role is None
