"""``trailguard incidents``: what trailguard saw and did, read from the stack's state table.

One line per incident (a burst of repeated calls is one line with its count), newest last, as a table a
person scans or as JSON a script consumes.

Exit codes (:mod:`trailguard.cli.exit`): 0 the table was read (whether or not it holds incidents); 1 AWS
could not be reached (no credentials, endpoint down, access denied); 2 bad usage, no such stack, the
stack has no state table, or the table cannot be read.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from trailguard.cli._common import add_aws_options, failure, stack, write_document
from trailguard.cli.exit import Exit
from trailguard.notify.ledger import ROWS_PREFIX
from trailguard.state import StateStore

SCHEMA = "trailguard.incidents/1"

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
COLUMNS = ("TIME", "VERDICT", "TECHNIQUE", "RESOURCE", "PRINCIPAL", "SOURCE IP", "REPAIR", "COUNT")


def duration(value: str) -> timedelta:
    """``30m``, ``1h``, ``7d``: how far back to look."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", value.lower())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"not a duration: {value!r} (e.g. 30m, 1h, 7d)")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "incidents",
        help="list the incidents trailguard recorded",
        description="List the incidents recorded in the stack's state table: when, verdict, technique, "
        "resource, principal, source IP, repair status and how many times it happened. "
        "Exit status: 0 read, 1 AWS not reachable, 2 bad usage, no such stack or unreadable table.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack-name", help="the trailguard stack (its StateTableName output is read)")
    where.add_argument("--table", help="the state table's name")
    parser.add_argument(
        "--since",
        type=duration,
        default=timedelta(days=1),
        help="how far back, e.g. 30m, 1h, 7d (default 1d)",
    )
    parser.add_argument("--output", choices=("table", "json"), default="table", help="default: table")
    add_aws_options(parser)
    parser.set_defaults(run=run)


def _table_name(args: argparse.Namespace) -> tuple[str, str | None]:
    """(state table, region): as given, or the stack's StateTableName output in the stack's region."""
    if args.table:
        return str(args.table), args.region
    deployed = stack(args)
    return deployed.output("StateTableName"), deployed.region


def collect(store: Any, since: timedelta, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every burst row detected in the last ``since``, oldest first, with its counters."""
    now = now or datetime.now(UTC)
    start = now - since
    cutoff = start.isoformat(timespec="seconds")
    rows: list[dict[str, Any]] = []
    day = start.date()
    while day <= now.date():
        for row in store.query(ROWS_PREFIX + day.isoformat()):
            if str(row.get("_sk", "")) >= cutoff:
                rows.append(row)
        day += timedelta(days=1)
    for row in rows:
        where = row.get("counts") or {}
        counts = store.get(where["pk"], where["sk"]) if where.get("pk") and where.get("sk") else None
        if counts is not None and "opened_at" in where and counts.get("opened_at") != where["opened_at"]:
            counts = row  # that burst has since been replaced by a later one: the counts it ended with
        counts = counts or {}
        row["count"] = int(counts.get("count", 1))
        row["unverified"] = int(counts.get("unverified", 0))
        row["findings"] = int(counts.get("findings", 0))
        row["first_seen"] = str(row.pop("_sk", "")).split("#", 1)[0]
        row.pop("counts", None)
    rows.sort(key=lambda r: str(r["first_seen"]))
    return rows


def _short(value: Any, width: int) -> str:
    text = "-" if value in (None, "") else str(value)
    return text if len(text) <= width else "..." + text[-(width - 3) :]


def _label(arn: Any) -> Any:
    """The part of an ARN a person recognises: ``user/mallory``, ``assumed-role/x/session``, ``trail``."""
    if isinstance(arn, str) and arn.startswith("arn:"):
        return arn.split(":", 5)[-1].removeprefix("trail/")
    return arn


def _repair(row: dict[str, Any]) -> str:
    status = str(row.get("status") or "-")
    if row.get("verified") is True:
        status += ", verified"
    elif row.get("verified") is False:
        status += ", NOT verified"
    if row.get("unverified"):
        status += f" ({row['unverified']} unverified)"
    return status


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        (
            str(r["first_seen"]).replace("T", " ").replace("+00:00", "Z"),
            str(r.get("verdict") or "-"),
            str(r.get("technique") or "-"),
            _short(_label(r.get("resource")), 32),
            _short(_label(r.get("principal")), 40),
            _short(r.get("source_ip"), 20),
            _repair(r),
            str(r["count"]) + (f" +{r['findings']} finding(s)" if r.get("findings") else ""),
        )
        for r in rows
    ]
    widths = [max(len(c), *(len(line[i]) for line in lines)) for i, c in enumerate(COLUMNS)]
    out = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip()]
    out.extend("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in lines)
    return "\n".join(out)


def run(args: argparse.Namespace) -> Exit:
    try:
        name, region = _table_name(args)
        store = StateStore(name, region, profile=args.profile, endpoint_url=args.endpoint_url)
        rows = collect(store, args.since)
    except Exception as exc:
        raise failure(exc, "cannot read the state table") from exc
    if args.output == "json":
        write_document(SCHEMA, {"table": name, "since": args.since.total_seconds(), "incidents": rows})
    elif rows:
        print(table(rows))
    else:
        print(f"No incidents in the last {args.since} (table {name}).")
    return Exit.OK
