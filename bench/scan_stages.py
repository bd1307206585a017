"""Where a scan's time goes, per event: read, validate, detect log type, match, digest, parent.

    python bench/scan_stages.py [--pack public|synthetic|bundled] [--log okta|auth0|salesforce]
                                [--events 200000] [--lines 50000] [--rounds 3]

CPU time (``time.process_time``) per event of each stage, one process, on lines held in memory
(the first ``--lines`` lines of the benchmark file ``bench/scan_throughput.py`` writes), for the
plain path and the fast path side by side. Each stage is timed as a loop doing everything up to
it, and reported as the difference from the loop before, so the stages add up. Then the fast
path's proof alone per line (``take``) beside ``orjson.loads`` and simdjson's bare parse (the
validation ``take`` ends with) over the same lines. Then one scan with two workers: the parent's own CPU per event (deduplication, routing, alerting) and the workers'
(from ``RUSAGE_CHILDREN``). The best of ``--rounds`` rounds is kept (the machine is shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scan_throughput import rule_dirs, write_events  # noqa: E402


def cpu_per_event(loop, n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        loop()
        best = min(best, time.process_time() - started)
    return best / n * 1e6


def each(one, rows):
    """A loop calling ``one`` on every row, dropping each result before the next call (simdjson
    reuses its parser only then)."""
    def run():
        for raw in rows:
            one(raw)
    return run


def stage_loops(engine, data: bytes):
    """Cumulative loops over the raw bytes of the lines: each does one stage more."""
    from tokentrail.sources.lines import READ_BYTES, LineSplitter

    def split():
        splitter = LineSplitter(1 << 25, lambda *a: None)
        out = []
        for at in range(0, len(data), READ_BYTES):
            out.append(splitter.feed(data[at:at + READ_BYTES])[1])
        return out

    detect, index_of, digest = engine._detect, engine.plan.indexes.get, engine.digest
    loads = orjson.loads

    def plain(depth: int):
        def run():
            for batch in split():
                for raw in batch:
                    if not raw or depth < 1:
                        continue
                    event = loads(raw)
                    if depth < 2:
                        continue
                    found = detect(event)
                    if found.__class__ is not str:
                        if found is None:
                            continue
                        event, found = found.event, found.log_type
                    if depth < 3:
                        continue
                    index = index_of(found)
                    units = None if index is None else index.matching(event)
                    if depth < 4 or units is None:
                        continue
                    for unit in units:
                        tuple(digest(unit, event))
        return run

    take = engine.prefilter.take

    def fast():
        for batch in split():
            for raw in batch:
                if not raw or take(raw) is not None:
                    continue
                event = loads(raw)
                found = detect(event)
                if found.__class__ is not str:
                    if found is None:
                        continue
                    event, found = found.event, found.log_type
                index = index_of(found)
                units = None if index is None else index.matching(event)
                for unit in units or ():
                    tuple(digest(unit, event))

    return split, plain, fast


def parallel_cpu(path: Path, loaded, prefilter: bool) -> tuple[float, float, int]:
    """(parent µs per event, workers µs per event, events) of one two-worker scan, run in a
    child process of its own so that RUSAGE_CHILDREN counts only its workers."""
    import subprocess

    code = (
        "import resource, sys, time\n"
        "from tokentrail import load_rules, scan\n"
        "rules = load_rules(sys.argv[2:])\n"
        "t = time.process_time()\n"
        "r = scan([sys.argv[1]], rules, workers=2, prefilter=" + repr(prefilter) + ")\n"
        "own = time.process_time() - t\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(own, kids.ru_utime + kids.ru_stime, r.stats.events)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path), *map(str, loaded)], check=True,
                         capture_output=True, text=True).stdout.split()
    own, kids, events = float(out[0]), float(out[1]), int(out[2])
    return own / events * 1e6, kids / events * 1e6, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="size of the benchmark file to read")
    ap.add_argument("--lines", type=int, default=50_000, help="lines held in memory for the stage loops")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pack", choices=("public", "synthetic", "bundled"), default="public")
    ap.add_argument("--log", choices=("okta", "auth0", "salesforce"), default="okta")
    args = ap.parse_args()
    from tokentrail import load_rules
    from tokentrail.engine import StreamingEngine
    from tokentrail.engine.jsonguard import strict_parser

    data_dir = HERE / "data"
    dirs = rule_dirs(args.pack, data_dir)
    path = write_events(data_dir / f"{args.log}_{args.events}.jsonl", args.events, args.seed, args.log)
    with open(path, "rb") as fh:
        data = b"".join(line for _, line in zip(range(args.lines), fh, strict=False))
    n = data.count(b"\n")
    engine = StreamingEngine(load_rules(dirs).rules)
    split, plain, fast = stage_loops(engine, data)
    take = engine.prefilter.take or (lambda raw: None)
    names = ["read (split lines)", "validate (orjson.loads)", "detect log type", "match", "digest"]
    costs = [cpu_per_event(split, n, args.rounds)] + [cpu_per_event(plain(d), n, args.rounds) for d in range(1, 5)]
    fast_cost = cpu_per_event(fast, n, args.rounds)
    taken = sum(engine.prefilter.take(raw) is not None for raw in data.split(b"\n") if raw)
    print(f"{n:,} {args.log} lines in memory, pack {args.pack}; {engine.prefilter.off or 'prefilter on'}; "
          f"fast path takes {taken / n:.1%} of the lines\n")
    print("| stage, one process | plain path, µs per event | fast path, µs per event |")
    print("|---|---|---|")
    before = 0.0
    for name, cost in zip(names, costs, strict=True):
        print(f"| {name} | {cost - before:.2f} | {'' if before else f'{cost:.2f}'} |")
        before = cost
    print(f"| validate + detect + match + digest, fast path (taken lines: msgspec fields, key tests, anchor, "
          f"id, simdjson validation; the rest as plain) | | {fast_cost - costs[0]:.2f} |")
    print(f"| **total** | **{costs[-1]:.2f}** | **{fast_cost:.2f}** |\n")
    rows = data.split(b"\n")[:-1]
    parse = strict_parser()
    print("| per line, one process | µs per line |")
    print("|---|---|")
    for label, one in (("orjson.loads", orjson.loads), ("take (the fast path's proof; None for a line left plain)", take),
                       ("simdjson bare parse (part of take)", parse)):
        print(f"| {label} | {cpu_per_event(each(one, rows), n, args.rounds):.2f} |")
    print()
    print("| two workers | parent, µs per event | workers, µs per event (both) |")
    print("|---|---|---|")
    for label, pre in (("plain path", False), ("fast path", True)):
        own, kids, _ = parallel_cpu(path, dirs, pre)
        print(f"| {label} | {own:.2f} | {kids:.2f} |")


if __name__ == "__main__":
    main()
