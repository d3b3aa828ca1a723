"""CloudTrail ``PutEventSelectors`` for the local cloud: classic and advanced selectors replace each other.

On AWS a trail uses either classic ``EventSelectors`` or ``AdvancedEventSelectors``, never both: putting
one kind overwrites the other, and a request with both fails with ``InvalidParameterCombinationException``
(CloudTrail API reference, PutEventSelectors). moto (5.2) keeps the advanced selectors beside classic
ones put afterwards, so a trail whose advanced selectors an attacker set (to drop management events) still
reports them after trailguard restores its classic baseline, and the repair can never verify on the local
cloud although it would on AWS (issue 10, "Event selectors").

While a :class:`~trailguard.local.server.LocalCloud` runs, :func:`install` replaces
``moto.cloudtrail.models.Trail.put_event_selectors`` with :func:`put_event_selectors`, which behaves as
AWS does; :func:`uninstall` (``LocalCloud.stop()``) puts moto's own method back. If moto ever clears the
other kind itself, the patch still agrees with it. The in-process moto of the unit tests applies the
same patch (:func:`patched`, in ``tests/aws_support.in_moto``), so a repair is judged there against the
behaviour of AWS too. Installs are counted: moto's method comes back when the last user uninstalls (a
test may run a local cloud inside in-process moto).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _State:
    original: Any = None
    users = 0
    lock = threading.Lock()


def put_event_selectors(
    trail: Any,
    event_selectors: list[dict[str, Any]] | None,
    advanced_event_selectors: list[dict[str, Any]] | None,
) -> None:
    """``Trail.put_event_selectors`` as AWS behaves: exactly one kind is kept, the other is cleared
    (classic selectors given as an empty list still replace advanced ones)."""
    from moto.cloudtrail.exceptions import InvalidParameterCombinationException

    if event_selectors and advanced_event_selectors:
        raise InvalidParameterCombinationException(
            "You cannot specify both EventSelectors and AdvancedEventSelectors in a PutEventSelectors "
            "request. Use AdvancedEventSelectors."
        )
    if advanced_event_selectors:
        trail.advanced_event_selectors = list(advanced_event_selectors)
        trail.event_selectors = []
    elif event_selectors is not None:
        trail.event_selectors = list(event_selectors)
        trail.advanced_event_selectors = []
    else:
        raise InvalidParameterCombinationException(
            "A PutEventSelectors request must specify EventSelectors or AdvancedEventSelectors."
        )


def install() -> None:
    """Make moto's trails keep one kind of event selector, as AWS does (one more user of the patch)."""
    from moto.cloudtrail.models import Trail

    with _State.lock:
        _State.users += 1
        if _State.original is not None:
            return
        _State.original = Trail.put_event_selectors
        setattr(Trail, "put_event_selectors", put_event_selectors)  # noqa: B010


def uninstall() -> None:
    """One user fewer: the last one's :func:`install` is undone, leaving moto as found."""
    from moto.cloudtrail.models import Trail

    with _State.lock:
        _State.users = max(0, _State.users - 1)
        if _State.original is None or _State.users:
            return
        setattr(Trail, "put_event_selectors", _State.original)  # noqa: B010
        _State.original = None


@contextmanager
def patched() -> Iterator[None]:
    """The patch installed for the ``with`` block (the unit tests' in-process moto)."""
    install()
    try:
        yield
    finally:
        uninstall()


def installed() -> bool:
    return _State.original is not None
