"""Fixtures of the policy tests; the inventories and builders live in ``policy_support``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from policy_support import raw_copy, rebuild

from trailguard.events import Record


@pytest.fixture
def modified() -> Callable[..., Record]:
    """``modified(relpath, params=..., **top_level)``: a real record with some fields replaced."""

    def build(relpath: str, params: Any = ..., **fields: Any) -> Record:
        raw = raw_copy(relpath)
        if params is not ...:
            raw["requestParameters"] = params
        raw.update(fields)
        return rebuild(raw)

    return build
