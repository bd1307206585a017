"""Batch (DuckDB) engine throughput next to the streaming engine and DuckDB's own floor.

    python bench/batch_throughput.py [--events 200000] [--seed 7] [--rounds 3] [--synthetic 200]
    python bench/batch_throughput.py --parquet 10000000 [--events 200000] [--synthetic 200]
    python bench/batch_throughput.py --jsonl [--gz] [--events 1000000] [--synthetic 200]

Writes N simulated Okta events (JSON lines, cached under bench/data/), loads the bundled pack
plus a synthetic Sigma pack of ``--synthetic`` rules, then times, in turn for each round:
DuckDB's ``SELECT count(*)`` over the same file read as JSON text (the floor: reading and one
parse, no rules), the streaming scan with one process, and the DuckDB scan. Both scans must give
the same alerts, or the run stops. The median round is the result; prints a Markdown table.

With ``--parquet N``, the JSON-lines file is turned into a Parquet file of N events (the file's
events repeated, each copy's ``uuid`` made its own, so nothing is a duplicate) and the pass
times DuckDB's ``count(*)`` over it (the floor) and the duckdb engine's scan of it, in wall
time and in CPU time (the process's, all threads: on a shared machine the steadier measure).
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


def parquet_of(jsonl: Path, events: int) -> Path:
    """A Parquet file of ``events`` Okta events: the JSON-lines file's, repeated with fresh ids."""
    import duckdb

    from tokentrail.api import logs_to_parquet

    out = jsonl.with_name(f"{jsonl.stem}_x{events}.parquet")
    if out.exists():
        return out
    base = jsonl.with_name(jsonl.stem + "_dataset")
    if not base.exists():
        logs_to_parquet([str(jsonl)], base)
    con = duckdb.connect(config={"threads": 2})
    source = f"read_parquet('{base}/**/*.parquet', hive_partitioning = false)"
    per_copy = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
    copies = -(-events // per_copy)
    tmp = out.with_suffix(".tmp")
    con.execute(f"""COPY (SELECT * REPLACE (uuid || '-' || copy AS uuid)
                    FROM {source}, range({copies}) AS c(copy) LIMIT {events})
                    TO '{tmp}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)""")
    tmp.rename(out)
    return out


def parquet_pass(path: Path, loaded, events: int) -> None:
    import duckdb

    from tokentrail.engine.batch import scan_batch

    con = duckdb.connect(config={"threads": 2})
    wall, cpu = time.perf_counter(), time.process_time()
    con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchall()
    floor = (time.perf_counter() - wall, time.process_time() - cpu)
    wall, cpu = time.perf_counter(), time.process_time()
    result = scan_batch([str(path)], loaded)
    scan = (time.perf_counter() - wall, time.process_time() - cpu)
    if result.stats.events != events:
        raise SystemExit(f"read {result.stats.events} events of {events}")
    print(f"{events} Okta events from Parquet, {len(loaded.runnable)} rules, {result.stats.matches} matches, "
          f"{len(result.alerts)} alerts\n")
    print("| pass | wall s | events/s (wall) | CPU s | events per CPU-second |")
    print("|---|---|---|---|---|")
    for name, (w, c) in (("DuckDB count(*) (floor)", floor), ("duckdb engine", scan)):
        print(f"| {name} | {w:.2f} | {events / w:,.0f} | {c:.2f} | {events / max(c, 1e-9):,.0f} |")


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its reaped children (scan workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def jsonl_pass(path: Path, loaded, events: int) -> None:
    """Floor, streaming scan and duckdb engine over one JSON-lines file, in wall and CPU time."""
    import os

    import duckdb

    from tokentrail import api
    from tokentrail.engine.batch import scan_batch

    def measured(run):
        wall, cpu = time.perf_counter(), cpu_seconds()
        out = run()
        return out, time.perf_counter() - wall, cpu_seconds() - cpu

    con = duckdb.connect(config={"threads": 2})
    _, *floor = measured(lambda: con.execute(
        "SELECT count(*) FROM read_json_objects(?, format='newline_delimited') WHERE json_valid(json)",
        [str(path)]).fetchall())
    stream, *t_stream = measured(lambda: api.scan([str(path)], loaded))
    batch, *t_batch = measured(lambda: scan_batch([str(path)], loaded))
    if [(a.id, a.event_ids) for a in stream.alerts] != [(a.id, a.event_ids) for a in batch.alerts]:
        raise SystemExit("the engines disagree: batch alerts differ from streaming alerts")
    if batch.stats.events != events:
        raise SystemExit(f"read {batch.stats.events} events of {events}")
    print(f"{events} Okta events from {path.name}, {len(loaded.runnable)} rules, {stream.stats.matches} matches, "
          f"{len(stream.alerts)} alerts (the same in both scans); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores at the start\n")
    print("| pass | wall s | events/s (wall) | CPU s | events per CPU-second | vs streaming (wall) | vs streaming (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for name, (w, c) in (("DuckDB count(*) of valid JSON lines (floor)", floor), ("streaming, one worker per core", t_stream),
                         ("duckdb engine", t_batch)):
        print(f"| {name} | {w:.2f} | {events / w:,.0f} | {c:.2f} | {events / max(c, 1e-9):,.0f} | "
              f"{t_stream[0] / w:.2f}x | {t_stream[1] / max(c, 1e-9):.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=200, help="synthetic rules added to the bundled pack")
    parser.add_argument("--parquet", type=int, default=0, metavar="N",
                        help="time the duckdb engine over N events from Parquet instead")
    parser.add_argument("--jsonl", action="store_true",
                        help="one pass over scan_throughput's cached JSON-lines file: floor, streaming, duckdb")
    parser.add_argument("--gz", action="store_true", help="with --jsonl: its gzip copy")
    args = parser.parse_args()

    from tokentrail import api
    from tokentrail.content import default_rule_paths
    from tokentrail.engine.batch import scan_batch

    data = HERE / "data"
    if args.jsonl:
        from scan_throughput import gzip_copy

        rule_paths = list(default_rule_paths())
        if args.synthetic:
            rule_paths.append(write_pack(data / f"synthetic_pack_{args.synthetic}", args.synthetic))
        path = write_events(data / f"okta_{args.events}.jsonl", args.events, args.seed)
        path = gzip_copy(path) if args.gz else path
        warm_cache(path)
        jsonl_pass(path, api.load_rules(rule_paths), args.events)
        return
    path = write_events(data / f"okta_{args.events}_{args.seed}.jsonl", args.events, args.seed)
    rule_paths = list(default_rule_paths())
    if args.synthetic:
        rule_paths.append(write_pack(data / f"synthetic_pack_{args.synthetic}", args.synthetic))
    loaded = api.load_rules(rule_paths)
    if args.parquet:
        parquet_pass(parquet_of(path, args.parquet), loaded, args.parquet)
        return
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
