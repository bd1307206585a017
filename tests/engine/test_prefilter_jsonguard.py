"""The fast path's validation (engine/linefields.py, engine/jsonguard.py) against orjson: a line
msgspec decodes into the fast path's struct and ``strict_check`` passes is one ``orjson.loads``
accepts as an object, and the fields read from the struct are the ones orjson's dict holds."""

from __future__ import annotations

import sys

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tokentrail.engine.jsonguard import strict_check
from tokentrail.engine.linefields import ABSENT, UNSET, line_fields

FIELDS = line_fields(present=[("published",), ("data", "date"), ("data.type",)],
                     values=[("eventType",), ("uuid",), ("data", "type")])
SCOPE = {"UNSET": UNSET, "ABSENT": ABSENT}
valid = strict_check()


def fast_accepts(raw: bytes):
    """The decoded struct when the fast path would call ``raw`` valid JSON, else None."""
    try:
        doc = FIELDS.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    return doc if valid(raw) else None


def orjson_object(raw: bytes):
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if value.__class__ is dict else None


def read(doc, source: str):
    """Evaluate a source expression of ``FIELDS``, as the fast path's generated code does."""
    return eval(source, SCOPE, {"doc": doc})  # noqa: S307 - the expressions LineFields wrote


def check(raw: bytes) -> None:
    doc = fast_accepts(raw)
    if doc is None:
        return
    event = orjson_object(raw)
    assert event is not None, f"accepted, yet orjson rejects {raw[:80]!r}"
    data = event.get("data")
    assert read(doc, FIELDS.value(("eventType",))) == event.get("eventType", UNSET)
    assert read(doc, FIELDS.value(("uuid",))) == event.get("uuid", UNSET)
    # A presence test is a truth test (it may give the field itself).
    assert bool(read(doc, FIELDS.present(("published",)))) == ("published" in event)
    assert bool(read(doc, FIELDS.present(("data", "date")))) == (isinstance(data, dict) and "date" in data)
    assert bool(read(doc, FIELDS.present(("data.type",)))) == ("data.type" in event)
    assert bool(read(doc, FIELDS.present(("eventType",)))) == ("eventType" in event)
    nested = data.get("type", UNSET) if isinstance(data, dict) else UNSET
    assert read(doc, FIELDS.value(("data", "type"))) == nested


# Each of these is a line msgspec's skipping accepts and orjson rejects, or a neighbour of one.
EDGES = [
    b'{"x":"\xff"}', b'{"\xff":1}', b'{"x":"\xc0\xaf"}', b'{"x":"\xed\xa0\x80"}', b'{"x":"\xf4\x90\x80\x80"}',
    b'{"x":"\xe2\x82"}', b'{"x":"\xf8\x88\x80\x80\x80"}', b'{"x":"\xef\xbf\xbe"}', b'{"x":"caf\xc3\xa9"}',
    b'{"x":1e400}', b'{"x":-1E400}', b'{"x":2e+308}', b'{"x":1.7976931348623159e308}', b'{"x":1e0000000309}',
    b'{"x":1.7976931348623157e308}', b'{"x":1e-400}', b'{"x":' + b"1" * 310 + b"}", b'{"x":' + b"1" * 309 + b"}",
    b'{"x":' + b"1" * 250 + b"e99}", b'{"x":0.' + b"0" * 400 + b"1}", b'{"x":[' + b"1" * 400 + b"]}",
    b'{"x":' + b"[" * 1023 + b"]" * 1023 + b"}", b'{"x":' + b"[" * 1024 + b"]" * 1024 + b"}",
    b'{"x":' + b'{"a":' * 1100 + b"1" + b"}" * 1100 + b"}",
    b'{"x":NaN}', b'{"x":Infinity}', b'{"x":-Infinity}', b'\xef\xbb\xbf{"x":1}', b'{"x":1} x', b'{"x":1}{}',
    b'{"x":1}\x0c', b'{"x":1}\xa0', b'{"x":1,}', b'{"x":[1,]}', b'{"x":01}', b'{"x":1.}', b'{"x":.5}', b'{"x":+1}',
    b'{"x":"a\x01b"}', b'{"x":"a\tb"}', b'{"x"\x0b:1}', b'{"x":tru}', b'{"x":true1}', b' {"x":1} \r\n',
    b'{"eventType":"a","eventType":"b"}', b'{"data":{"type":"a"},"data":{"date":1}}', b'{"data":{"type":"a","type":"b"}}',
    b'{"eventType":"\xff"}', b'{"uuid":"7e123","x":"1e400"}', b'{"data":null}', b'{"eventType":1}', b'[1]', b'"x"',
    b'{"data.type":1,"data":{"date":"x","type":"s"}}',
    b'{"eventType":"","published":null,"data":{}}', b'{"uuid":"","published":false,"data":{"type":"","date":0}}',
]


@pytest.mark.parametrize("raw", EDGES)
def test_what_is_accepted_orjson_accepts_and_reads_alike(raw):
    check(raw)


def test_the_check_refuses_what_skipping_lets_through():
    """Each of these decodes (the skipping accepts it) and orjson rejects it."""
    for raw in [b'{"x":"\xff"}', b'{"x":"\xed\xa0\x80"}', b'{"x":1e400}', b'{"x":[2E+308]}',
                b'{"x":' + b"1" * 310 + b"}"]:
        FIELDS.decode(raw)
        assert orjson_object(raw) is None and not valid(raw), raw[:40]


def test_deep_nesting_is_refused_whatever_the_recursion_limit():
    deep = b'{"x":' + b"[" * 1100 + b"]" * 1100 + b"}"
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)
    try:
        FIELDS.decode(deep)  # msgspec's bound is Python's recursion limit: it accepts this now
    finally:
        sys.setrecursionlimit(old)
    assert orjson_object(deep) is None and not valid(deep)


@pytest.mark.parametrize("source", ["okta", "auth0", "salesforce"])
def test_simulated_lines_pass_the_check(source):
    from tokentrail.simulate import generate

    lines = [orjson.dumps(e) for e in generate(["all"], events=1000, seed=3, sources=(source,))]
    assert all(map(valid, lines))


_INTERESTING = list(b'0123456789eE+-.,:[]{}" \t\r\n\x00\x0b\x7f') + [0x80, 0xa0, 0xc0, 0xc3, 0xe2, 0xed, 0xef, 0xf4, 0xff]


@st.composite
def mutated(draw) -> bytes:
    """A valid line with a few bytes replaced, inserted or deleted."""
    base = bytearray(draw(st.sampled_from([
        b'{"eventType":"user.session.start","uuid":"0946205f-e123","published":"2025","n":1.5e10,"a":[1,{"b":null}]}',
        b'{"log_id":"900017","data":{"type":"s","date":"2025","details":{"stats":{"loginsCount":10}},"lat":30.27}}',
        b'{"EVENT_TYPE":"Login","REQUEST_ID":"49olF","RUN_TIME":318,"USER_NAME":"caf\xc3\xa9","ok":true}',
    ])))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(base)))
        byte = draw(st.sampled_from(_INTERESTING))
        what = draw(st.integers(0, 2))
        if what == 0 and at < len(base):
            base[at] = byte
        elif what == 1:
            base[at:at] = bytes([byte]) * draw(st.sampled_from([1, 1, 3, 320]))
        elif at < len(base):
            del base[at]
    return bytes(base)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
@example(b'{"eventType":"user.session.start","uuid":"0946205f-e123","published":"2025","n":1.5e400}')
@example(b'{"EVENT_TYPE":"Login","REQUEST_ID":"49olF","USER_NAME":"caf\xc3"}')
def test_mutated_lines_accepted_only_as_orjson_accepts_them(raw):
    check(raw)
