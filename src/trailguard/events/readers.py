"""Every input shape trailguard accepts, read into :class:`~trailguard.events.record.Record` views.

Pure: no boto3, no I/O beyond :func:`iter_path` and :func:`iter_path_raw`. Shapes understood
(``detection-policy.md``, "Inputs"):

- a bare CloudTrail record (an object with ``eventName``);
- a CloudTrail log file ``{"Records": [...]}``, plain or gzip, and JSON Lines of either;
- EventBridge envelopes: ``AWS API Call via CloudTrail``, ``GuardDuty Finding``,
  ``Security Hub Findings - Imported`` (and Security Hub custom actions, which carry findings too);
- a bare GuardDuty finding (API PascalCase or event camelCase) or a bare ASFF finding.

Each entry (one of a log file's ``Records``, one finding of a findings list, one line of JSON Lines) is
judged on its own: an entry that is not understood becomes a :class:`MalformedEvent` in its place,
saying which one and why, and the entries around it are still read (:func:`entries_from_object`,
:func:`iter_path`). :func:`iter_path` streams: memory is bounded by the largest single entry (at most
:data:`MAX_ENTRY_CHARS`), not by the file. :func:`iter_path_raw` (``trailguard classify``) gives the
same entries, a log file's CloudTrail records not yet viewed; with the optional msgspec it reads a log
file of at most :data:`FAST_LOG_FILE_BYTES` whole, where that reads exactly what the stream would.
"""

from __future__ import annotations

import codecs
import functools
import gzip
import json
import os
import re
import stat
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

from trailguard.events.cloudtrail import DETAIL_TYPE as CLOUDTRAIL_DETAIL_TYPE
from trailguard.events.cloudtrail import CloudTrailRecord
from trailguard.events.record import GUARDDUTY_DETAIL_TYPE, SECURITYHUB_DETAIL_TYPES, Record

if TYPE_CHECKING:
    from trailguard.events.guardduty import GuardDutyFinding
    from trailguard.events.securityhub import SecurityHubFinding

GZIP_MAGIC = b"\x1f\x8b"
_NOTHING = object()
CHUNK_BYTES = 64 * 1024
# The largest single entry (one record, one line, one top-level value that is not a log file) read.
# CloudTrail writes records of at most a few hundred KB; EventBridge events are at most 256 KB.
MAX_ENTRY_CHARS = 16 * 1024 * 1024
# Lines of a file that is not JSON at all, read before giving up on it.
MAX_LEADING_BAD_LINES = 100
DIGEST_KEYS = frozenset({"digestStartTime", "digestEndTime", "logFiles"})

_RECORDS_FILE = re.compile(r'\{\s*"Records"\s*:\s*\[')
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8
_SPACE = re.compile(r"[ \t\r\n]*")
_BLANKS = re.compile(r"[ \t\r]*")


class MalformedEvent(ValueError):  # noqa: N818 (public name other modules use)
    """An input that is not any shape trailguard understands; the message says why."""


Entry = Record | MalformedEvent


def _keys(obj: Mapping[str, Any]) -> str:
    return ", ".join(sorted(str(k) for k in list(obj)[:6]))


def entries_from_object(obj: Any) -> list[Entry]:
    """Every entry one decoded JSON value holds, in order: a :class:`Record`, or a
    :class:`MalformedEvent` in the place of an entry that is not understood (saying which and why).

    Raises :class:`MalformedEvent` saying why when the value as a whole is no shape trailguard reads.
    """
    if not isinstance(obj, Mapping):
        raise MalformedEvent(f"expected a JSON object, got {type(obj).__name__}")
    detail_type = obj.get("detail-type")
    if detail_type is not None:
        return _from_envelope(obj, str(detail_type))
    if "Records" in obj:
        records = obj.get("Records")
        if not isinstance(records, list):
            raise MalformedEvent("'Records' is not a list")
        return [log_file_entry(item, index) for index, item in enumerate(records)]
    if "findings" in obj and isinstance(obj.get("findings"), list):  # BatchImportFindings-like body
        return _findings(obj["findings"], None)
    if CloudTrailRecord.is_shape(obj):
        return [CloudTrailRecord(obj)]
    if _securityhub().is_shape(obj):
        return [_securityhub()(obj)]
    if _guardduty().is_shape(obj):
        return [_guardduty()(obj)]
    if set(obj) >= DIGEST_KEYS:
        raise MalformedEvent("a CloudTrail digest file: it holds hashes of log files, not records")
    raise MalformedEvent(
        f"not a CloudTrail record, log file, EventBridge envelope or finding (keys: {_keys(obj)})"
    )


def records_from_object(obj: Any) -> list[Record]:
    """The records of :func:`entries_from_object`, leaving out the entries that are not understood.

    Raises :class:`MalformedEvent` saying why if the value as a whole is no shape trailguard reads.
    """
    return [entry for entry in entries_from_object(obj) if isinstance(entry, Record)]


def log_file_entry(item: Any, index: int) -> Entry:
    """One element of a CloudTrail log file's ``Records``: a record, else why it is not one."""
    if type(item) is not dict and not isinstance(item, Mapping):
        return MalformedEvent(f"Records[{index}] is not a JSON object ({type(item).__name__})")
    if not CloudTrailRecord.is_shape(item):
        return MalformedEvent(f"Records[{index}] is not a CloudTrail record (keys: {_keys(item)})")
    return CloudTrailRecord.of_log_entry(item)


def _guardduty() -> type[GuardDutyFinding]:
    """The GuardDuty finding shape, imported on the first finding (a CloudTrail event never needs it)."""
    from trailguard.events.guardduty import GuardDutyFinding

    return GuardDutyFinding


def _securityhub() -> type[SecurityHubFinding]:
    """The ASFF finding shape, imported on the first finding (a CloudTrail event never needs it)."""
    from trailguard.events.securityhub import SecurityHubFinding

    return SecurityHubFinding


def _findings(findings: list[Any], envelope: Mapping[str, Any] | None) -> list[Entry]:
    finding = _securityhub()
    return [
        finding(f, envelope=envelope)
        if isinstance(f, Mapping)
        else MalformedEvent(f"findings[{index}] is not a JSON object ({type(f).__name__})")
        for index, f in enumerate(findings)
    ]


def _from_envelope(envelope: Mapping[str, Any], detail_type: str) -> list[Entry]:
    detail = envelope.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent(f"EventBridge envelope '{detail_type}' has no detail object")
    if detail_type == CLOUDTRAIL_DETAIL_TYPE or "eventName" in detail:
        if "eventName" not in detail:
            raise MalformedEvent("CloudTrail envelope detail has no eventName")
        return [CloudTrailRecord(detail, envelope=envelope)]
    if detail_type == GUARDDUTY_DETAIL_TYPE:
        return [_guardduty()(detail, envelope=envelope)]
    if detail_type in SECURITYHUB_DETAIL_TYPES or "findings" in detail:
        findings = detail.get("findings")
        if not isinstance(findings, list):
            raise MalformedEvent(f"'{detail_type}' envelope has no findings list")
        return _findings(findings, envelope)
    if detail_type == "Scheduled Event":
        raise MalformedEvent("a scheduled event carries no record")
    raise MalformedEvent(f"unsupported EventBridge detail-type '{detail_type}'")


def iter_path(path: str | Path, before_read: Callable[[], None] | None = None) -> Iterator[Entry]:
    """Entries of one file, in order, streamed: JSON, a CloudTrail log file, JSON Lines; plain or gzip.

    An entry that cannot be understood is yielded as a :class:`MalformedEvent` in its place (a broken
    line of JSON Lines: the next line is read; a syntax error inside a log file's ``Records``: nothing
    after it can be told apart, so reading stops there). A file that cannot be read at all raises
    ``OSError`` (or the gzip error met mid-stream, after the entries before it), or
    :class:`MalformedEvent` when it is empty or not JSON at all. ``before_read`` is called before each
    read of the file (``trailguard classify`` flushes its output there).
    """
    for entry in _iter(path, before_read, raw_records=False):
        assert not isinstance(entry, dict)
        yield entry


class LogRecordHead(NamedTuple):
    """A CloudTrail record of a log file read in part: its call, id and caller as JSON decodes them
    (``arn`` is ``userIdentity.arn`` when ``userIdentity`` is an object, else None), and its JSON text
    (:func:`record_of` decodes it in full)."""

    event_source: Any
    event_name: str
    event_id: Any
    arn: Any
    text: Any  # the record's JSON, a bytes-like object


def record_of(head: LogRecordHead) -> CloudTrailRecord:
    """The view of a record read in part: its text decoded by :mod:`json`, as the stream decodes it."""
    item = json.loads(bytes(head.text).decode("utf-8"))
    assert type(item) is dict and "eventName" in item
    return CloudTrailRecord.of_log_entry(item)


RawEntry = Entry | dict[str, Any] | LogRecordHead


def iter_path_raw(path: str | Path, before_read: Callable[[], None] | None = None) -> Iterator[RawEntry]:
    """:func:`iter_path`, but each CloudTrail record of a log file's ``Records`` comes as the dict it
    was decoded to (what :meth:`CloudTrailRecord.of_log_entry` would view), or, with the optional
    ``trailguard[fast]`` (msgspec), as a :class:`LogRecordHead`: not yet a view, for a caller that
    judges most of a log's records from four of their fields (``trailguard classify``). Every other
    entry, and every problem, is as :func:`iter_path` gives it."""
    whole = _whole_log_file(path, before_read)
    if whole is not None:
        return iter(whole)
    return _iter(path, before_read, raw_records=True)


# -- the optional fast path: a log file decoded whole, most records only in part ---------------------
# With msgspec (trailguard[fast]) a log file of at most FAST_LOG_FILE_BYTES is checked and split into
# its records in one pass, and each record decoded only for its call, id and caller; json decodes the
# few that must be judged in full. It is taken only when the stream would read the same: a file that
# is exactly one {"Records": [...]} object, valid UTF-8, valid JSON (msgspec refuses all that json
# refuses, and more: NaN, a lone surrogate), nested at least DEPTH_MARGIN levels less deep than
# msgspec allows, which json allows too. Anything else, or any error, and the file is streamed.
FAST_LOG_FILE_BYTES = 8 * 1024 * 1024  # 0: never
DEPTH_MARGIN = 64
_WHITESPACE = b" \t\r\n"
_LOG_FILE_START = re.compile(rb'[ \t\r\n]*(\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*)\[')


class _Fast(NamedTuple):
    records: Callable[[bytes], Any]  # the Records array wrapped in DEPTH_MARGIN arrays -> its texts
    head: Callable[[Any], Any]  # one record's text -> its head


@functools.cache
def _fast() -> _Fast | None:
    """msgspec's decoders, or None without it (or with one that cannot build them: the stream then)."""
    try:
        import msgspec

        identity = msgspec.defstruct("Identity", [("arn", Any, None)])
        fields = [(key, Any, None) for key in ("eventSource", "eventName", "eventID")]
        head = msgspec.defstruct("Head", [*fields, ("userIdentity", identity | None, None)])
        wrapped: Any = list[msgspec.Raw]
        for _ in range(DEPTH_MARGIN):
            wrapped = list[wrapped]
        return _Fast(msgspec.json.Decoder(wrapped).decode, msgspec.json.Decoder(head).decode)
    except Exception:  # ImportError, above all
        return None


def _whole_log_file(path: str | Path, before_read: Callable[[], None] | None) -> list[RawEntry] | None:
    """The entries of a log file read whole, or None: stream it (no msgspec, too large, not one log
    file object, anything odd or any error: the stream meets it and says so)."""
    fast = _fast()
    if fast is None or FAST_LOG_FILE_BYTES <= 0:
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a pipe, a device: opened and read once, by the stream
            return None
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == GZIP_MAGIC
            size = os.fstat(raw.fileno()).st_size
            if gzipped and size >= 4:
                raw.seek(-4, os.SEEK_END)  # ISIZE: the last member's size, a hint (the read is bounded)
                size = int.from_bytes(raw.read(4), "little")
            if size > FAST_LOG_FILE_BYTES:
                return None
            raw.seek(0)
            if before_read is not None:
                before_read()
            data = raw.read(FAST_LOG_FILE_BYTES + 1)
    except BrokenPipeError:  # from before_read: the output, not the file
        raise
    except Exception:
        return None
    if gzipped:
        # One gzip member, whole and checked (zlib checks the header, CRC and size GzipFile checks,
        # and more): what GzipFile reads. Several members, bytes after one, an error: the stream.
        inflate = zlib.decompressobj(wbits=31)
        try:
            data = inflate.decompress(data, FAST_LOG_FILE_BYTES + 1)
        except zlib.error:
            return None
        if not inflate.eof or inflate.unused_data:
            return None
    if len(data) > FAST_LOG_FILE_BYTES:
        return None
    return _log_file_entries(data, fast)


def _log_file_entries(data: bytes, fast: _Fast) -> list[RawEntry] | None:
    match = _LOG_FILE_START.match(data)
    if match is None or len(match.group(1)) >= 256:  # the stream looks 256 characters ahead for it
        return None
    end = len(data)
    for closing in (b"}", b"]"):  # ...]  }  at the very end, only whitespace around
        while end and data[end - 1] in _WHITESPACE:
            end -= 1
        if not end or data[end - 1 : end] != closing:
            return None
        end -= closing == b"}"
    start = match.end() - 1
    if end <= start or (not data.isascii() and not _is_utf8(data)):
        return None
    try:
        texts = fast.records(
            b"".join((b"[" * DEPTH_MARGIN, memoryview(data)[start:end], b"]" * DEPTH_MARGIN))
        )
        for _ in range(DEPTH_MARGIN):  # each level holds exactly the next: the array is data[start:end]
            if len(texts) != 1:
                return None
            texts = texts[0]
    except Exception:  # msgspec's DecodeError, RecursionError: the stream says what is wrong
        return None
    head = fast.head
    entries: list[RawEntry] = []
    try:
        for index, text in enumerate(texts):
            try:
                found = head(text)
            except Exception:  # not an object, a caller that is not one: the general way
                found = None
            name = found.eventName if found is not None else None
            if type(name) is str and name:
                identity = found.userIdentity
                arn = identity.arn if identity is not None else None
                entries.append(LogRecordHead(found.eventSource, name, found.eventID, arn, text))
                continue
            item = json.loads(bytes(text).decode("utf-8"))
            if type(item) is dict and "eventName" in item:
                entries.append(item)
            else:
                entries.append(log_file_entry(item, index))
    except Exception:  # json refusing what msgspec read (it never has): the stream says why
        return None
    return entries


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _iter(
    path: str | Path, before_read: Callable[[], None] | None, raw_records: bool
) -> Iterator[Entry | dict[str, Any]]:
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream: _Readable = gzip.GzipFile(fileobj=raw) if gzipped else raw
        yield from _Reader(stream, before_read, raw_records).entries()


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _IncompleteError(ValueError):
    """The buffer ends inside a JSON value (only when the file does too, or the value is too large)."""


class _Reader:
    """A window over the decoded text of a byte stream, with JSON values decoded off its front."""

    def __init__(
        self, stream: _Readable, before_read: Callable[[], None] | None = None, raw_records: bool = False
    ) -> None:
        self.stream = stream
        self.raw_records = raw_records  # a log file's CloudTrail records as their dicts (iter_path_raw)
        self.before_read = before_read
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
        self.buf = ""
        self.pos = 0
        self._line = 1  # the line number at self._line_at (lines are counted when asked, not per value)
        self._line_at = 0
        self.eof = False
        self.json = json.JSONDecoder()

    @property
    def line(self) -> int:
        """The line number at ``self.pos``."""
        # find first: it is a fast scan, and a log file as CloudTrail writes it has no newline to count
        if self.buf.find("\n", self._line_at, self.pos) >= 0:
            self._line += self.buf.count("\n", self._line_at, self.pos)
        self._line_at = self.pos
        return self._line

    # -- the window ---------------------------------------------------------------------------------
    def _fill(self, at_least: int = 0) -> bool:
        """Read more (``at_least`` bytes, at least CHUNK_BYTES); False at the end of the stream."""
        if self.eof:
            return False
        if self.before_read is not None:
            self.before_read()
        data = self.stream.read(max(at_least, CHUNK_BYTES))
        if self.pos:
            _ = self.line  # count the lines of what is dropped
            self.buf = self.buf[self.pos :]
            self.pos = self._line_at = 0
        if not data:
            self.eof = True
            self.buf += self.decoder.decode(b"", final=True)
            return False
        self.buf += self.decoder.decode(data)
        return True

    def _advance(self, end: int) -> None:
        self.pos = end

    def _peek(self) -> str | None:
        """The next character that is not JSON whitespace (consuming the whitespace), None at the end."""
        while True:
            match = _SPACE.match(self.buf, self.pos)
            self._advance(match.end() if match else self.pos)
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return None

    def _ahead(self, chars: int) -> str:
        while len(self.buf) - self.pos < chars and self._fill():
            pass
        return self.buf[self.pos : self.pos + chars]

    def _value(self) -> tuple[Any, str]:
        """The JSON value at the front and its text; raises ``ValueError`` (``json.JSONDecodeError``,
        :class:`_IncompleteError`, ``RecursionError``) when there is none."""
        if self._peek() is None:
            raise _IncompleteError("the file ends where a value was expected")
        while True:
            try:
                value, end = self.json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                near_end = exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated string")
                if not near_end:
                    raise
                if len(self.buf) - self.pos > MAX_ENTRY_CHARS:
                    size = f"{MAX_ENTRY_CHARS // (1024 * 1024)} MiB"
                    raise _IncompleteError(f"an entry larger than {size}") from None
                if not self._fill(len(self.buf) - self.pos):
                    raise
                continue
            except RecursionError:
                raise ValueError("nested too deeply") from None
            if end == len(self.buf) and self._fill():  # a number may go on in the next chunk
                continue
            raw = self.buf[self.pos : end]
            self._advance(end)
            return value, raw

    def _line_ends(self) -> bool:
        """Only blanks follow on the current line (JSON Lines: one value per line)."""
        while True:
            match = _BLANKS.match(self.buf, self.pos)
            self._advance(match.end() if match else self.pos)
            if self.pos < len(self.buf):
                return self.buf[self.pos] == "\n"
            if not self._fill():
                return True

    def _skip_line(self) -> None:
        """Drop everything up to and including the next newline."""
        while True:
            newline = self.buf.find("\n", self.pos)
            if newline >= 0:
                self._advance(newline + 1)
                return
            self.pos = len(self.buf)
            if not self._fill():
                return

    def _expect(self, *chars: str) -> str | None:
        char = self._peek()
        if char in chars:
            self._advance(self.pos + 1)
            return char
        return None

    # -- the shapes ---------------------------------------------------------------------------------
    def entries(self) -> Iterator[Entry | dict[str, Any]]:
        """Top-level values one after another (one JSON document, or JSON Lines of them)."""
        leading_errors: list[MalformedEvent] = []
        read_any = False
        while (char := self._peek()) is not None:
            line = self.line
            if char == "{" and _RECORDS_FILE.match(self._ahead(256)):
                read_any = True
                yield from self._flush(leading_errors)
                yield from self._log_file(line)
                continue
            if char == "[":
                read_any = True
                yield from self._flush(leading_errors)
                yield from self._array(line)
                continue
            try:
                value, raw = self._value()
                if not self._line_ends():
                    raise ValueError("more after the JSON value on its line")
            except ValueError as exc:
                problem = MalformedEvent(f"line {line} is not JSON: {_why(exc)}")
                self._skip_line()
                if read_any:
                    yield problem
                    continue
                leading_errors.append(problem)
                if len(leading_errors) >= MAX_LEADING_BAD_LINES:
                    break
                continue
            read_any = True
            yield from self._flush(leading_errors)
            yield from _entries_of(value, raw, f"line {line}")
        if not read_any:
            if leading_errors:
                raise MalformedEvent(f"neither JSON nor JSON Lines ({leading_errors[0]})")
            raise MalformedEvent("the file is empty")

    @staticmethod
    def _flush(errors: list[MalformedEvent]) -> Iterator[MalformedEvent]:
        yield from errors
        errors.clear()

    def _log_file(self, line: int) -> Iterator[Entry | dict[str, Any]]:
        """A CloudTrail log file, one ``Records`` element at a time."""
        match = _RECORDS_FILE.match(self.buf, self.pos)
        assert match is not None
        self._advance(match.end())
        if (yield from self._records()):
            return
        # CloudTrail writes nothing after Records; other members are read past and ignored.
        while (closing := self._expect(",", "}")) == ",":
            try:
                self._value()
                if self._expect(":") is None:
                    raise ValueError("expected ':'")
                self._value()
            except ValueError as exc:
                yield self._stopped(
                    f"the log file object from line {line} is not JSON after Records: {_why(exc)}"
                )
                return
        if closing is None:
            yield self._stopped(f"the log file object from line {line} does not end after Records")

    def _records(self) -> Generator[Entry | dict[str, Any], None, bool]:
        """The elements of a log file's ``Records`` (its ``[`` just read), each a record or why it is
        not one; returns True when a syntax error ended the reading of the file.

        The same as :meth:`_elements`, faster for what CloudTrail writes: an object that starts right
        here and ends inside the buffer is decoded in place, with the separator after it read directly;
        anything else (whitespace, an object cut by the end of the buffer, a syntax error, another
        value) goes the general way, which reads more and says why.
        """

        def name(index: int) -> str:
            return f"Records[{index}] (from line {self.line})"

        if self._expect("]") is not None:
            return False
        # raw_decode's own scanner, without raw_decode's frame (it raises StopIteration for no value)
        scan: Callable[[str, int], tuple[Any, int]] = cast(Any, self.json).scan_once
        raw_records = self.raw_records
        low = CHUNK_BYTES // 4
        index = 0
        while True:
            buf, pos = self.buf, self.pos
            if len(buf) - pos < low and not self.eof:
                # Read on before the buffer runs short: an object cut by its end is decoded twice, and
                # the error that says so counts the buffer's lines.
                self._fill()
                buf, pos = self.buf, self.pos
            item: Any = _NOTHING
            if buf.startswith("{", pos):
                try:
                    item, end = scan(buf, pos)
                except (ValueError, RecursionError, StopIteration):
                    item = _NOTHING  # the general way below reads more, or says why
                else:
                    self.pos = end
                    bad = not buf.isascii() and _NOT_UTF8.search(buf, pos, end) is not None
            if item is _NOTHING:
                try:
                    item, raw = self._value()
                except ValueError as exc:
                    yield self._stopped(f"{name(index)} is not JSON: {_why(exc)}")
                    return True
                bad = _NOT_UTF8.search(raw) is not None
            if bad:
                yield _not_utf8(f"Records[{index}]")
            elif raw_records and type(item) is dict and "eventName" in item:
                yield item  # log_file_entry would view it: CloudTrailRecord.of_log_entry(item)
            else:
                yield log_file_entry(item, index)
            buf, pos = self.buf, self.pos
            if pos < len(buf) and buf[pos] in ",]":
                separator: str | None = buf[pos]
                self.pos = pos + 1
            else:
                separator = self._expect(",", "]")
            if separator is None:
                yield self._stopped(f"after {name(index)} expected ',' or ']'")
                return True
            if separator == "]":
                return False
            index += 1

    def _array(self, line: int) -> Iterator[Entry]:
        """A top-level JSON array: each element is a value of its own."""
        self._advance(self.pos + 1)
        for element in self._elements(lambda index: f"element {index} of the array from line {line}"):
            if isinstance(element, MalformedEvent):
                yield element
                return
            index, item, raw = element
            yield from _entries_of(item, raw, f"element {index} of the array from line {line}")

    def _elements(self, name: Callable[[int], str]) -> Iterator[tuple[int, Any, str] | MalformedEvent]:
        """The values of the array whose ``[`` was just read, each with its index and text. A syntax
        error ends it with a MalformedEvent (``name(index)`` says where) and the reading of the file."""
        if self._expect("]") is not None:
            return
        index = 0
        while True:
            try:
                item, raw = self._value()
            except ValueError as exc:
                yield self._stopped(f"{name(index)} is not JSON: {_why(exc)}")
                return
            yield index, item, raw
            separator = self._expect(",", "]")
            if separator is None:
                yield self._stopped(f"after {name(index)} expected ',' or ']'")
                return
            if separator == "]":
                return
            index += 1

    def _give_up(self) -> None:
        """After a syntax error inside a document nothing more can be told apart: stop reading."""
        _ = self.line
        self.buf, self.pos, self._line_at, self.eof = "", 0, 0, True

    def _stopped(self, reason: str) -> MalformedEvent:
        """Why the file is read no further, having stopped reading it (before the caller is handed it:
        one that stops there never resumes the generator)."""
        self._give_up()
        return _stop(reason)


def _entries_of(value: Any, raw: str, where: str) -> list[Entry]:
    if _NOT_UTF8.search(raw):
        return [_not_utf8(where)]
    try:
        return entries_from_object(value)
    except MalformedEvent as exc:
        return [MalformedEvent(f"{where}: {exc}")]


def _not_utf8(where: str) -> MalformedEvent:
    return MalformedEvent(f"{where} is not valid UTF-8")


def _stop(reason: str) -> MalformedEvent:
    return MalformedEvent(f"{reason}; the rest of the file was not read")


def _why(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    return str(exc) or type(exc).__name__
