"""Cloud Custodian's Lambda entry point for the bench, as custodian deploys one: a module calling
``c7n.handler.dispatch_event``, which reads ``config.json`` (the policy and its execution options,
written by ``bench/compare.py``) from the working directory on the first event. Imported only in the
bench's own Custodian environment (``.venv-bench-custodian``)."""

from __future__ import annotations

from typing import Any

from c7n import handler as c7n_handler


def handler(event: dict[str, Any], context: Any) -> Any:
    return c7n_handler.dispatch_event(event, context)
