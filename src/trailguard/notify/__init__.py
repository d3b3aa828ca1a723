"""One notification pipeline for event incidents and backstop sweep findings.

A :data:`~trailguard.notify.notice.Notice` (an :class:`Incident` or :class:`SweepFindings`) goes
through the same steps whichever path raised it:

- ``notice``: the Notice types and the one status vocabulary;
- ``renderer``: subject, email text, JSON document, Chatbot card and SMS for either notice;
- ``ledger``: the state table's record of what was told (dedup, storms, the sweep's window), on an
  injectable clock;
- ``bound``: every message within SNS's 256 KB, a shortened one pointing to the whole incident;
- ``outbox``: messages that could not be published, kept in the state table until the sweep sends them;
- ``text``: strings every channel accepts (no lone surrogates);
- ``delivery``: decide on the ledger, render, bound, publish once (``MessageStructure=json``), record,
  keep what could not be published;
- ``securityhub``: the ASFF finding(s) beside GuardDuty's, for incidents and sweep drift.

The names below are the package's public interface; import them from here (Security Hub's entry is
``trailguard.notify.securityhub.report``).
"""

from trailguard.notify.delivery import (
    Delivery,
    NotificationError,
    deliver,
    followups,
    publish,
    resend,
    send,
    send_followups,
)
from trailguard.notify.ledger import Decision, Ledger, SweepDecision, ledger_for
from trailguard.notify.notice import (
    ACTION_REQUIRED,
    PREFIX,
    STATUS_WORDS,
    Cause,
    Drift,
    Incident,
    Notice,
    SweepFindings,
    noun,
    status_word,
)
from trailguard.notify.renderer import (
    SCHEMA,
    SUBJECT_MAX,
    SWEEP_SCHEMA,
    Message,
    ascii_subject,
    links,
    render,
    render_followup,
    render_incident,
    render_sweep,
    subject_for,
)

__all__ = [
    "ACTION_REQUIRED",
    "PREFIX",
    "SCHEMA",
    "STATUS_WORDS",
    "SUBJECT_MAX",
    "SWEEP_SCHEMA",
    "Cause",
    "Decision",
    "Delivery",
    "Drift",
    "Incident",
    "Ledger",
    "Message",
    "Notice",
    "NotificationError",
    "SweepDecision",
    "SweepFindings",
    "ascii_subject",
    "deliver",
    "followups",
    "ledger_for",
    "links",
    "noun",
    "publish",
    "render",
    "render_followup",
    "render_incident",
    "render_sweep",
    "resend",
    "send",
    "send_followups",
    "status_word",
    "subject_for",
]
