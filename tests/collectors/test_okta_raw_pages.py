"""Okta pages as the events' JSON texts (``raw_pages``, what the live pipeline asks for): the
texts parse to exactly the events of the parsed pages, through paging, resume and injected
faults; a body that is not a plain array of objects within the record limit is parsed as before;
and the live pipeline gives the same alerts and counts from texts as from parsed events."""

from __future__ import annotations

import threading

import orjson
import pytest
import simdjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from collect_support import TOKEN, FakeTime, events_of, ids, simulated, until_caught_up
from tokentrail import load_rules
from tokentrail.live.pipeline import Pipeline
from tokentrail.live.sinkset import SinkSet
from tokentrail.sources.collectors.http import object_texts
from tokentrail.sources.collectors.okta import OktaLogCollector
from tokentrail.sources.imitate import FaultPlan, running
from tokentrail.sources.imitate.okta import okta_app, okta_key
from tokentrail.sources.limits import ReadLimits
from tokentrail.state import StateStore

EVENTS = simulated("okta")
PARSER = simdjson.Parser()


def collector(url: str, fake: FakeTime, **kw) -> OktaLogCollector:
    return OktaLogCollector(url, TOKEN, timing=fake.timing(), poll_interval=5.0, limit=200, **kw)


def exact(value) -> bytes:
    """A value's JSON with number types kept apart (1 and 1.0 compare equal in Python)."""
    return orjson.dumps(value)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 63), 2 ** 64 - 1),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.lists(st.sampled_from(['},{', '{', '}', '"', '\\', '[{', '}]', '\n', '\u00e9', '\U0001f511'])
                             | st.characters(blacklist_categories=("Cs",)), max_size=8).map("".join))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                             max_size=4), max_leaves=20)
objects = st.dictionaries(st.text(max_size=8), values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(objects, max_size=6), st.sampled_from([0, 1, 2]))
@example([{"target": [{"id": "a"}, {"id": "b"}], "s": "x},{y"}, {"n": 1.0, "m": -0.0, "b": 2 ** 64 - 1}], 0)
@example([{"k": "\\u00e9 \" \\\\"}], 2)
def test_texts_parse_to_exactly_the_elements(elements, indent):
    option = orjson.OPT_INDENT_2 if indent == 2 else 0
    body = orjson.dumps(elements, option=option)
    if indent == 1:
        body = body.replace(b"},{", b"}, {")
    texts = object_texts(PARSER, body)
    assert texts is not None
    assert [exact(orjson.loads(t)) for t in texts] == [exact(e) for e in orjson.loads(body)]


@pytest.mark.parametrize("body", [b"{}", b"[1, {}]", b'[{"a":1}', b"[{}] x", b'[{"n":123456789012345678901234567890}]',
                                  b'[{"s":"\\ud800"}]', b"\xef\xbb\xbf[{}]", b'{"items":[{}]}', b""])
def test_what_is_not_a_plain_array_of_objects_is_left_to_the_parser(body):
    assert object_texts(PARSER, body) is None
    assert object_texts(PARSER, b'[{"a":1}]') == (b'{"a":1}',)  # the parser is still usable


@pytest.mark.parametrize("batch_size", [1000, 75])
def test_raw_pages_give_the_events_of_parsed_pages_through_faults_and_resume(fake_time, batch_size):
    plan = FaultPlan(schedule=((1, "5xx"), (3, "cut"), (4, "429"), (6, "cut")), reset_after=2)
    want = [e["uuid"] for e in sorted(EVENTS, key=okta_key)]
    with running(okta_app(EVENTS, tokens=[TOKEN], faults=plan, clock=fake_time.clock)) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, raw_pages=True, batch_size=batch_size))
        assert all(b.raw and not b.events for b in batches[:-1])
        assert ids(batches, "uuid") == want
        seen = 0
        for n, batch in enumerate(batches[:-1]):
            seen += len(batch.raw)
            if n % 4 == 1:  # a restart resumes from the stored checkpoint, mid-page too
                rest = until_caught_up(collector(srv.url, fake_time, raw_pages=True, batch_size=batch_size),
                                       batch.checkpoint)
                assert ids(rest, "uuid") == want[seen:]
        parsed = until_caught_up(collector(srv.url, fake_time, batch_size=batch_size))
    assert [exact(e) for b in batches for e in events_of(b)] == [exact(e) for b in parsed for e in b.events]
    assert [b.checkpoint for b in batches] == [b.checkpoint for b in parsed]


def test_a_page_over_the_record_limit_is_parsed_as_before(fake_time):
    events = [dict(e) for e in sorted(EVENTS, key=okta_key)[:50]]
    events[10]["debugContext"] = {"debugData": {"blob": "x" * 300_000}}
    with running(okta_app(events, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, raw_pages=True,
                                            limits=ReadLimits(max_document_bytes=4096)))
    assert not any(b.raw for b in batches)
    assert ids(batches, "uuid") == [e["uuid"] for e in events if e is not events[10]]
    assert sum(len(b.rejected) for b in batches) == 1


def test_the_pipeline_gives_the_same_alerts_and_counts_from_texts(tmp_path):
    pack = load_rules().rules  # the bundled pack
    ordered = sorted(EVENTS, key=okta_key)
    pages = [ordered[i:i + 250] for i in range(0, len(ordered), 250)]
    pages.insert(3, ordered[100:400])  # an API that sends events again: duplicates
    results = []
    for mode in ("events", "raw"):
        state = StateStore(tmp_path / f"{mode}.sqlite")
        state.hold()
        pipeline = Pipeline(pack, state, SinkSet([]), "okta:test")
        alerts, stop = [], threading.Event()
        for n, page in enumerate(pages):
            texts = [orjson.dumps(e) for e in page]
            if mode == "events":
                alerts += pipeline.run_batch(page, f"cp{n}", stop)
            else:
                alerts += pipeline.run_batch((), f"cp{n}", stop, raw=texts)
        alerts += pipeline.finish(stop)
        stats = pipeline.engine.stats
        results.append((sorted(a.id for a in alerts), stats.events, stats.duplicates, dict(stats.by_rule),
                        pipeline.status.to_dict()))
        pipeline.close()
        state.close()
    assert results[0] == results[1]
    assert results[0][0] and results[0][2] == 300  # alerts raised, the repeated events dropped
