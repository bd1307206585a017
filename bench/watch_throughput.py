"""Live throughput: ``tokentrail watch okta --once`` over the Okta imitation next to ``tokentrail
scan`` over the same events as a file.

    python bench/watch_throughput.py [--events 1000000] [--seed 7] [--rounds 3]

Writes N simulated Okta events (JSONL, cached under bench/data/, the file scan_throughput.py
uses), serves them from the Okta imitation in this process (uvicorn in a thread, pages of 1000),
then times, in turn, ``tokentrail scan FILE`` (one worker, and one per core as by default) and
``tokentrail watch okta --once`` into a JSONL sink with a fresh state, each a subprocess, with
the bundled pack. Wall times include process start and rule loading for both. Peak RSS of watch
(VmHWM) at N/4 and N events shows whether memory grows with the events pulled. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scan_throughput import write_events  # noqa: E402

TOKEN = "bench-token-not-secret"

# VmHWM of the command itself (ru_maxrss of a child started from this big process would be ours).
_RSS_PROBE = """
import sys
from tokentrail.cli import main
try:
    main()
finally:
    with open("/proc/self/status") as fh:
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    print("VmHWM", hwm, file=sys.stderr)
"""


CPU_SECONDS: list[float] = []  # user + system seconds of each command run, in order


def run(args: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of ``tokentrail ARGS``; its CPU time goes to CPU_SECONDS."""
    import resource

    env = {**os.environ, "BENCH_TOKEN": TOKEN}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RSS_PROBE, *args], env=env, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"tokentrail {' '.join(args[:2])} failed: {proc.stderr[-2000:]}")
    hwm = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("VmHWM"))
    return wall, hwm / 1024, proc.stdout


def watch_once(url: str) -> tuple[float, float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        wall, rss, out = run(["watch", "okta", "--org-url", url, "--token-env", "BENCH_TOKEN", "--once",
                              "--state", f"{tmp}/state.sqlite", "--sink", f"jsonl:{tmp}/alerts.jsonl",
                              "--format", "json"])
    return wall, rss, orjson.loads(out)["sources"][0]


def scan_file(path: Path, workers: int) -> tuple[float, float]:
    wall, rss, _ = run(["scan", str(path), "--format", "jsonl", "--output", "/dev/null", "-j", str(workers)])
    return wall, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from tokentrail.sources.imitate.okta import okta_app
    from tokentrail.sources.imitate.server import running

    data = HERE / "data"
    sizes = (args.events // 4, args.events)
    rows, rss = [], {}
    for n in sizes:
        path = write_events(data / f"okta_{n}.jsonl", n, args.seed)
        with open(path, "rb") as fh:  # the imitation keeps each event's bytes, not the dicts
            app = okta_app((orjson.loads(line) for line in fh), tokens=[TOKEN])
        with running(app) as imitation:
            if n != args.events:
                rss[n] = watch_once(imitation.url)[1]
                continue
            for _ in range(args.rounds):
                t1, _ = scan_file(path, 1)
                t0, _ = scan_file(path, 0)
                tw, peak, status = watch_once(imitation.url)
                assert status["events"] == n, status
                cpu_scan1, _, cpu_watch = CPU_SECONDS[-3:]
                rows.append((n / t1, n / t0, n / tw, status["alerts"], cpu_scan1, cpu_watch))
                rss[n] = peak
    print(f"{args.events:,} simulated Okta events, bundled pack; rates are events / wall time of the "
          "whole command\n")
    print("| round | scan -j 1 | scan (one worker per core) | watch okta --once | watch / scan -j 1 | "
          "watch / scan | CPU s scan -j 1 / watch | alerts |")
    print("|---|---|---|---|---|---|---|---|")
    for i, (s1, s0, w, alerts, c1, cw) in enumerate(rows, 1):
        print(f"| {i} | {s1:,.0f}/s | {s0:,.0f}/s | {w:,.0f}/s | {w / s1:.0%} | {w / s0:.0%} | "
              f"{c1:.0f} / {cw:.0f} | {alerts} |")
    ratios = sorted(w / s0 for _, s0, w, *_ in rows)
    print(f"\nmedian watch / scan: {ratios[len(ratios) // 2]:.0%} (goal >= 50%)\n")
    print("| peak RSS of watch | MB |")
    print("|---|---|")
    for n in sizes:
        print(f"| {n:,} events | {rss[n]:.0f} |")


if __name__ == "__main__":
    main()
