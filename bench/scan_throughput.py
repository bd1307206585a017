"""Scan throughput: ``tokentrail scan`` next to a bare orjson parse loop over the same file.

    python bench/scan_throughput.py [--events 1000000] [--seed 7] [--rounds 3]

Writes N simulated Okta events (JSONL, cached under bench/data/), loads the bundled pack plus a
200-rule synthetic Sigma pack, then in one run times, in turn, a bare ``orjson.loads`` loop over
the file and the scan through the library API as ``tokentrail scan`` runs it (one worker per
core): bare, scan, bare, scan, ..., bare. Each scan is compared with the faster of the two bare
loops either side of it, so a noisy neighbour slowing one pass shows up as one odd round rather
than skewing the result; the median round is the result. Then ``tokentrail scan`` runs as a
subprocess for peak RSS, at N and N/4 events, to show memory does not grow with file size.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic_pack import write_pack  # noqa: E402


def write_events(path: Path, events: int, seed: int) -> Path:
    from tokentrail.simulate import generate

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        for event in generate(["all"], events=events, seed=seed, sources=("okta",)):
            fh.write(orjson.dumps(event) + b"\n")
    tmp.rename(path)
    return path


def warm_cache(path: Path) -> None:
    """Read the file once so every timed pass finds it in the page cache."""
    with open(path, "rb") as fh:
        while fh.read(64 << 20):
            pass


def bare_parse(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    n = 0
    loads = orjson.loads
    with open(path, "rb") as fh:
        for line in fh:
            loads(line)
            n += 1
    return n, time.perf_counter() - started


def library_scan(path: Path, loaded) -> tuple[int, float, int]:
    from tokentrail import scan

    started = time.perf_counter()
    result = scan([path], loaded, workers=0)  # as `tokentrail scan` does: one process per core
    return result.stats.events, time.perf_counter() - started, len(result.alerts)


# The scan's own peak is VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so
# a probe started from this (large) benchmark process would report this process's size.
_RSS_PROBE = """
import resource, sys
from tokentrail.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    with open("/proc/self/status") as fh:
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    print(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
"""


def cli_peak_rss(path: Path, rule_dirs: list[Path]) -> tuple[float, float]:
    """Peak RSS (MB) of one ``tokentrail scan`` process writing JSON lines to /dev/null, and the
    largest of its worker processes."""
    from tokentrail.content import default_rule_paths

    args = ["scan", str(path), "--format", "jsonl", "--output", "/dev/null"]
    for d in [*default_rule_paths(), *rule_dirs]:
        args += ["-r", str(d)]
    proc = subprocess.run([sys.executable, "-c", _RSS_PROBE, *args], check=False,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    own, children = proc.stderr.strip().splitlines()[-1].split()
    return int(own) / 1024, int(children) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3, help="scan passes, each between two bare loops")
    args = ap.parse_args()
    data = HERE / "data"
    pack = write_pack(data / "synthetic_pack", 200)
    big = write_events(data / f"okta_{args.events}.jsonl", args.events, args.seed)
    small = write_events(data / f"okta_{args.events // 4}.jsonl", args.events // 4, args.seed)

    from tokentrail import load_rules
    from tokentrail.content import default_rule_paths

    loaded = load_rules([*default_rule_paths(), pack])
    assert not loaded.errors, loaded.errors[:3]
    warm_cache(big)
    n_bare, t_bare = bare_parse(big)
    rounds = []
    for _ in range(args.rounds):
        n_scan, t_scan, n_alerts = library_scan(big, loaded)
        n_bare, t_next = bare_parse(big)
        baseline = min(t_bare, t_next)
        rounds.append((n_bare / baseline, n_scan / t_scan, n_alerts))
        t_bare = t_next
    rss_small = cli_peak_rss(small, [pack])
    rss_big = cli_peak_rss(big, [pack])
    size_mb = big.stat().st_size / 1e6
    print(f"{n_bare:,} Okta events, {size_mb:.0f} MB JSONL; {len(loaded.runnable)} rules\n")
    print("| round | bare orjson.loads loop | tokentrail scan | ratio | alerts |")
    print("|---|---|---|---|---|")
    for i, (bare_rate, scan_rate, n_alerts) in enumerate(rounds, 1):
        print(f"| {i} | {bare_rate:,.0f} events/s | {scan_rate:,.0f} events/s | {scan_rate / bare_rate:.0%} | {n_alerts} |")
    ratios = sorted(scan_rate / bare_rate for bare_rate, scan_rate, _ in rounds)
    print(f"\nmedian ratio scan / bare parse: {ratios[len(ratios) // 2]:.0%} (goal >= 60%)\n")
    print("| peak RSS, CLI scan | parent | largest worker |")
    print("|---|---|---|")
    for n, (own, worker) in ((args.events // 4, rss_small), (args.events, rss_big)):
        print(f"| {n:,} events | {own:.0f} MB | {worker:.0f} MB |")
    print("\n(goal: under 300 MB)")


if __name__ == "__main__":
    main()
