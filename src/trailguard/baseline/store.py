"""Baselines in the state table: ``pk = "baseline#<kind>"``, ``sk = <id>`` (ids as each kind parses them).

Each baseline is signed when written and verified when read (:mod:`trailguard.integrity`) once the stack's
state key is configured: a baseline that fails verification reads as absent and is listed in
:attr:`Baselines.tampered`, so nothing is restored from it and the sweep says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trailguard.config import Config
from trailguard.integrity import Mac, SignedStore, Tampered
from trailguard.resources import BASELINE_KINDS
from trailguard.resources import kind as kind_of
from trailguard.resources import trail as trail_kind
from trailguard.state import StateStore

KINDS = BASELINE_KINDS
"""The kinds a baseline is kept for, in report order (what ``trailguard baseline`` iterates)."""


@dataclass
class Baselines:
    """Baselines in the state table; a store of None reads as "no baseline recorded" for everything."""

    store: StateStore | None
    mac: Mac | None = None
    _cache: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)
    _signed: SignedStore | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.store is not None:
            self._signed = SignedStore(self.store, self.mac)

    @property
    def signed(self) -> SignedStore | None:
        """The signing view of the table (None without one): other records trailguard acts on use it too."""
        return self._signed

    @property
    def tampered(self) -> list[Tampered]:
        """Every baseline read so far that failed verification (not applied)."""
        return list(self._signed.tampered) if self._signed is not None else []

    @property
    def authenticated(self) -> bool:
        """True when baselines are signed and verified (the stack's state key is configured)."""
        return self.mac is not None

    @classmethod
    def from_config(
        cls,
        config: Config,
        region: str | None = None,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> Baselines:
        if not config.state_table:
            return cls(None)
        mac = (
            Mac(config.state_key, region, profile=profile, endpoint_url=endpoint_url)
            if config.state_key
            else None
        )
        return cls(StateStore(config.state_table, region, profile=profile, endpoint_url=endpoint_url), mac)

    @property
    def available(self) -> bool:
        return self.store is not None

    @staticmethod
    def normalise(kind: str, ident: str) -> str:
        """Ids as stored, by each kind's own parser (key ARNs become key ids, a function ARN its name)."""
        if kind not in BASELINE_KINDS:
            raise ValueError(f"unknown baseline kind {kind!r} (one of {', '.join(BASELINE_KINDS)})")
        return kind_of(kind).ident(ident)

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        """The baseline of one resource, or None when none is recorded (or no table is configured)."""
        if self._signed is None or not ident:
            return None
        ident = self.normalise(kind, ident)
        if kind in self._cache:
            return self._cache[kind].get(ident)
        return self._signed.get(f"baseline#{kind}", ident)

    def put(self, kind: str, ident: str, doc: Mapping[str, Any]) -> None:
        if self._signed is None:
            raise RuntimeError("no state table is configured, so no baseline can be recorded")
        ident = self.normalise(kind, ident)
        self._signed.put(f"baseline#{kind}", ident, dict(doc))
        self._cache.pop(kind, None)

    def delete(self, kind: str, ident: str) -> None:
        if self._signed is None:
            raise RuntimeError("no state table is configured, so no baseline can be removed")
        self._signed.delete(f"baseline#{kind}", self.normalise(kind, ident))
        self._cache.pop(kind, None)

    def is_tampered(self, kind: str, ident: str) -> bool:
        """A record exists under this id but failed verification (so it is neither applied nor "new")."""
        pk = f"baseline#{kind}"
        return any(t.pk == pk and t.sk == ident for t in self.tampered)

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every baseline of one kind, id -> document (read once per instance)."""
        if self._signed is None:
            return {}
        if kind not in self._cache:
            self.normalise(kind, "-")
            self._cache[kind] = self._signed.query(f"baseline#{kind}")
        return self._cache[kind]

    def all(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every baseline: kind -> id -> document."""
        return {kind: self.of_kind(kind) for kind in BASELINE_KINDS}

    def trail(self, ref: str) -> dict[str, Any] | None:
        """The trail baseline ``ref`` names (ARN, or name when only one trail of that name is known),
        through the one trail resolver (a repair must not guess between two)."""
        if self.store is None or not ref:
            return None
        trails = self.of_kind("trail")
        if ref in trails:
            return trails[ref]
        found = trail_kind.resolve(trails.values(), ref, unique=True)
        return dict(found) if found is not None else None
