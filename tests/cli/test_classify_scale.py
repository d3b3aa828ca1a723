"""``trailguard classify`` at log scale (issue 13): what the faster reading of a log file must not
change. Every record is decoded in full by the one JSON decoder, so no spelling JSON allows hides a
call: a tamper record in a gzip log file among benign ones is judged the same written with escapes
(``Stop\\u004cogging``, an escaped key), odd whitespace, its keys in another order or a key given twice
(the last one counts, as for ``json.loads`` and on the event path), wherever the read chunks end."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from events.support import log_reading  # noqa: F401 (the fixture)
from trailguard.cli import main
from trailguard.cli.exit import Exit
from trailguard.events import readers

pytestmark = pytest.mark.usefixtures("log_reading")  # each test read both ways

STOP = "tamper/cloudtrail_stoplogging_stratus.json"
BENIGN = "benign/sts_getcalleridentity_stratus.json"


def _lines(capsys, *argv: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(["classify", *argv])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _json(record: dict[str, Any], *, indent: str | None = None, separators=(",", ":")) -> str:
    return json.dumps(record, indent=indent, separators=separators)


def _spellings(stop: dict[str, Any]) -> dict[str, str]:
    plain = _json(stop)
    name = '"eventName":"StopLogging"'
    assert name in plain
    rest = plain.replace(name + ",", "").replace("," + name, "")
    return {
        "plain": plain,
        "escaped-value": plain.replace("StopLogging", "Stop\\u004cogging"),
        "escaped-key": plain.replace('"eventName"', '"\\u0065vent\\u004eame"'),
        "all-escaped": plain.replace(
            '"StopLogging"', '"' + "".join(f"\\u{ord(c):04x}" for c in "StopLogging") + '"'
        ),
        "whitespace": _json(stop, indent="\t \r\n", separators=(" \n,\t", "\r\n:\n")),
        "reversed-keys": _json(dict(reversed(list(stop.items())))),
        "duplicate-last": '{"eventName":"GetObject",' + rest[1:-1] + "," + name + "}",
    }


def _named_first(stop: dict[str, Any]) -> str:
    """StopLogging named first, and GetObject after it: a GetObject record, as JSON reads it."""
    return (
        '{"eventName":"StopLogging",'
        + _json({k: v for k, v in stop.items() if k != "eventName"})[1:-1]
        + ',"eventName":"GetObject"}'
    )


@pytest.mark.parametrize("chunk", [3, 64 * 1024], ids=["tiny-chunks", "default-chunks"])
def test_no_spelling_hides_a_stop_logging_in_a_log_file(
    capsys, events_dir, tmp_path: Path, monkeypatch, chunk
):
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
    stop = json.loads((events_dir / STOP).read_text())
    benign = json.loads((events_dir / BENIGN).read_text())
    spellings = _spellings(stop)
    entries = []
    for text in spellings.values():
        entries += [_json(benign), text]
    path = tmp_path / "123456789012_CloudTrail_us-east-1_20260101T0000Z_x.json.gz"
    path.write_bytes(gzip.compress(('{"Records":[' + ",".join(entries) + "]}").encode(), mtime=0))
    code, lines = _lines(capsys, "--fail-on", "tamper", str(path))
    assert code == Exit.FAILED
    assert [line["index"] for line in lines] == list(range(len(entries)))
    assert all(line["verdict"] == "benign" for line in lines[0::2])
    judged = dict(zip(spellings, lines[1::2], strict=True))
    plain = judged.pop("plain")
    assert (plain["verdict"], plain["technique"]) == ("tamper", "trail.stop-logging")
    for spelling, line in judged.items():
        assert {**line, "index": plain["index"]} == plain, spelling


def test_a_stop_logging_named_first_and_overridden_reads_as_json_reads_it(capsys, events_dir, tmp_path: Path):
    """A key given twice: the last counts, in a log file as for ``json.loads`` (and on the event path);
    so the record whose last eventName is StopLogging is the tamper, the other is what it last says."""
    stop = json.loads((events_dir / STOP).read_text())
    spellings = _spellings(stop)
    path = tmp_path / "dup.json"
    first = _named_first(stop)
    path.write_text('{"Records":[' + spellings["duplicate-last"] + "," + first + "]}")
    code, lines = _lines(capsys, str(path))
    assert code == Exit.OK
    assert [(line["event_name"], line["verdict"]) for line in lines] == [
        ("StopLogging", "tamper"),
        ("GetObject", "benign"),
    ]
    assert [json.loads(text)["eventName"] for text in (spellings["duplicate-last"], first)] == [
        "StopLogging",
        "GetObject",
    ]


def test_every_line_is_out_before_the_command_reads_on(events_dir, tmp_path: Path, monkeypatch):
    """Lines are not written one write each, but none waits for input: each read of a file comes after
    everything judged so far was flushed."""
    import io
    import sys

    class Out(io.StringIO):
        flushed = 0

        def flush(self) -> None:
            self.flushed = self.getvalue().count("\n")

    out = Out()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(readers, "CHUNK_BYTES", 512)
    monkeypatch.setattr(readers, "FAST_LOG_FILE_BYTES", 0)  # streamed: read whole, the file is one read
    judged_at_read: list[tuple[int, int]] = []
    read = gzip.GzipFile.read

    def reading(self: gzip.GzipFile, size: int = -1) -> bytes:
        judged_at_read.append((out.getvalue().count("\n"), out.flushed))
        return read(self, size)

    monkeypatch.setattr(gzip.GzipFile, "read", reading)
    stop = json.loads((events_dir / STOP).read_text())
    path = tmp_path / "log.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": [stop] * 20}).encode(), mtime=0))
    assert main(["classify", str(path)]) == Exit.OK
    assert out.getvalue().count("\n") == 20 and out.flushed == 20
    assert len(judged_at_read) >= 3 and judged_at_read[-1] == (20, 20)
    assert all(written == flushed for written, flushed in judged_at_read), judged_at_read


_ODD_TEXT = [
    "",
    "plain",
    'quote " backslash \\ slash /',
    "\x00\x1f\x7f",
    "é ü 日本",
    "\ud800 lone",
    "\x85\u2028\u2029",
    "🙂",
]


@pytest.mark.parametrize("encoding", ["utf-8", "ascii", "latin-1", "utf-16"])
def test_a_line_is_written_as_json_dumps_writes_it(encoding: str):
    """The line is written without an encoder per line; it is the same text json.dumps gives (escaped
    where the output cannot take a character, line breaks inside strings escaped)."""
    import io

    from trailguard.cli.classify import json_line

    def reference(row: dict[str, Any], out: io.TextIOWrapper) -> str:
        text = json.dumps(row, ensure_ascii=False)
        try:
            text.encode(out.encoding)
        except UnicodeEncodeError:
            text = json.dumps(row)
        return text.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")

    out = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    values: list[Any] = [*_ODD_TEXT, None, 0, -7, 10**30, True, 1.5]
    for value in values:
        for other in _ODD_TEXT[:3]:
            row = {"source": other, "index": 3, "reason": value, "principal": None}
            assert json_line(row, out) == reference(row, out), (value, other)
            assert json.loads(json_line(row, out)) == row
