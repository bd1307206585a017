"""The running loop of ``tokentrail watch``: one thread per collector pulls pages into a bounded
queue; the loop takes each page through its source's pipeline (rules, sinks, checkpoint).

A page that raised alerts is committed at once (the alerts leave, then its checkpoint is
stored). Pages without alerts are committed together, at most ``commit_every`` seconds apart (and
when the source catches up, when no page came for a moment, and when the run ends): each commit
stores the open windows of the rules that matched and the state, which per page of 1000 events
cost as much as the rules. While pages keep coming, the gap also grows with what the last commit
took (``COMMIT_SHARE``): a backlog with thousands of open groups would otherwise spend most of
its time storing them again. Nothing is durable before its commit, so a crash loses no more than
the restart pulls again.

The queue is the back-pressure: when sinks are slow the collectors stop pulling, and every wait
wakes when the run is stopped. A stop (SIGINT, SIGTERM) lets the page in hand finish and commit;
pages queued behind it are dropped uncommitted, so the next start pulls them again.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tokentrail.engine.gcpolicy import scan_gc
from tokentrail.errors import TokenTrailError, summarize_exception
from tokentrail.live.pipeline import Pipeline, SourceStatus
from tokentrail.live.sinkset import SinkSet, Stopped
from tokentrail.rules.model import Rule
from tokentrail.sources.collectors.base import Batch, Collector
from tokentrail.state import StateStore

# Pages waiting per run: enough to overlap a fetch with the rules, no more (each page of 1000
# Okta events is about 8 MB of parsed objects: the queue is most of a run's peak memory).
QUEUE_PAGES = 2
COMMIT_SECONDS = 1.0  # the longest pages without alerts wait for their commit while pages keep coming
COMMIT_SHARE = 0.05  # ... unless commits would take more than this share of the time
COMMIT_MOST_SECONDS = 30.0  # the gap between commits never grows past this


@dataclass
class RunResult:
    """How a live run ended."""

    sources: list[SourceStatus]
    errors: list[str] = field(default_factory=list)  # a collector that failed, a sink given up on
    stopped: bool = False  # ended by a stop rather than by catching up (``--once``)
    partial: bool = False  # stopped inside a page: the state holds part of it, never to be committed


@dataclass(frozen=True)
class _Done:
    source: str
    error: str | None = None


class LiveRun:
    """Collectors → pipelines → sinks; see the module docstring."""

    def __init__(self, rules: Sequence[Rule], state: StateStore, sinks: SinkSet,
                 collectors: Sequence[Collector], *, once: bool = False,
                 on_status: Callable[[list[SourceStatus]], None] | None = None,
                 on_error: Callable[[str], None] | None = None, status_every: float = 1.0,
                 commit_every: float = COMMIT_SECONDS) -> None:
        names = [c.name for c in collectors]
        if len(set(names)) != len(names):
            raise TokenTrailError(f"two sources share a name: {', '.join(sorted(names))}")
        self.state = state
        self.sinks = sinks
        self.collectors = list(collectors)
        self.once = once
        self.on_status = on_status or (lambda statuses: None)
        self.on_error = on_error or (lambda message: None)
        self.status_every = status_every
        self.commit_every = commit_every
        sinks.recover(state)
        self.pipelines = {c.name: Pipeline(rules, state, sinks, c.name) for c in collectors}

    def run(self, stop: threading.Event) -> RunResult:
        """Run until ``stop`` is set, or with ``once`` until every source has caught up."""
        with scan_gc():  # pages of parsed events, as in a scan: the rule plan need not be walked
            return self._run(stop)

    def _run(self, stop: threading.Event) -> RunResult:
        pages: queue.Queue[tuple[str, Batch] | _Done] = queue.Queue(QUEUE_PAGES)
        halt = threading.Event()  # the collectors' stop: the run's, or the loop ending on its own
        threads = [threading.Thread(target=self._pull, args=(c, pages, halt), name=f"collect {c.name}",
                                    daemon=True) for c in self.collectors]
        for thread in threads:
            thread.start()
        result = RunResult([p.status for p in self.pipelines.values()])
        running = {c.name for c in self.collectors}
        last_status, last_commit, gap = 0.0, time.monotonic(), self.commit_every
        try:
            while running and not stop.is_set():
                try:
                    item = pages.get(timeout=0.2)
                except queue.Empty:
                    item = None
                    self._commit(stop)  # idle: nothing to share the commit with
                    last_commit = time.monotonic()
                came = item is not None
                if isinstance(item, _Done):
                    running.discard(item.source)
                    if item.error:
                        result.errors.append(f"{item.source}: {item.error}")
                        break
                elif item is not None:
                    name, batch = item
                    for line in batch.rejected:  # records the API sent that could not be read
                        self.on_error(line)
                    self.pipelines[name].status.rejected += len(batch.rejected)
                    pipeline = self.pipelines[name]
                    pipeline.run_batch(batch.events, batch.checkpoint, stop, caught_up=batch.caught_up, commit=False,
                                       raw=batch.raw, on_reject=self.on_error)
                    caught_up = batch.caught_up
                    item = batch = None  # the page's events go now, not when the next page comes
                    if pipeline.alerts_waiting or caught_up or time.monotonic() - last_commit >= gap:
                        started = time.monotonic()
                        self._commit(stop)
                        last_commit = time.monotonic()
                        if self.commit_every > 0:  # 0: a commit per page, whatever it costs
                            gap = min(COMMIT_MOST_SECONDS,
                                      max(self.commit_every, (last_commit - started) / COMMIT_SHARE))
                if time.monotonic() - last_status >= self.status_every or came:
                    last_status = time.monotonic()
                    self.on_status(result.sources)
            self._commit(stop)  # the pages in hand at a stop, an error or the end
            result.stopped = stop.is_set()
            if self.once and not running and not result.errors:
                for pipeline in self.pipelines.values():
                    pipeline.finish(stop)
        except Stopped as exc:
            result.stopped = result.partial = True
            result.errors.append(str(exc))
        finally:
            halt.set()
            for thread in threads:
                thread.join(timeout=5)
            for pipeline in self.pipelines.values():
                pipeline.close()
        self.on_status(result.sources)
        return result

    def _commit(self, stop: threading.Event) -> None:
        for pipeline in self.pipelines.values():
            pipeline.commit(stop)

    def _pull(self, collector: Collector, pages: queue.Queue, halt: threading.Event) -> None:
        """A collector thread: pages into the queue until caught up (``once``) or halted."""
        error = None
        try:
            for batch in collector.batches(self.pipelines[collector.name].checkpoint, halt):
                while not halt.is_set():
                    try:
                        pages.put((collector.name, batch), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if halt.is_set() or (self.once and batch.caught_up):
                    break
        except TokenTrailError as exc:
            error = str(exc)
        except Exception as exc:  # a collector's bug must end the run with a line, not a hung loop
            error = summarize_exception(exc)
        while not halt.is_set():
            try:
                pages.put(_Done(collector.name, error), timeout=0.2)
                return
            except queue.Full:
                continue
