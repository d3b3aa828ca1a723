"""Authenticated state: a MAC on every state-table record whose value trailguard acts on.

Anyone who can write the state table (one ``PutItem``; no rule sees DynamoDB data-plane writes) could
otherwise choose what trailguard "restores". So each such record carries a MAC made with the stack's HMAC
KMS key (``StateKey``: ``kms:GenerateMac`` only for trailguard's role and the principal that deployed the
stack, ``kms:VerifyMac`` on read), computed over the item's key and its exact document text:

    message = SHA-256( JSON [ "trailguard-state/1", pk, sk, doc_text ] )

(KMS takes at most 4096 bytes per ``GenerateMac``; a baseline may be larger, so the MAC is over the
digest.) The key (pk, sk) is inside the MAC, so a valid record cannot be moved to another resource or
another kind. A record that fails verification is never applied; :class:`Tampered` says which one and
why, for the ``[ACTION REQUIRED]`` "trailguard's state was tampered with" message.

What this does not stop (``docs/threat-model.md``): anyone allowed ``kms:GenerateMac`` on the key can sign
(the organization's SCP closes that); replaying an older record that was validly signed for the same
(pk, sk); deleting a record (a resource recorded at deploy whose baseline is missing is reported, one that
appeared later is baselined again as "first seen"); and rewriting the function's environment to name
another key (that change is itself watched and restored).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trailguard import aws
from trailguard.log import log_event
from trailguard.state import StateStore, StoredItem, dump

LOG = logging.getLogger(__name__)

VERSION = "trailguard-state/1"
ALGORITHM = "HMAC_SHA_256"
MAC_ATTRIBUTE = "mac"
KEY_ATTRIBUTE = "mac_key"
TAMPERED = "trailguard's state was tampered with"
"""The words every tamper report starts with (messages, log lines, tests)."""


def message(pk: str, sk: str, text: str) -> bytes:
    """What the MAC is computed over: the digest of the item's key and its exact document text."""
    framed = json.dumps([VERSION, pk, sk, text], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(framed.encode("ascii")).digest()


class UnverifiableError(Exception):
    """KMS could not answer (throttled, unreachable, access denied): not proof of tampering."""


@dataclass(frozen=True)
class Tampered:
    """One record that failed verification (or could not be verified) and was therefore not applied."""

    pk: str
    sk: str
    reason: str
    unverifiable: bool = False
    """True when KMS could not be asked: the record may be fine, but it is not applied either."""

    @property
    def item(self) -> str:
        return f"pk={self.pk} sk={self.sk}"

    def text(self) -> str:
        if self.unverifiable:
            return (
                f"trailguard's state could not be verified: item {self.item} ({self.reason}); it was not "
                "applied this time"
            )
        return (
            f"{TAMPERED}: item {self.item} failed verification ({self.reason}); it was not applied. "
            "Someone wrote the state table directly: find who in CloudTrail (DynamoDB data events) or "
            "the table's history, then re-record the baseline with trailguard baseline record"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"pk": self.pk, "sk": self.sk, "reason": self.reason, "unverifiable": self.unverifiable}


class Mac:
    """Sign and verify state records with the stack's HMAC KMS key."""

    def __init__(
        self,
        key_id: str,
        region: str | None = None,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        if not key_id:
            raise ValueError("Mac needs a KMS key id or ARN")
        self.key_id = key_id
        self.region = region or _region_of(key_id)
        self._profile = profile
        self._endpoint_url = endpoint_url

    @property
    def _client(self) -> Any:
        return aws.client("kms", self.region, profile=self._profile, endpoint_url=self._endpoint_url)

    def sign(self, pk: str, sk: str, text: str) -> str:
        """The record's MAC (base64). Raises what KMS raises: a record that cannot be signed is not
        written unsigned."""
        answer = self._client.generate_mac(
            KeyId=self.key_id, MacAlgorithm=ALGORITHM, Message=message(pk, sk, text)
        )
        return base64.b64encode(bytes(answer["Mac"])).decode("ascii")

    def verify(self, pk: str, sk: str, text: str, mac: str) -> bool:
        """True when ``mac`` is this key's MAC of the record; False when it is not (or is malformed);
        :class:`UnverifiableError` when KMS could not answer."""
        if mac.startswith(DERIVED_TAG + "."):  # signed with a derived key (DerivedMac): any reader verifies
            return DerivedMac(
                self.key_id, self.region, profile=self._profile, endpoint_url=self._endpoint_url
            ).verify(pk, sk, text, mac)
        try:
            raw = base64.b64decode(mac.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            return False
        if not raw:
            return False
        try:
            answer = self._client.verify_mac(
                KeyId=self.key_id, MacAlgorithm=ALGORITHM, Message=message(pk, sk, text), Mac=raw
            )
        except Exception as exc:
            if aws.error_code(exc) in ("KMSInvalidMacException", "KMSInvalidMac", "InvalidMacException"):
                return False
            raise UnverifiableError(f"{aws.error_code(exc) or type(exc).__name__}: {exc}") from exc
        return bool(answer.get("MacValid", True))


DERIVE_PREFIX = b"trailguard-derive-v1|"
"""What a derived key's ``GenerateMac`` message starts with. Record MACs are made over a 32-byte digest
(:func:`message`), a derivation over this prefix and a 32-character nonce (53 bytes): the two can never
be the same message, so no record MAC is ever a derived key and no derived key a record MAC."""
DERIVE_WAIT_SECONDS = 10.0
"""How long a signature or verification waits for a derivation another thread is making (the init's)."""
DERIVED_TAG = "k1"
"""A derived-key MAC is stored as ``k1.<nonce>.<base64 HMAC-SHA256>``; a bare base64 MAC is KMS's own."""


class DerivedMac(Mac):
    """Sign and verify with a key derived once per process from the stack's HMAC KMS key.

    ``K = GenerateMac(StateKey, "trailguard-derive-v1|" + nonce)`` for a random nonce chosen once per
    process (on Lambda during the function's init, :meth:`prepare`, so no event waits for it; else at
    the first signature); records are then signed locally, ``HMAC-SHA256(K, message(pk, sk,
    doc))``, and stored with the nonce (``k1.<nonce>.<mac>``). A verifier that meets a nonce it has not
    derived asks KMS once (the same ``GenerateMac``) and caches the key for the life of the process, so a
    warm function verifies and signs with no KMS call at all.

    Security is the KMS key's: without ``kms:GenerateMac`` on it nobody can compute K for any nonce, so a
    forged record (or a record with an invented nonce) fails verification. Whoever *can* call
    ``GenerateMac`` with the key can derive K too, exactly as they could sign records before; the SCP that
    reserves the key for trailguard's role closes both (docs/threat-model.md). A KMS failure while
    deriving for verification is :class:`UnverifiableError`, never a pass; records signed by KMS itself
    (a bare base64 MAC: baselines recorded by ``trailguard deploy``) are verified with ``VerifyMac``.

    Why the first event's ledger write cannot be signed some other way without this call: the only
    secret a fresh process holds without asking anyone is its role's session credentials, which no other
    process (the sibling function, a later instance, the sweep) can check, and a record only this process
    could verify is as good as unsigned to them (they would read it as forged and mail again). Unsigned
    or deferred-signature records are out too: the attacker writes the table. So the derivation stays,
    and moves ahead of the first event instead of onto its path.
    """

    _keys: dict[tuple[str, str], bytes] = {}
    _own: dict[str, str] = {}
    _deriving: dict[tuple[str, str], threading.Event] = {}
    _lock = threading.Lock()

    def nonce(self) -> str:
        """This process's nonce for the key (chosen once, at :meth:`prepare` or the first signature)."""
        with self._lock:
            own = self._own.get(self.key_id)
            if own is None:
                own = self._own[self.key_id] = secrets.token_hex(16)
        return own

    def prepare(self) -> None:
        """Derive this process's own key now (a Lambda function's init, before any event), so the first
        signature makes no KMS call. The same ``GenerateMac`` the first signature would make, made
        earlier: nothing about the key or what it signs changes. Raises what KMS raises (the caller logs
        it; the first signature then derives the key itself)."""
        self.derived(self.nonce())

    def derived(self, nonce: str) -> bytes:
        """K for ``nonce``: from the process's cache, else one ``GenerateMac`` (then cached). A thread
        that needs a K another thread is deriving waits for that one (at most
        :data:`DERIVE_WAIT_SECONDS`) rather than asking KMS a second time."""
        slot = (self.key_id, nonce)
        cached = self._keys.get(slot)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._keys.get(slot)
            if cached is not None:
                return cached
            running = self._deriving.get(slot)
            if running is None:
                mine = self._deriving[slot] = threading.Event()
        if running is not None:
            running.wait(DERIVE_WAIT_SECONDS)
            cached = self._keys.get(slot)
            if cached is not None:
                return cached
            return self._derive(slot, nonce)  # the other derivation failed (or hangs): ask KMS here
        try:
            return self._derive(slot, nonce)
        finally:
            with self._lock:
                self._deriving.pop(slot, None)
            mine.set()

    def _derive(self, slot: tuple[str, str], nonce: str) -> bytes:
        answer = self._client.generate_mac(
            KeyId=self.key_id, MacAlgorithm=ALGORITHM, Message=DERIVE_PREFIX + nonce.encode("ascii")
        )
        key = bytes(answer["Mac"])
        with self._lock:
            self._keys[slot] = key
        return key

    def sign(self, pk: str, sk: str, text: str) -> str:
        nonce = self.nonce()
        digest = hmac.new(self.derived(nonce), message(pk, sk, text), hashlib.sha256).digest()
        return f"{DERIVED_TAG}.{nonce}.{base64.b64encode(digest).decode('ascii')}"

    def verify(self, pk: str, sk: str, text: str, mac: str) -> bool:
        if not mac.startswith(DERIVED_TAG + "."):
            return Mac.verify(self, pk, sk, text, mac)
        parts = mac.split(".")
        if len(parts) != 3 or not _NONCE.fullmatch(parts[1]):
            return False
        try:
            given = base64.b64decode(parts[2].encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            return False
        try:
            key = self.derived(parts[1])
        except Exception as exc:
            raise UnverifiableError(f"{aws.error_code(exc) or type(exc).__name__}: {exc}") from exc
        wanted = hmac.new(key, message(pk, sk, text), hashlib.sha256).digest()
        return hmac.compare_digest(wanted, given)

    @classmethod
    def forget(cls) -> None:
        """Drop every derived key and this process's nonces (tests: a fresh process)."""
        with cls._lock:
            cls._keys.clear()
            cls._own.clear()
            cls._deriving.clear()


_NONCE = re.compile(r"[0-9a-f]{32}")


def _region_of(key_id: str) -> str | None:
    parts = key_id.split(":")
    return parts[3] or None if key_id.startswith("arn:") and len(parts) > 3 else None


@dataclass
class SignedStore:
    """The state table's records that trailguard acts on: signed on write, verified on read.

    With ``mac`` None (no ``StateKey`` configured: unit tests, a stack deployed before the key existed)
    records are written and read unsigned, and :attr:`enforced` is False so callers can say so.
    Every record that fails verification is kept in :attr:`tampered` (once per (pk, sk)) and read as absent.
    """

    store: StateStore
    mac: Mac | None = None
    tampered: list[Tampered] = field(default_factory=list)

    @property
    def enforced(self) -> bool:
        return self.mac is not None

    def put(
        self,
        pk: str,
        sk: str,
        doc: Mapping[str, Any],
        *,
        ttl_seconds: int | None = None,
        if_absent: bool = False,
    ) -> bool:
        """Sign and store ``doc``; with ``if_absent`` only when no live item exists (False when one did,
        whether or not that one verifies: see :meth:`claim`)."""
        text = dump(doc)
        attributes: dict[str, str] = {}
        if self.mac is not None:
            attributes = {MAC_ATTRIBUTE: self.mac.sign(pk, sk, text), KEY_ATTRIBUTE: self.mac.key_id}
        written = self.store.put(
            pk, sk, dict(doc), ttl_seconds=ttl_seconds, if_absent=if_absent, attributes=attributes, text=text
        )
        if written:
            self.tampered = [t for t in self.tampered if (t.pk, t.sk) != (pk, sk)]
        return written

    def claim(self, pk: str, sk: str, doc: Mapping[str, Any], *, ttl_seconds: int | None = None) -> bool:
        """``put(if_absent=True)`` where an existing item that fails verification counts as absent: it
        is overwritten (and recorded in :attr:`tampered`), so a forged item cannot hold a claim. An item
        KMS could not verify is left alone (False): it may be genuine."""
        if self.mac is None:
            return self.put(pk, sk, doc, ttl_seconds=ttl_seconds, if_absent=True)
        return self.claim_or_get(pk, sk, doc, ttl_seconds=ttl_seconds)[0]

    def claim_or_get(
        self, pk: str, sk: str, doc: Mapping[str, Any], *, ttl_seconds: int | None = None
    ) -> tuple[bool, StoredItem | None]:
        """:meth:`claim`, and when the claim is lost, the item that holds it: the one just read and
        verified (None when it vanished, or when KMS could not verify it), so the caller need not read
        and verify it a second time."""
        if self.put(pk, sk, doc, ttl_seconds=ttl_seconds, if_absent=True):
            return True, None
        item = self.store.get_item(pk, sk)
        if self.mac is None:
            return False, item
        if item is None:  # it expired or was removed in between: claim it now
            return self.put(pk, sk, doc, ttl_seconds=ttl_seconds, if_absent=True), None
        if self.checked(item) is not None:
            return False, item
        problem = next(t for t in self.tampered if (t.pk, t.sk) == (pk, sk))
        if problem.unverifiable:
            return False, None
        text = dump(doc)
        attributes = {MAC_ATTRIBUTE: self.mac.sign(pk, sk, text), KEY_ATTRIBUTE: self.mac.key_id}
        self.store.put(pk, sk, dict(doc), ttl_seconds=ttl_seconds, attributes=attributes, text=text)
        return True, None

    def keep(self, item: StoredItem, *, ttl_seconds: int) -> None:
        """Push a verified item's expiry on, unchanged: its text and MAC are written back as they are
        (the MAC covers the key and the text, not the TTL), so nothing is signed again."""
        self.store.put(
            item.pk, item.sk, item.doc, ttl_seconds=ttl_seconds, attributes=item.attributes, text=item.text
        )

    def problem(self, pk: str, sk: str) -> Tampered | None:
        """The recorded verification failure of (pk, sk), if any."""
        return next((t for t in self.tampered if (t.pk, t.sk) == (pk, sk)), None)

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The verified document under (pk, sk); None when absent or when it fails verification."""
        item = self.store.get_item(pk, sk)
        return None if item is None else self.checked(item)

    def query(self, pk: str) -> dict[str, dict[str, Any]]:
        """sk -> verified document for every item under ``pk``; failures are left out (and recorded)."""
        out: dict[str, dict[str, Any]] = {}
        for item in self.store.query_items(pk):
            doc = self.checked(item)
            if doc is not None:
                out[item.sk] = doc
        return out

    def delete(self, pk: str, sk: str) -> None:
        self.store.delete(pk, sk)

    def checked(self, item: StoredItem) -> dict[str, Any] | None:
        """The item's document when its MAC verifies (or no key is configured); else None, recorded."""
        problem = self._problem(item)
        if problem is None:
            try:
                return item.doc
            except ValueError:
                problem = Tampered(item.pk, item.sk, "its document is not JSON")
        if all((t.pk, t.sk) != (item.pk, item.sk) for t in self.tampered):
            self.tampered.append(problem)
        log_event(LOG, logging.ERROR, "state.tampered", **problem.to_dict())
        return None

    def _problem(self, item: StoredItem) -> Tampered | None:
        if self.mac is None:
            return None
        mac = item.attributes.get(MAC_ATTRIBUTE)
        if not mac:
            return Tampered(item.pk, item.sk, "it carries no MAC")
        try:
            if self.mac.verify(item.pk, item.sk, item.text, mac):
                return None
        except UnverifiableError as exc:
            return Tampered(item.pk, item.sk, f"KMS VerifyMac failed: {exc}", unverifiable=True)
        return Tampered(item.pk, item.sk, "its MAC does not match its key and content")
