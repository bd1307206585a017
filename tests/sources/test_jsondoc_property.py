"""The document scanner and the line splitter give what a whole-input parse gives, wherever the
reads happen to cut the input (down to one byte at a time); damaged input is reported, not raised."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrail.sources.jsondoc import DocumentScanner
from tokentrail.sources.lines import line_batches

# Strings full of what a scanner can trip on: quotes, backslashes, brackets, newlines, non-ASCII.
text = st.text(alphabet=st.sampled_from(list('ab"\\{}[],: \n\té€😀')), max_size=12)
scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | text
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                      max_leaves=12)
events = st.lists(st.dictionaries(text, values, min_size=1, max_size=4), max_size=6)


def reads(data: bytes, sizes: list[int]):
    """A read function handing out ``data`` in pieces of the given sizes (cycling)."""
    state = {"at": 0, "i": 0}

    def read(n: int) -> bytes:
        at = state["at"]
        size = min(n, sizes[state["i"] % len(sizes)])
        state["i"] += 1
        state["at"] = at + size
        return data[at:at + size]

    return read


def scan(read):
    errors = []
    scanner = DocumentScanner(read, b"", 1, limit=1 << 20, line_limit=1 << 20,
                              reject=lambda message, line: errors.append((message, line)))
    out = scanner.events()
    got = []
    try:
        while True:
            got.append(next(out)[0])
    except StopIteration as end:
        return got, errors, end.value


@settings(max_examples=150, deadline=None)
@given(events, st.sampled_from([None, 0, 2]), st.lists(st.integers(1, 9), min_size=1, max_size=5),
       st.sampled_from(["array", "records", "hits"]))
def test_documents_read_the_same_whatever_the_reads(items, indent, sizes, shape):
    doc = items if shape == "array" else {"next": "x", "records": items} if shape == "records" else \
        {"hits": {"total": len(items), "hits": [{"_id": i, "_source": e} for i, e in enumerate(items)]}}
    data = json.dumps(doc, indent=indent).encode()
    got, errors, rest = scan(reads(data, sizes))
    if shape != "array" and not items:
        # an empty wrapper is an object like any other: read as one event
        assert got == [doc] and errors == [] and rest in (None, (b"", 1))
        return
    assert got == items and errors == []
    assert rest is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(text, values, min_size=1, max_size=4), min_size=1, max_size=6),
       st.lists(st.integers(1, 9), min_size=1, max_size=5))
def test_json_lines_split_the_same_whatever_the_reads(items, sizes):
    data = b"".join(json.dumps(e).encode() + b"\n" for e in items)
    got = [json.loads(line) for _, batch in line_batches(reads(data, sizes), 1 << 20, None) for line in batch if line]
    assert got == items
    # Read as a document, the first line hands the rest over as JSON lines: what the scanner
    # still held, then what the input still has.
    read = reads(data, sizes)
    first, errors, rest = scan(read)
    assert errors == [] and first == items[:1] and rest is not None
    tail, line = rest
    while piece := read(1 << 20):
        tail += piece
    assert line == 1 and [json.loads(x) for x in tail.split(b"\n") if x] == items[1:]


@settings(max_examples=200, deadline=None)
@given(events, st.sampled_from([None, 1]), st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=4),
       st.lists(st.integers(1, 9), min_size=1, max_size=5))
def test_damaged_documents_are_reported_never_raised(items, indent, damage, sizes):
    data = bytearray(json.dumps(items, indent=indent).encode())
    for at, junk in damage:
        at %= len(data) + 1
        data[at:at + len(junk)] = junk
    got, errors, _ = scan(reads(bytes(data), sizes))  # no exception escapes, and it ends
    assert all(isinstance(e, dict) for e in got)
    assert all(isinstance(message, str) and (line is None or line >= 1) for message, line in errors)
