"""Text that every channel accepts, whatever an event carries.

A CloudTrail record is JSON, and JSON may hold a lone surrogate (``"\\ud800"``): Python reads it into a
``str`` that cannot be encoded as UTF-8, so ``urllib.parse.quote``, the SNS request and the SQS reader
all fail on it. Every string that reaches a message goes through :func:`clean` first (lone surrogates
become U+FFFD, the replacement character), so one bad character never costs the alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote as _quote

_SURROGATES = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean(value: Any) -> Any:
    """``value`` with every lone surrogate replaced, in strings, keys and nested lists and mappings."""
    if isinstance(value, str):
        return _SURROGATES.sub(REPLACEMENT, value)
    if isinstance(value, Mapping):
        return {clean(str(k)) if not isinstance(k, str) else clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def quote(value: str, safe: str = "") -> str:
    """``urllib.parse.quote`` that cannot fail on a lone surrogate."""
    return _quote(clean(value), safe=safe)
