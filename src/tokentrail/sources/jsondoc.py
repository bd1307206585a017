"""Reading JSON documents element by element: arrays of events, wrapper objects holding one
(``{"records": [...]}``, ``{"hits": {"hits": [...]}}``), single events, and files of JSON lines
named ``.json``.

A small scanner finds where each value ends (it follows strings, escapes and brackets without
building anything) and orjson parses each element on its own, so a big array needs memory for
one element at a time. A value that cannot be read is one error at the line it starts on; the
read goes on at the next element, or at the next line that opens an object or array.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Generator
from typing import Any

import orjson

from tokentrail.sources.lines import CHUNK_BYTES, Read
from tokentrail.sources.rejects import KeptRecord, Reject, keep_whole

# Keys under which vendor APIs and exports wrap their arrays of events.
WRAPPER_KEYS = ("records", "items", "events", "logs", "data", "results", "value", "hits")
_WRAPPER_KEY_BYTES = frozenset(k.encode() for k in WRAPPER_KEYS)
_WRAPPER_DEPTH = 3  # how deep wrapper objects may nest ({"hits": {"hits": [...]}} is two)

_STRING = rb'"(?:[^"\\]++|\\.)*+"'
# Everything up to the next bracket, complete strings included; stops at a string whose end the
# buffer does not hold yet.
_SKIP = re.compile(rb'(?:[^"\[\]{}]++|' + _STRING + rb")*+", re.S)
_STRING_BODY = re.compile(rb'(?:[^"\\]++|\\.)*+', re.S)


@functools.cache
def _nested(depth: int) -> re.Pattern[bytes]:
    """A whole object or array nested at most ``depth`` deep, matched in one call (the common
    case); deeper values, or ones the buffer does not hold yet, fall back to the bracket loop."""
    body = rb'(?:[^"\[\]{}]++|' + _STRING + rb")*+"
    for _ in range(depth):
        body = rb'(?:[^"\[\]{}]++|' + _STRING + rb"|\{" + body + rb"\}|\[" + body + rb"\])*+"
    return re.compile(rb"\{" + body + rb"\}|\[" + body + rb"\]", re.S)


_WHOLE_DEPTH = 6  # compiled on first use (a tenth of a second), so only documents pay for it
_WS = re.compile(rb"[ \t\r\n]*+")
_SCALAR = re.compile(rb'[^,\]}\[{" \t\r\n]*+')
# A line opening an object or array: where reading starts again after a value that failed.
_RESTART = re.compile(rb"\n[ \t\r]*+[\[{]")
_RESTART_INDENT = 4096  # a line indented further is not looked at as a restart point
_COMPACT_AT = 1 << 20
_FAST_LINE = 1 << 20  # a first line up to this long is tried as one JSON line before scanning it

_QUOTE, _OPEN_OBJ, _CLOSE_OBJ, _OPEN_ARR, _CLOSE_ARR, _COMMA, _COLON = b'"{}[],:'

Numbered = tuple[dict[str, Any], int]


class _Truncated(Exception):
    """The input ended inside a value."""


class _Malformed(Exception):
    """The bytes are not JSON where the scanner needed a separator, key or value."""


class _Reported(Exception):
    """The input ended inside a value, and that has been reported."""


class DocumentScanner:
    """Events of a JSON document read from ``read`` after ``head`` (whose first byte is on line
    ``first_line``), each numbered by its position in the document.

    A value held whole (an element, a single event) may be ``limit`` bytes long. The first line
    of an object is tried as one JSON line when it is short (up to ``line_limit``, at most 1 MiB:
    a long line is more likely one big document, scanned rather than parsed whole). When the document's first object is
    one whole line that is not a wrapper, the document is JSON lines: ``events()`` then returns
    the unread rest of its buffer and that rest's line number, for the caller to read as lines.
    """

    def __init__(self, read: Read, head: bytes, first_line: int, *, limit: int, line_limit: int,
                 reject: Reject) -> None:
        self._read = read
        self.buf = bytearray(head)
        self.pos = 0
        self.eof = False
        self.limit = limit
        self.line_limit = min(line_limit, limit, _FAST_LINE)
        self._chunk = min(CHUNK_BYTES, max(limit, 1 << 16))
        self.reject = reject
        self.number = 0  # elements and events seen so far
        self._base_line = first_line  # line of buf[0]
        self._counted = (0, first_line)  # (offset, its line): lines are counted forward from here
        self._shift = 0  # bytes dropped from the front so far: offset + _shift is an absolute position
        self._pin: int | None = None  # bytes from here on are kept: a value being read whole
        self._what = "JSON value"
        self._spill: KeptRecord | None = None  # where a value too big to keep goes instead
        self._spilling = False
        self._spill_from = 0

    # -- the buffer ---------------------------------------------------------------------------

    def _more(self) -> bool:
        """Read more input (False at its end), first dropping what is no longer needed."""
        if self.eof:
            return False
        if self._pin is not None and len(self.buf) - self._pin > self.limit:
            self._overflow()
        keep = self.pos if self._pin is None else min(self._pin, self.pos)
        if keep >= _COMPACT_AT or keep > len(self.buf) >> 1:
            self._drop(keep)
        data = self._read(self._chunk)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _overflow(self) -> None:
        """The value being held grew past the limit: reject it now and let its bytes go by."""
        assert self._pin is not None
        line = self._line(self._pin)
        self._spill = self.reject(f"{self._what} longer than the {self.limit}-byte limit", line)
        self._spilling, self._spill_from, self._pin = True, self._pin, None

    def _end_spill(self) -> bool:
        """Close a spilled value at ``pos``; whether there was one."""
        if not self._spilling:
            return False
        if self._spill is not None:
            self._spill.write(bytes(self.buf[self._spill_from:self.pos]))
            self._spill.close()
        self._spill, self._spilling = None, False
        return True

    def _drop(self, keep: int) -> None:
        if self._spilling:
            if self._spill is not None:
                self._spill.write(bytes(self.buf[self._spill_from:keep]))
            self._spill_from = 0
        self._base_line += self.buf.count(b"\n", 0, keep)
        self._shift += keep
        del self.buf[:keep]
        self.pos -= keep
        if self._pin is not None:
            self._pin -= keep
        self._counted = (0, self._base_line)

    def _line(self, at: int) -> int:
        offset, line = self._counted
        if at < offset:
            offset, line = 0, self._base_line
        line += self.buf.count(b"\n", offset, at)
        self._counted = (at, line)
        return line

    def _peek(self) -> int | None:
        """The byte at ``pos`` after whitespace, or None at the end of input."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return None

    def _expect(self) -> int:
        c = self._peek()
        if c is None:
            raise _Truncated
        return c

    # -- moving past values -------------------------------------------------------------------

    def _finish_string(self) -> None:
        """Move past the string opening at ``pos``, however long, reading as needed."""
        self.pos += 1
        while True:
            self.pos = _STRING_BODY.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) and self.buf[self.pos] == _QUOTE:
                self.pos += 1
                return
            if not self._more():  # the buffer ended, or a backslash waits for its pair
                raise _Truncated

    def _skip_brackets(self, depth: int = 0) -> None:
        """Move past the object or array opening at ``pos`` (or, with ``depth``, already open)."""
        while True:
            self.pos = _SKIP.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos == len(self.buf):
                if not self._more():
                    raise _Truncated
                continue
            c = self.buf[self.pos]
            if c == _QUOTE:
                self._finish_string()
                continue
            self.pos += 1
            if c in (_OPEN_OBJ, _OPEN_ARR):
                depth += 1
            else:
                depth -= 1
                if depth <= 0:
                    return

    def _skip_value(self) -> None:
        c = self._expect()
        if c in (_OPEN_OBJ, _OPEN_ARR):
            whole = _nested(_WHOLE_DEPTH).match(self.buf, self.pos)
            if whole is not None:
                self.pos = whole.end()
            else:
                self._skip_brackets()
        elif c == _QUOTE:
            self._finish_string()
        else:
            while True:
                self.pos = _SCALAR.match(self.buf, self.pos).end()  # type: ignore[union-attr]
                if self.pos < len(self.buf) or not self._more():
                    return

    def _whole_value(self, what: str, line: int) -> bytes | None:
        """The bytes of the value at ``pos``, moving past it; None when it was too long (it
        is rejected then, and its bytes kept as they went by)."""
        start = self.pos + self._shift
        self._pin, self._what = self.pos, what
        try:
            self._skip_value()
        except _Truncated:
            if not self._end_spill():
                keep_whole(self.reject(f"JSON ends inside {what}", line), bytes(self.buf[start - self._shift:]))
            raise _Reported from None
        finally:
            self._pin = None
        if self._end_spill():
            return None
        return bytes(self.buf[start - self._shift:self.pos])

    def _restart(self, at: int, line: int, message: str) -> None:
        """Reject what starts at ``at`` up to the next line opening an object or array (or the
        end of input), keeping its bytes, and go on there."""
        kept = self.reject(message, line)
        self.pos, self._pin = at, None
        while True:
            found = _RESTART.search(self.buf, self.pos)
            if found is not None:
                end = found.start() + 1
                break
            cut = self.buf.rfind(b"\n", self.pos)
            if cut < 0 or len(self.buf) - cut > _RESTART_INDENT:
                cut = len(self.buf)
            if kept is not None:
                kept.write(bytes(self.buf[self.pos:cut]))
            self.pos = cut
            if not self._more():
                end = len(self.buf)
                break
        if kept is not None:
            kept.write(bytes(self.buf[self.pos:end]))
            kept.close()
        self.pos = end

    # -- reading ------------------------------------------------------------------------------

    def events(self) -> Generator[Numbered, None, tuple[bytes, int] | None]:
        """Every event, in document order."""
        while True:
            c = self._peek()
            if c is None:
                return None
            try:
                if c == _OPEN_ARR:
                    line = self._line(self.pos)
                    self.pos += 1
                    yield from self._array_items(line)
                elif c == _OPEN_OBJ:
                    if (yield from self._top_object()):
                        return bytes(self.buf[self.pos:]), self._line(self.pos)
                else:
                    self._restart(self.pos, self._line(self.pos), "not a JSON object or array")
            except _Reported:
                return None

    def _array_items(self, line: int) -> Generator[Numbered, None, None]:
        """The elements of the array whose ``[`` (on ``line``) is just behind ``pos``."""
        c = self._peek()
        while True:
            if c is None:
                keep_whole(self.reject("JSON array not closed", line), b"")
                raise _Reported
            if c == _CLOSE_ARR:
                self.pos += 1
                return
            self.number += 1
            line = self._line(self.pos)
            data = self._whole_value(f"element {self.number}", line)
            if data is not None:
                yield from self._element(data, line)
            c = self._peek()
            if c == _COMMA:
                self.pos += 1
                c = self._peek()
            elif c in (_OPEN_OBJ, _OPEN_ARR):  # a missing comma: the next element is right here
                self.reject(f"malformed JSON array: no ',' after element {self.number}", self._line(self.pos))
            elif c is not None and c != _CLOSE_ARR:
                self._restart(self.pos, self._line(self.pos),
                              f"malformed JSON array: expected ',' or ']' after element {self.number}")
                c = self._peek()

    def _element(self, data: bytes, line: int) -> Generator[Numbered, None, None]:
        try:
            item = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            keep_whole(self.reject(f"element {self.number}: malformed JSON: {exc.msg}", line), data)
            return
        if item.__class__ is not dict:
            keep_whole(self.reject(f"element {self.number} is not a JSON object", line), data)
            return
        source = item.get("_source")
        yield (source if source.__class__ is dict else item), self.number  # an Elasticsearch hit

    def _top_object(self) -> Generator[Numbered, None, bool]:
        """An object at the top of the document. True when it is one line and not a wrapper: the
        document is then JSON lines, read on from the end of that line by the caller."""
        start = self.pos + self._shift  # absolute: reads below may drop bytes before the pin
        line = self._line(self.pos)
        self._pin, self._what = self.pos, "JSON document"
        try:
            end = self._line_end(start)
            if end is not None:
                try:
                    doc = orjson.loads(memoryview(self.buf)[start - self._shift:end - self._shift])
                except orjson.JSONDecodeError:
                    doc = None
                if doc.__class__ is dict and not is_wrapper(doc):
                    self.pos = end - self._shift
                    yield doc, line
                    return True
                if doc is None and self._next_line_is_an_object(end):
                    raise _Malformed("not a whole JSON object")
            found = [False]
            yield from self._walk_object(1, found)
            if found[0] or self._end_spill():
                return False
            data = bytes(self.buf[start - self._shift:self.pos])
            try:
                doc = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise _Malformed(exc.msg) from None
        except (_Malformed, _Truncated) as exc:
            self._end_spill()
            pinned = self._pin is not None
            message = f"malformed JSON: {exc}" if isinstance(exc, _Malformed) else "JSON ends inside a value"
            self._restart(start - self._shift if pinned else self.pos, line if pinned else self._line(self.pos), message)
            return False
        finally:
            self._pin = None
        self.number += 1
        yield doc, self.number
        return False

    def _walk_object(self, depth: int, found: list[bool]) -> Generator[Numbered, None, None]:
        """Go through the object opening at ``pos``, streaming the event arrays of wrapper keys
        (``found[0]`` becomes True at the first) and moving past everything else."""
        self.pos += 1
        c = self._expect()
        if c == _CLOSE_OBJ:
            self.pos += 1
            return
        while True:
            if c != _QUOTE:
                raise _Malformed("expected a key")
            key = self._key()
            if self._expect() != _COLON:
                raise _Malformed("expected ':' after a key")
            self.pos += 1
            c = self._expect()
            wrapper = key in _WRAPPER_KEY_BYTES and depth <= _WRAPPER_DEPTH and not self._spilling
            if wrapper and c == _OPEN_ARR:
                line = self._line(self.pos)
                self.pos += 1
                first = self._expect()
                if first == _OPEN_OBJ:
                    found[0] = True
                    self._pin = None  # a wrapper: its own bytes are not an event
                    yield from self._array_items(line)
                else:
                    self._skip_brackets(1)
            elif wrapper and c == _OPEN_OBJ:
                yield from self._walk_object(depth + 1, found)
            else:
                self._skip_value()
            c = self._expect()
            if c == _COMMA:
                self.pos += 1
                c = self._expect()
            elif c == _CLOSE_OBJ:
                self.pos += 1
                return
            else:
                raise _Malformed("expected ',' or '}' in an object")

    def _key(self) -> bytes:
        """The raw bytes of the key string at ``pos`` (only short keys can be wrapper keys)."""
        start = self.pos + self._shift
        held = self._pin is None
        if held:
            self._pin, self._what = self.pos, "JSON key"
        try:
            self._finish_string()
        finally:
            if held:
                self._pin = None
        if self._spilling:
            if held:
                self._end_spill()
            return b""
        start -= self._shift
        return bytes(self.buf[start + 1:self.pos - 1]) if self.pos - start < 32 else b""

    def _line_end(self, start: int) -> int | None:
        """Where the line from ``start`` ends (the end of input counts), if within the limit.
        Positions here are absolute (see ``_shift``); the caller pins the bytes from ``start``."""
        at = start
        while True:
            end = self.buf.find(b"\n", at - self._shift)
            if end >= 0:
                end += self._shift
                return end if end - start <= self.line_limit else None
            at = len(self.buf) + self._shift
            if at - start > self.line_limit:
                return None
            if not self._more():
                return len(self.buf) + self._shift

    def _next_line_is_an_object(self, end: int) -> bool:
        """Whether the line after ``end`` is one whole JSON object: then the line before is a
        bad line of a JSON-lines file, not the start of a pretty-printed document."""
        if end - self._shift >= len(self.buf):
            return False
        nxt = self._line_end(end + 1)
        if nxt is None:
            return False
        try:
            return orjson.loads(memoryview(self.buf)[end + 1 - self._shift:nxt - self._shift]).__class__ is dict
        except orjson.JSONDecodeError:
            return False


def is_wrapper(doc: dict[str, Any], depth: int = 1) -> bool:
    """Whether an object wraps an array of events rather than being one: a wrapper key holding
    an array whose first element is an object, or holding a wrapper. (An object whose wrapper
    arrays are empty is read as an event: nothing is dropped unseen.)"""
    for key in WRAPPER_KEYS:
        value = doc.get(key)
        if value.__class__ is list:
            if value and value[0].__class__ is dict:
                return True
        elif value.__class__ is dict and depth < _WRAPPER_DEPTH and is_wrapper(value, depth + 1):
            return True
    return False
