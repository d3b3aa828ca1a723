"""trailguard's Lambda functions."""

from __future__ import annotations

from trailguard.resources import function


def test_name_of_every_form() -> None:
    for ref in ("f", "f:live", "123:function:f", "function:f", "arn:aws:lambda:us-east-1:123:function:f:1"):
        assert function.name_of(ref) == "f", ref


def test_kind_facts() -> None:
    assert function.KIND.is_gone("ResourceNotFoundException")
    assert function.KIND.label("tg-api-call") == "function tg-api-call"
    assert "CodeSha256" in function.FIELDS
