"""The live loop over a real local HTTP API: alerts as a scan gives them, each once, across
restarts and a crash between the sink write and the checkpoint."""

from __future__ import annotations

import threading

import orjson
import pytest
from live_support import PageCollector, PageServer, mixed_events, okta_event, write_rules

from tokentrail import api
from tokentrail.live.pipeline import CHECKPOINT_NS
from tokentrail.live.runner import COMMIT_SECONDS, LiveRun
from tokentrail.live.sinkset import SinkSet
from tokentrail.sinks.alert_store import AlertQuery, AlertStore
from tokentrail.sinks.jsonl import JsonlSink
from tokentrail.state import StateStore


def scan_ids(tmp_path, events, rules):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    result = api.scan([path], rules, workers=1)
    return sorted((a.id, tuple(sorted(a.event_ids))) for a in result.alerts)


def file_alerts(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def watch(tmp_path, url, rules, *, pages=None, once=True, extra_sinks=(), commit_every=COMMIT_SECONDS):
    state = StateStore(tmp_path / "state.sqlite")
    state.hold()
    sinks = SinkSet([JsonlSink(tmp_path / "alerts.jsonl"), AlertStore(tmp_path / "alerts.sqlite"), *extra_sinks])
    try:
        run = LiveRun(rules, state, sinks, [PageCollector(url, pages=pages)], once=once, commit_every=commit_every)
        result = run.run(threading.Event())
    finally:
        sinks.close()
        state.close()
    return result


@pytest.fixture
def rules(tmp_path):
    loaded = api.load_rules([write_rules(tmp_path)])
    assert not loaded.errors
    return loaded.rules


def test_once_gives_the_alerts_of_a_scan_in_both_sinks(tmp_path, rules):
    events = mixed_events(300)
    expected = scan_ids(tmp_path, events, rules)
    assert any(len(ids) == 3 for _, ids in expected)  # the correlation fired, not only single alerts
    with PageServer(events, 40) as server:
        result = watch(tmp_path, server.url, rules)
    assert not result.errors
    assert result.sources[0].events == 300
    got = sorted((a["id"], tuple(sorted(a["event_ids"]))) for a in file_alerts(tmp_path / "alerts.jsonl"))
    assert got == expected
    stored = list(AlertStore(tmp_path / "alerts.sqlite").query(AlertQuery()))
    assert sorted((a["id"], tuple(sorted(a["event_ids"]))) for a in stored) == expected


def test_restarts_resume_at_the_checkpoint_with_the_open_windows(tmp_path, rules):
    # Each run takes two pages and stops; a correlation window open at a stop must be carried
    # into the next run, or a burst spanning the cut is lost.
    events = mixed_events(300)
    expected = scan_ids(tmp_path, events, rules)
    with PageServer(events, 25) as server:
        for _ in range(5):
            watch(tmp_path, server.url, rules, pages=2, once=False)
        state = StateStore(tmp_path / "state.sqlite")
        assert state.get(CHECKPOINT_NS, "test") == "10"
        state.close()
        watch(tmp_path, server.url, rules)
    alerts = file_alerts(tmp_path / "alerts.jsonl")
    assert len(alerts) == len({a["id"] for a in alerts})
    assert sorted((a["id"], tuple(sorted(a["event_ids"]))) for a in alerts) == expected


class CrashAfter:
    """A sink that kills the run (as a SIGKILL would: nothing after it runs) on its Nth batch."""

    name = "crash"

    def __init__(self, n: int) -> None:
        self.n = n

    def deliver(self, records) -> None:
        self.n -= 1
        if self.n == 0:
            raise SystemExit("killed")

    def mark(self):
        return None

    def recover(self, mark) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize("commit_every", [0.0, 3600.0], ids=["a commit per page", "pages committed together"])
def test_a_crash_after_the_jsonl_write_repeats_no_alert(tmp_path, rules, commit_every):
    events = mixed_events(200)
    expected = scan_ids(tmp_path, events, rules)
    with PageServer(events, 20) as server:
        for n in ((2, 3, 1) if commit_every == 0 else (1, 1)):
            with pytest.raises(SystemExit):
                watch(tmp_path, server.url, rules, extra_sinks=[CrashAfter(n)], commit_every=commit_every)
        watch(tmp_path, server.url, rules, commit_every=commit_every)
    alerts = file_alerts(tmp_path / "alerts.jsonl")
    assert len(alerts) == len({a["id"] for a in alerts})
    assert sorted((a["id"], tuple(sorted(a["event_ids"]))) for a in alerts) == expected


def test_a_torn_last_line_is_cut_and_alerts_past_the_mark_are_not_written_again(tmp_path):
    path = tmp_path / "alerts.jsonl"
    committed = orjson.dumps({"id": "a1"}) + b"\n"
    path.write_bytes(committed + orjson.dumps({"id": "a2"}) + b"\n" + b'{"id": "a3", "ti')
    sink = JsonlSink(path)
    sink.recover(len(committed))
    sink.deliver([{"id": "a2"}, {"id": "a3"}])
    sink.close()
    assert [orjson.loads(line)["id"] for line in path.read_bytes().splitlines()] == ["a1", "a2", "a3"]


def test_a_failed_append_is_cut_back_and_the_retry_leaves_whole_lines(tmp_path, monkeypatch):
    import os as os_module

    from tokentrail.sinks.base import SinkError

    path = tmp_path / "alerts.jsonl"
    sink = JsonlSink(path)
    sink.deliver([{"id": "a1"}])
    real_write = os_module.write
    calls = []

    def half_then_full(fd, data):  # the disk fills after half of the batch
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os_module, "write", half_then_full)
    with pytest.raises(SinkError, match="No space left"):
        sink.deliver([{"id": "a2", "title": "x" * 100}, {"id": "a3"}])
    monkeypatch.setattr(os_module, "write", real_write)
    assert path.read_bytes() == b'{"id":"a1"}\n'
    sink.deliver([{"id": "a2"}, {"id": "a3"}])
    sink.close()
    assert [orjson.loads(line)["id"] for line in path.read_bytes().splitlines()] == ["a1", "a2", "a3"]


class CountingState(StateStore):
    """The real store, counting its commits."""

    commits = 0

    def commit(self) -> None:
        self.commits += 1
        super().commit()


def test_quiet_pages_share_commits_yet_give_the_alerts_of_a_scan(tmp_path, rules):
    # Five pages with alerts, then ten that no rule matches.
    events = mixed_events(100) + [okta_event(n, "user.account.lock", "dave@example.com", minute=n // 7)
                                  for n in range(100, 300)]
    expected = scan_ids(tmp_path, events, rules)
    commits = {}
    with PageServer(events, 20) as server:
        for commit_every in (0.0, 3600.0):
            where = tmp_path / str(commit_every)
            where.mkdir()
            state = CountingState(where / "state.sqlite")
            state.hold()
            sinks = SinkSet([JsonlSink(where / "alerts.jsonl")])
            try:
                result = LiveRun(rules, state, sinks, [PageCollector(server.url)], once=True,
                                 commit_every=commit_every).run(threading.Event())
            finally:
                sinks.close()
            assert result.sources[0].batches == 16  # 15 pages of events, the empty one says caught up
            assert state.get(CHECKPOINT_NS, "test") == "15"  # the empty page points at itself
            state.close()
            commits[commit_every] = state.commits
            got = sorted((a["id"], tuple(sorted(a["event_ids"]))) for a in file_alerts(where / "alerts.jsonl"))
            assert got == expected
    assert commits[0.0] >= 16  # one a page, and the closing of the windows
    assert commits[3600.0] <= commits[0.0] - 8  # not the quiet pages, but idle moments may add one
