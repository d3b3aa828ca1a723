"""Fixtures of the deploy tests: the template as CloudFormation reads it, and the stack deployed on
in-process moto (``moto_aws`` of tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "template" / "trailguard.yaml"
STACK = "tg-test"


@pytest.fixture(scope="session")
def template_path() -> Path:
    """The committed template (not :func:`trailguard.deploy.template_source`, which is under test)."""
    return TEMPLATE


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The template as CloudFormation reads it (intrinsic tags become Fn:: mappings)."""
    from cfnlint.decode import decode_str

    decoded, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches, [str(m) for m in matches]
    assert decoded is not None
    return dict(decoded)


@pytest.fixture(scope="session")
def rule_pattern(template: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    """``rule_pattern("ApiCallRule")``: the rule's EventPattern as plain JSON, as EventBridge receives it."""

    def get(logical_id: str) -> dict[str, Any]:
        pattern: dict[str, Any] = json.loads(
            json.dumps(template["Resources"][logical_id]["Properties"]["EventPattern"])
        )
        return pattern

    return get
