"""Batch (DuckDB) engine throughput next to the streaming engine and DuckDB's own floor.

    python bench/batch_throughput.py [--events 200000] [--seed 7] [--rounds 3] [--synthetic 200]

Writes N simulated Okta events (JSON lines, cached under bench/data/), loads the bundled pack
plus a synthetic Sigma pack of ``--synthetic`` rules, then times, in turn for each round:
DuckDB's ``SELECT count(*)`` over the same file read as JSON text (the floor: reading and one
parse, no rules), the streaming scan with one process, and the DuckDB scan. Both scans must give
the same alerts, or the run stops. The median round is the result; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scan_throughput import warm_cache, write_events  # noqa: E402
from synthetic_pack import write_pack  # noqa: E402


def duckdb_floor(path: Path) -> float:
    """Seconds DuckDB takes to read the file's lines and check each is JSON: the least any
    JSON-text scan in DuckDB costs."""
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    started = time.perf_counter()
    con.execute("SELECT count(*) FROM read_json_objects(?, format='newline_delimited') WHERE json_valid(json)",
                [str(path)]).fetchall()
    return time.perf_counter() - started


def timed(scan, path: Path, loaded) -> tuple[float, list]:
    started = time.perf_counter()
    result = scan([str(path)], loaded)
    return time.perf_counter() - started, [(a.id, a.event_ids) for a in result.alerts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=200, help="synthetic rules added to the bundled pack")
    args = parser.parse_args()

    from tokentrail import api
    from tokentrail.content import default_rule_paths
    from tokentrail.engine.batch import scan_batch

    data = HERE / "data"
    path = write_events(data / f"okta_{args.events}_{args.seed}.jsonl", args.events, args.seed)
    rule_paths = list(default_rule_paths())
    if args.synthetic:
        rule_paths.append(write_pack(data / f"synthetic_pack_{args.synthetic}", args.synthetic))
    loaded = api.load_rules(rule_paths)
    warm_cache(path)
    rounds = []
    for _ in range(args.rounds):
        floor = duckdb_floor(path)
        t_stream, a_stream = timed(lambda p, r: api.scan(p, r, workers=1), path, loaded)
        t_batch, a_batch = timed(scan_batch, path, loaded)
        if a_stream != a_batch:
            raise SystemExit("the engines disagree: batch alerts differ from streaming alerts")
        rounds.append((floor, t_stream, t_batch))
    floor, t_stream, t_batch = (statistics.median(r[i] for r in rounds) for i in range(3))
    n = args.events
    print(f"{n} Okta events, {len(loaded.runnable)} rules, median of {args.rounds} rounds\n")
    print("| pass | seconds | events/s | vs streaming |")
    print("|---|---|---|---|")
    for name, t in (("DuckDB count(*) of valid JSON lines (floor)", floor), ("streaming, 1 process", t_stream),
                    ("duckdb engine", t_batch)):
        print(f"| {name} | {t:.2f} | {n / t:,.0f} | {t_stream / t:.2f}x |")


if __name__ == "__main__":
    main()
