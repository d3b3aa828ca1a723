"""Bounded messages: what trailguard publishes always fits SNS, however large the incident.

SNS refuses a message over 256 KB (262,144 bytes), and with ``MessageStructure=json`` that limit is
on the whole body: the text twice (``default``, ``email``), the document three times (``email-json``,
``sqs``, ``lambda``) and the chat card twice (``https``, ``http``). A lifecycle change of some 270
rules, or a sweep with some 33 drifted trails, used to exceed it, and the alert was refused.

:func:`fit` leaves a message that fits as it is. One that does not is shortened in steps, each
smaller than the last, until it fits:

1. the email text keeps its first :data:`TEXT_MAX` bytes, cut at a line; the document and the chat
   card keep their shape, with long strings, long lists and deep structures abbreviated
   (:func:`compact`);
2. the text keeps :data:`MINIMAL_TEXT_MAX` bytes; the document keeps its summary fields, compacted
   harder; the card is dropped (HTTPS subscribers get the document);
3. the text and a bare document (schema, kind, subject, text, what was cut).

Every shortened message says so, and says where the whole incident is: the state table item the
delivery wrote it to (``Pointer``) and the Security Hub finding. Step 3 always fits: its size is
bounded by the constants alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trailguard.notify.renderer import Message

MESSAGE_MAX = 262_144
"""SNS's limit on a published message, in bytes."""
BUDGET = MESSAGE_MAX - 8_192
"""What trailguard allows itself: room is left for the subject and SNS's own envelope."""
TEXT_MAX = 24_000
MINIMAL_TEXT_MAX = 8_000
LINE_MAX = 2_000
POINTER_MAX = 300


@dataclass(frozen=True)
class Limits:
    """How far :func:`compact` lets a JSON value go before it abbreviates."""

    string: int = 1_000
    items: int = 20
    keys: int = 60
    depth: int = 8


SOFT = Limits()
HARD = Limits(string=200, items=5, keys=30, depth=4)


@dataclass(frozen=True)
class Pointer:
    """Where the whole incident is kept when the message had to be shortened."""

    table: str | None = None
    pk: str | None = None
    sk: str | None = None
    finding: str | None = None
    error: str | None = None
    """Why the full document could not be stored (the message then says so)."""

    def lines(self) -> list[str]:
        out = []
        if self.table and self.pk and self.sk:
            out.append(
                f"The whole incident is kept in the state table {_short(self.table)}, item"
                f" pk={_short(self.pk)} sk={_short(self.sk)}."
            )
        elif self.error:
            out.append(f"The whole incident could not be kept in the state table ({_short(self.error)}).")
        if self.finding:
            out.append(f"Security Hub has it: {_short(self.finding)} (unless Security Hub refused it).")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "state_table": self.table,
            "pk": self.pk,
            "sk": self.sk,
            "security_hub_finding": self.finding,
            "error": self.error,
        }


def _short(value: str) -> str:
    return value if len(value) <= POINTER_MAX else value[:POINTER_MAX] + "..."


def size(message: Message) -> int:
    """The bytes SNS counts: the ``MessageStructure=json`` body (and the subject, to be safe)."""
    return len(message.sns_payload().encode("utf-8", "replace")) + len(
        message.subject.encode("utf-8", "replace")
    )


def fits(message: Message) -> bool:
    return size(message) <= BUDGET


def compact(value: Any, limits: Limits = SOFT, depth: int = 0) -> Any:
    """A JSON value no larger than ``limits`` allow: long strings cut (their length said), long lists
    and mappings cut (how many were left out said in one more item), deep structures summarised."""
    if isinstance(value, str):
        if len(value) <= limits.string:
            return value
        return value[: limits.string] + f"... ({len(value)} characters)"
    if isinstance(value, Mapping):
        if depth >= limits.depth:
            return f"{{{len(value)} keys left out}}"
        items = list(value.items())
        out = {str(k)[: limits.string]: compact(v, limits, depth + 1) for k, v in items[: limits.keys]}
        if len(items) > limits.keys:
            out["_omitted_keys"] = len(items) - limits.keys
        return out
    if isinstance(value, (list, tuple)):
        if depth >= limits.depth:
            return [f"{len(value)} items left out"]
        kept = [compact(v, limits, depth + 1) for v in value[: limits.items]]
        if len(value) > limits.items:
            left = len(value) - limits.items
            kept.append({"_omitted_items": left} if isinstance(value[0], Mapping) else f"... {left} more")
        return kept
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return compact(str(value), limits, depth)


def clip_text(text: str, limit: int) -> tuple[str, int, int]:
    """The first lines of ``text`` within ``limit`` bytes (each line at most :data:`LINE_MAX`
    characters); returns (clipped, lines kept, lines in all)."""
    lines = text.splitlines()
    kept: list[str] = []
    used = 0
    for whole in lines:
        line = whole if len(whole) <= LINE_MAX else whole[:LINE_MAX] + "..."
        cost = len(line.encode("utf-8", "replace")) + 1
        if used + cost > limit:
            break
        kept.append(line)
        used += cost
    return "\n".join(kept), len(kept), len(lines)


def _note(original: int, kept: int, total: int, pointer: Pointer | None) -> list[str]:
    shown = f"{kept} of its {total} lines are shown" if kept < total else "the email text is complete"
    return [
        "",
        f"[This message was shortened to fit SNS's 256 KB limit ({original} bytes in full): {shown};"
        " the machine-readable document is abbreviated.]",
        *(pointer.lines() if pointer is not None else []),
    ]


def _text(message: Message, limit: int, original: int, pointer: Pointer | None) -> str:
    clipped, kept, total = clip_text(message.text, limit)
    return clipped + "\n" + "\n".join(_note(original, kept, total, pointer)) + "\n"


def _truncated(original: int, pointer: Pointer | None, step: int) -> dict[str, Any]:
    return {"step": step, "original_bytes": original, "full": pointer.to_dict() if pointer else None}


def _chat(chat: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The card with its free-form context compacted (JSON strings parsed, compacted, re-encoded)."""
    if chat is None:
        return None
    card = dict(compact(chat, Limits(string=4_000, items=20, keys=60, depth=6)))
    metadata = dict(card.get("metadata") or {})
    context = {}
    for name, value in dict(metadata.get("additionalContext") or {}).items():
        try:
            context[name] = json.dumps(compact(json.loads(str(value))), default=str)
        except ValueError:
            context[name] = str(compact(str(value)))
    metadata["additionalContext"] = context
    card["metadata"] = metadata
    return card


def fit(message: Message, pointer: Pointer | None = None) -> Message:
    """``message`` when it fits; otherwise the first shortened form that does (module docstring)."""
    if fits(message):
        return message
    original = size(message)
    document = message.document
    text = _text(message, TEXT_MAX, original, pointer)
    body = {k: v for k, v in document.items() if k not in ("subject", "text")}
    soft = Message(
        message.subject,
        text,
        {
            **compact(body),
            "subject": message.subject,
            "text": text,
            "truncated": _truncated(original, pointer, 1),
        },
        _chat(message.chat),
    )
    if fits(soft):
        return soft
    head: dict[str, Any] = {k: document[k] for k in ("schema", "kind") if k in document}
    summary = {k: v for k, v in body.items() if k not in ("schema", "kind")}
    # Escaping counts: a text of quotes or non-ASCII characters grows up to sevenfold inside the
    # document inside the body, so the last steps halve the text until the message fits.
    limit = MINIMAL_TEXT_MAX
    while True:
        text = _text(message, limit, original, pointer)
        hard = Message(
            message.subject,
            text,
            {
                **head,
                **compact(summary, HARD),
                "subject": message.subject,
                "text": text,
                "truncated": _truncated(original, pointer, 2),
            },
        )
        if fits(hard):
            return hard
        bare = Message(
            message.subject,
            text,
            {**head, "subject": message.subject, "text": text, "truncated": _truncated(original, pointer, 3)},
        )
        if fits(bare) or limit == 0:
            return bare
        limit //= 4
