"""Live throughput: ``tokentrail watch okta --once`` over the Okta imitation next to ``tokentrail
scan`` over the same events as a file.

    python bench/watch_throughput.py [--events 1000000] [--seed 7] [--rounds 3]
        [--imitation process|thread] [--rss-sizes 50000,200000,500000]

Writes N simulated Okta events (JSONL, cached under bench/data/, the file scan_throughput.py
uses) and serves them from the Okta imitation (pages of 1000): by default ``tokentrail imitate``
in its own process, so its CPU is not charged to watch (``--imitation thread``: uvicorn in a
thread of this process, as before). Then it times, in turn, ``tokentrail scan FILE`` (one worker,
and one per core as by default) and ``tokentrail watch okta --once`` into a JSONL sink with a
fresh state, each a subprocess, with the bundled pack. Wall times include process start and rule
loading for both; CPU seconds are user + system of each command (its workers included). Peak RSS
of watch (VmHWM) at each of ``--rss-sizes`` (the first events of the N file) and at N shows
whether memory grows with the events pulled. Prints Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scan_throughput import write_events  # noqa: E402

TOKEN = "bench-token-not-secret"
ENV = {**os.environ, "BENCH_TOKEN": TOKEN}

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
_CLI = "from tokentrail.cli import main; main()"


def run(args: list[str]) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS MB, stdout) of ``tokentrail ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RSS_PROBE, *args], env=ENV, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if proc.returncode not in (0, 1):
        raise SystemExit(f"tokentrail {' '.join(args[:2])} failed: {proc.stderr[-2000:]}")
    hwm = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("VmHWM"))
    return wall, cpu, hwm / 1024, proc.stdout


@contextlib.contextmanager
def imitation(path: Path, mode: str) -> Iterator[str]:
    """The URL of the Okta imitation serving the events of ``path``, for the block."""
    if mode == "thread":
        from tokentrail.sources.imitate.okta import okta_app
        from tokentrail.sources.imitate.server import running

        with open(path, "rb") as fh:  # the imitation keeps each event's bytes, not the dicts
            app = okta_app((orjson.loads(line) for line in fh), tokens=[TOKEN])
        with running(app) as served:
            yield served.url
        return
    # Its own process: started with Popen and reaped after the timed commands, so its CPU never
    # enters the RUSAGE_CHILDREN deltas of the commands.
    proc = subprocess.Popen([sys.executable, "-c", _CLI, "imitate", "okta", "--events", str(path),
                             "--token-env", "BENCH_TOKEN", "--format", "json"], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline() if proc.stdout else b""
        if not line:
            raise SystemExit("the imitation did not start")
        yield orjson.loads(line)["url"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def watch_once(url: str) -> tuple[float, float, float, dict]:
    """(wall, CPU, peak RSS MB, the source's status) of one ``watch okta --once`` from scratch."""
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu, rss, out = run(["watch", "okta", "--org-url", url, "--token-env", "BENCH_TOKEN", "--once",
                                   "--state", f"{tmp}/state.sqlite", "--sink", f"jsonl:{tmp}/alerts.jsonl",
                                   "--format", "json"])
    return wall, cpu, rss, orjson.loads(out)["sources"][0]


def scan_file(path: Path, workers: int) -> tuple[float, float]:
    """(wall, CPU) of one scan of ``path``."""
    wall, cpu, _, _ = run(["scan", str(path), "--format", "jsonl", "--output", "/dev/null", "-j", str(workers)])
    return wall, cpu


def prefix(path: Path, n: int) -> Path:
    """The first ``n`` lines of ``path`` as a file beside it (made once)."""
    out = path.with_name(f"{path.stem}.first_{n}.jsonl")
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            for _, line in zip(range(n), src, strict=False):
                dst.write(line)
        tmp.rename(out)
    return out


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--imitation", choices=("process", "thread"), default="process")
    ap.add_argument("--rss-sizes", default="", help="comma-separated event counts (default: N/4)")
    args = ap.parse_args()

    path = write_events(HERE / "data" / f"okta_{args.events}.jsonl", args.events, args.seed)
    sizes = [int(s) for s in args.rss_sizes.split(",") if s] or [args.events // 4]
    rss: dict[int, tuple[float, float, float]] = {}
    for n in sizes:
        with imitation(prefix(path, n), args.imitation) as url:
            wall, cpu, peak, status = watch_once(url)
            assert status["events"] == n, status
            rss[n] = (peak, wall, cpu)
            print(f"watch of {n:,}: {peak:.0f} MB, {wall:.1f} s wall, {cpu:.1f} s CPU (load {load_average()})",
                  file=sys.stderr)
    rows = []
    with imitation(path, args.imitation) as url:
        for _ in range(args.rounds):
            load = load_average()
            t1, c1 = scan_file(path, 1)
            t0, c0 = scan_file(path, 0)
            tw, cw, peak, status = watch_once(url)
            assert status["events"] == args.events, status
            rows.append((t1, c1, t0, c0, tw, cw, status["alerts"], f"{load} → {load_average()}"))
            rss[args.events] = (peak, tw, cw)
            print(rows[-1], file=sys.stderr)
    n = args.events
    print(f"{n:,} simulated Okta events, bundled pack, imitation in {'its own process' if args.imitation == 'process' else 'a thread of the benchmark'}; "
          "rates are events / wall time of the whole command, CPU is user + system seconds\n")
    print("| round | scan -j 1 | scan (one worker per core) | watch okta --once | watch / scan -j 1 | "
          "watch / scan | CPU s scan -j 1 / scan / watch | CPU ratio scan -j 1 / watch | alerts | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i, (t1, c1, t0, c0, tw, cw, alerts, load) in enumerate(rows, 1):
        print(f"| {i} | {n / t1:,.0f}/s | {n / t0:,.0f}/s | {n / tw:,.0f}/s | {t1 / tw:.0%} | {t0 / tw:.0%} | "
              f"{c1:.1f} / {c0:.1f} / {cw:.1f} | {c1 / cw:.0%} | {alerts} | {load} |")
    ratios = sorted(r[2] / r[4] for r in rows)
    print(f"\nmedian watch / scan: {ratios[len(ratios) // 2]:.0%} (goal >= 50%)\n")
    print("| events pulled | peak RSS of watch (VmHWM) | watch wall s | watch CPU s |")
    print("|---|---|---|---|")
    for size in sorted(rss):
        peak, wall, cpu = rss[size]
        print(f"| {size:,} | {peak:.0f} MB | {wall:.1f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
