"""Collector throughput: the Okta collector pulling N events from the Okta imitation.

    python bench/collect_throughput.py [--events 1000000] [--seed 7] [--limit 1000] [--rounds 2]

Writes N simulated Okta events (JSONL, cached under bench/data/ as scan_throughput.py does), serves
them with ``tokentrail imitate okta`` in its own process, and pulls them all with
``OktaLogCollector`` (polling requests, ``limit`` per page) in this one until caught up, counting
events, pages and the time; this process's peak RSS is read after a tenth of the events and at
the end, to show the collector's memory does not grow with the log. A bare ``orjson.loads`` loop
over the same file is timed beside it, as the scale the scan benchmark uses. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scan_throughput import bare_parse, warm_cache, write_events  # noqa: E402

TOKEN = "bench-imitation-token"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def server_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pull(url: str, limit: int, expected: int) -> tuple[int, int, float, float, float]:
    """(events, batches, seconds, RSS after a tenth, RSS at the end)."""
    from tokentrail.sources.collectors import OktaLogCollector

    collector = OktaLogCollector(url, TOKEN, limit=limit, poll_interval=0.01)
    stop = threading.Event()
    events = batches = 0
    early = 0.0
    started = time.perf_counter()
    for batch in collector.batches(None, stop):
        events += len(batch.events)
        batches += 1
        if not early and events >= expected // 10:
            early = peak_rss_mb()
        if batch.caught_up:
            stop.set()
    return events, batches, time.perf_counter() - started, early, peak_rss_mb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    path = write_events(HERE / "data" / f"okta_{args.events}.jsonl", args.events, args.seed)
    warm_cache(path)
    script = Path(sys.executable).parent / "tokentrail"
    loading = time.perf_counter()
    server = subprocess.Popen([str(script), "imitate", "okta", "--events", str(path), "--token-env", "BENCH_TOKEN",
                               "--format", "json"], stdout=subprocess.PIPE, env={**os.environ, "BENCH_TOKEN": TOKEN})
    try:
        info = orjson.loads(server.stdout.readline() if server.stdout else b"{}")
        loaded = time.perf_counter() - loading
        rows = []
        for n in range(args.rounds):
            bare_n, bare_s = bare_parse(path)
            events, batches, seconds, early, late = pull(info["url"], args.limit, info["events"])
            assert events == info["events"], (events, info["events"])
            rows.append((n + 1, events, batches, seconds, events / seconds, bare_n / bare_s, early, late))
        print(f"Imitation: {info['events']:,} events loaded in {loaded:.0f} s, "
              f"server peak RSS {server_peak_mb(server.pid):,.0f} MB\n")
        print("| round | events | batches | seconds | collector events/s | bare orjson events/s | ratio "
              "| collector RSS at 10% | at 100% |")
        print("|---|---|---|---|---|---|---|---|---|")
        for n, events, batches, seconds, rate, bare, early, late in rows:
            print(f"| {n} | {events:,} | {batches:,} | {seconds:.1f} | {rate:,.0f} | {bare:,.0f} | "
                  f"{rate / bare:.0%} | {early:.0f} MB | {late:.0f} MB |")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
