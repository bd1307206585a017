"""What each part of the duckdb engine's Parquet scan costs alone, against the budget of the
goal of issue 12 item 7 (1,000,000 events/s from Parquet on 2 cores).

    python bench/batch_ceiling.py --file PARQUET --packs bundled,bundled+200 [--rounds 2] [--work DIR] \
        [--json OUT] [--memory-limit 2GB]

1M events/s on 2 cores is 2 CPU-seconds per 1M events for the whole scan, and 1 CPU-second per
1M events for a part that runs on one Python thread. For each rule pack (``bundled``,
``bundled+N``, ``synthetic:N``, as ``batch_throughput.rule_paths``) and round, each part runs
alone, in a child process of its own, over the same file and rules, in this order (CPU seconds
are the process's, all threads; wall seconds beside them):

1. ``read``: DuckDB reading the columns the plan reads (``TypedPlan.columns``), over the row
   ranges the scan cuts, each value decoded and nothing turned into Python: ``read→DuckDB``
   folds every column into a hash (``bit_xor(hash(column))``), ``read→Arrow`` turns each range
   into an Arrow table. Checked: the rows read are the file's.
2. ``statements``: the engine's planned statements over every range (``ParquetScan._run_direct``
   as the scan calls it, on the main thread, nothing beside it); planning (footers, the typed
   statements, their direct forms) is timed apart, a fixed cost per scan. Then, timed apart as
   ``rows read``, what the scan's main thread reads for the router (``_rows_wanted`` and
   ``_rows_read``). Both are saved (Arrow IPC) for step 3. Checked: rows came back, and the
   events they account for are the file's.
3. ``routing``: the saved batches through the engine's ``_route_typed`` (digests, the duplicate
   filter, match ids, Python rules), with ``StreamingEngine.route`` and ``route_many`` replaced
   by recorders that keep their arguments; only ``_route_typed`` is timed. The calls are saved
   (pickled per batch: values shared within a batch stay shared, as the router hands them on; a
   unit as its index in the plan, ``route_many``'s decoder as its name). Checked: the events
   counted are the file's, the matches the calls carry are the whole scan's.
4. ``alerting``: the saved calls replayed in order into a fresh engine's ``route`` and
   ``route_many`` on one thread (each batch's with the garbage collector off, as under
   ``_route_typed``), then its end-of-scan ``finish`` and the alert gate, as
   ``scan_batch`` runs them; only that is timed. Checked: the alerts (ids, event ids) and
   matches are the whole scan's.
5. ``whole``: the real scan (``scan_batch``, as ``batch_throughput.child_pass`` runs it, planning
   included), the row ranges its statements read recorded (if they differ from those of steps
   1–3, which are cut with no state grown yet, the table says so).

A Markdown table per pack follows (the median of the rounds): each part's CPU and wall seconds,
the threads it can use (DuckDB 2, Python 1) and those it kept busy (CPU ÷ wall), the events/s it alone allows (events × threads /
CPU-s) and its share of the budget (2 CPU-s per 1M events; 1 CPU-s per 1M for a one-thread
part), and the sums ``routing + alerting`` (one thread: the main thread's least wall time
whatever DuckDB does), ``statements + routing + alerting`` and, with the rows read for the
router, every part. ``--json OUT`` writes every number. Progress on stderr. Synthetic packs and
the saved batches go under ``--work`` (default: ``batch_ceiling`` in the system's temporary
directory, never beside a shared input); the batches are removed after each round.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from batch_throughput import progress, rule_paths  # noqa: E402

from tokentrail.engine.gcpolicy import collector_paused  # noqa: E402

STAGES = ("read", "statements", "routing", "alerting", "whole")
BUDGET_PER_MILLION = 2.0  # CPU-seconds per 1M events on 2 cores at 1M events/s; one thread: half
REPLAYABLE = frozenset({"orjson.loads"})  # route_many's decoders this tool replays (the router hands on orjson.loads)


@dataclass
class Clock:
    """Summed CPU seconds (the process's, all threads) and wall seconds of the timed blocks."""

    cpu: float = 0.0
    wall: float = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        """Add the time the block takes."""
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu += time.process_time() - cpu
            self.wall += time.perf_counter() - wall

    def entry(self, stage: str, **counts: Any) -> dict[str, Any]:
        """This clock's seconds as a stage's JSON entry."""
        return {"stage": stage, "cpu": self.cpu, "wall": self.wall, **counts}


@dataclass
class Setup:
    """A planned direct scan of one file, as ``ParquetScan._scan_direct`` sets it up: the engine,
    the plan, its direct read (statements and columns) and the row ranges the scan cuts with no
    state grown."""

    engine: Any
    path: str
    footer: Any
    plan: Any
    direct: Any
    ranges: list[tuple[int, int]]
    planning: Clock = field(default_factory=Clock)


def setup(path: Path, spec: str, work: Path, memory_limit: str, seen: Any = None) -> Setup:
    """Load the pack's rules (untimed) and plan the file's direct scan as ``scan_batch`` would
    (its engine built alike, with ``seen`` for its duplicate filter), the planning timed."""
    from tokentrail import api
    from tokentrail.engine import batch_parquet as BP
    from tokentrail.engine.batch import BatchEngine

    loaded = api.load_rules(rule_paths(spec, work))
    engine = BatchEngine(loaded.rules, memory_limit=memory_limit, seen=seen)
    scan, name = engine.parquet, str(path)
    planning = Clock()
    with planning.timing():
        scan.plan_datasets([name])
        footer = scan._footer(name)
        planned = scan.planned.get(name, footer.schema)
        plan = engine._typed_statement(planned)
        if not BP.reads_direct(footer.schema, planned, plan):
            raise SystemExit(f"{name}: the scan would not read it directly (reads_direct); this tool times only that")
        direct = scan.direct_read(name, footer, planned, plan)
    return Setup(engine, name, footer, plan, direct, list(scan.row_ranges(footer, direct.own)), planning)


def stage_read(path: Path, spec: str, run: Path, work: Path, memory_limit: str) -> list[dict[str, Any]]:
    """DuckDB's read alone of the columns the plan reads, range by range, on the engine's
    connection (its threads and memory limit): folded into hashes in DuckDB, then (timed apart)
    into Arrow tables. What any scan reading these columns pays before any rule runs."""
    from tokentrail.engine.batch_schema import quoted

    s = setup(path, spec, work, memory_limit)
    con, own = s.engine.con, s.direct.own
    folds = ", ".join(f"bit_xor(hash({quoted(c)}))" for c in own)
    where = "FROM read_parquet($1, file_row_number = true) WHERE file_row_number BETWEEN $2 AND $3"
    duck, arrow = Clock(), Clock()
    rows = {"duck": 0, "arrow": 0}
    for start, stop in s.ranges:
        with duck.timing():
            rows["duck"] += con.execute(f"SELECT count(*), {folds} {where}", [s.path, start, stop - 1]).fetchall()[0][0]
    names = ", ".join(quoted(c) for c in own)
    for start, stop in s.ranges:
        with arrow.timing():
            rows["arrow"] += con.sql(f"SELECT {names} {where}", params=[s.path, start, stop - 1]).to_arrow_table().num_rows
    return [duck.entry("read→DuckDB", events=rows["duck"], columns=len(own), batches=len(s.ranges)),
            arrow.entry("read→Arrow", events=rows["arrow"], columns=len(own), batches=len(s.ranges))]


def stage_statements(path: Path, spec: str, run: Path, work: Path, memory_limit: str) -> list[dict[str, Any]]:
    """The engine's own statements over every range (``_run_direct`` within the memory budget,
    as the scan's worker calls it), then, timed apart, the rows the main thread reads for the
    router (``ParquetScan.router_rows``, as ``_scan_direct`` reads them). Each range's result
    and rows are written to ``run`` (untimed) for ``stage_routing``."""
    import pyarrow.compute as pc

    from tokentrail.engine.batch_route import COUNT, LINE, UNIT

    s = setup(path, spec, work, memory_limit)
    scan, plan = s.engine.parquet, s.plan
    statements, rows_read = Clock(), Clock()
    counts = {"result_rows": 0, "digested_rows": 0, "taken_rows": 0, "events": 0, "rows_read": 0}
    for k, (start, stop) in enumerate(s.ranges):
        with statements.timing():
            result = scan._matched_rows(plan, s.direct.statements, start, stop)[2]
        with rows_read.timing():
            table = scan.router_rows(result, s.footer, s.path, start, stop, s.direct)
        write_arrow(run / f"result_{k}.arrow", result)
        write_arrow(run / f"rows_{k}.arrow", table)
        line, unit = result.column(LINE), result.column(UNIT)
        counts["result_rows"] += result.num_rows
        counts["digested_rows"] += pc.sum(pc.and_(line.is_valid(), unit.is_valid())).as_py() or 0
        counts["taken_rows"] += pc.sum(pc.and_(line.is_valid(), unit.is_null())).as_py() or 0
        counted = pc.sum(pc.filter(result.column(COUNT), line.is_null())).as_py() or 0
        counts["events"] += counted + pc.count_distinct(line).as_py()
        counts["rows_read"] += len(scan._rows_wanted(result, every=True))  # untimed: a count for the table
    if not counts["result_rows"]:
        raise SystemExit(f"{path}: the statements gave no rows")
    write_json(run / "ranges.json", s.ranges)
    return [s.planning.entry("planning"),
            statements.entry("statements", batches=len(s.ranges), **{k: v for k, v in counts.items() if k != "rows_read"}),
            rows_read.entry("rows read", rows=counts["rows_read"])]


def stage_routing(path: Path, spec: str, run: Path, work: Path, memory_limit: str) -> list[dict[str, Any]]:
    """The saved batches through ``BatchEngine._route_typed`` of an engine planned as the scan's
    (its duplicate filter too), ``route`` and ``route_many`` recording their calls instead of
    alerting; only ``_route_typed`` is timed. The calls go to ``run/calls.pkl``, one pickle per batch."""
    from tokentrail.engine.dedup import DEFAULT_MEMORY_IDS, SeenEvents
    from tokentrail.sources.files import LogReader

    seen = SeenEvents(DEFAULT_MEMORY_IDS)
    s = setup(path, spec, work, memory_limit, seen)
    engine, reader = s.engine, LogReader()
    calls: list[tuple] = []
    record(engine.stream, calls)
    clock = Clock()
    matches = 0
    with open(run / "calls.pkl", "wb") as out:
        for k, (start, _stop) in enumerate(read_json(run / "ranges.json")):
            result, table = read_arrow(run / f"result_{k}.arrow"), read_arrow(run / f"rows_{k}.arrow")
            with clock.timing():
                engine._route_typed(result, table, s.plan.digests, start + 1, s.path, reader)
            matches += recorded_matches(calls, engine.stream.plan.units)
            pickle.dump(calls, out, protocol=pickle.HIGHEST_PROTOCOL)
            calls.clear()
    stats = engine.stream.stats
    seen.close()
    return [clock.entry("routing", events=stats.events + stats.duplicates, duplicates=stats.duplicates,
                        matches=matches)]


def record(stream: Any, calls: list[tuple]) -> None:
    """Make ``stream``'s ``route`` and ``route_many`` append their arguments to ``calls`` (a
    unit as its index, a decoder as its name) and alert nothing."""

    def route(unit: Any, digest: Any, event: Any, source: str, line: int) -> list:
        calls.append(("route", unit.index, digest, event, source, line))
        return []

    def route_many(rule_id: str, log_types: Any, times: Any, event_ids: Any, keys: Any, distinct: Any,
                   fields: Any, decode: Callable | None = None) -> list:
        calls.append(("route_many", rule_id, log_types, times, event_ids, keys, distinct, fields,
                      decoder_name(decode)))
        return []

    stream.route, stream.route_many = route, route_many


def decoder_name(decode: Callable | None) -> str | None:
    """The name a decoder is saved by (None for none); stops at one this tool cannot replay."""
    if decode is None:
        return None
    name = f"{decode.__module__}.{decode.__name__}"
    if name not in REPLAYABLE:
        raise SystemExit(f"route_many was handed a decoder this tool cannot replay: {name}")
    return name


def recorded_matches(calls: list[tuple], units: list[Any]) -> int:
    """The matches the recorded calls carry, as ``route`` and ``route_many`` count them (a
    correlation step's match, or a reset, is no rule's match)."""
    total = 0
    for call in calls:
        if call[0] == "route_many":
            total += len(call[3])
        elif call[2].reset_key is None and units[call[1]].role != "step":
            total += 1
    return total


def stage_alerting(path: Path, spec: str, run: Path, work: Path, memory_limit: str) -> list[dict[str, Any]]:
    """The recorded calls replayed in order into a fresh engine's ``route`` / ``route_many``
    (``replayed``), then ``finish``, the alert gate and the sort by time, as ``scan_batch`` ends;
    only those are timed (each batch's calls are unpickled untimed). The alerts go to
    ``run/alerts_replay.json``."""
    import orjson

    from tokentrail import api
    from tokentrail.alerting.delivery import AlertGate
    from tokentrail.engine.batch import BatchEngine

    decoders = {"orjson.loads": orjson.loads}
    engine = BatchEngine(api.load_rules(rule_paths(spec, work)).rules, memory_limit=memory_limit)
    stream, units = engine.stream, engine.stream.plan.units
    clock = Clock()
    alerts: list = []
    for calls in pickled_batches(run / "calls.pkl"):
        with clock.timing():
            alerts.extend(replayed(stream, units, calls, decoders))
    kept: list = []
    with clock.timing():
        alerts.extend(stream.finish())
        AlertGate(kept.append)(alerts)
        kept.sort(key=lambda a: (a.first_time or 0.0, a.rule_id, a.id))  # as ``scan_result`` hands them back
    write_json(run / "alerts_replay.json", alert_ids(kept))
    return [clock.entry("alerting", matches=stream.stats.matches, alerts=len(kept))]


@collector_paused  # as the router calls them: within ``_route_typed``, the collector off
def replayed(stream: Any, units: list[Any], calls: list[tuple], decoders: dict[str, Callable]) -> list:
    """One batch's recorded calls made, in order, to ``stream``'s ``route`` and ``route_many``:
    the alerts they give."""
    alerts: list = []
    for call in calls:
        if call[0] == "route":
            _, index, digest, event, source, line = call
            alerts.extend(stream.route(units[index], digest, event, source, line))
        else:
            _, rule_id, log_types, times, ids, keys, distinct, fields, decode = call
            alerts.extend(stream.route_many(rule_id, log_types, times, ids, keys, distinct, fields,
                                            None if decode is None else decoders[decode]))
    return alerts


def stage_whole(path: Path, spec: str, run: Path, work: Path, memory_limit: str) -> list[dict[str, Any]]:
    """The real scan, ``scan_batch`` over the file (planning included, the next batch's statement
    beside this one's routing), rules loaded untimed; the row ranges its statements read are
    recorded (a list append per batch). The alerts go to ``run/alerts_whole.json``."""
    from tokentrail import api
    from tokentrail.engine import batch_parquet as BP
    from tokentrail.engine.batch import scan_batch

    loaded = api.load_rules(rule_paths(spec, work))
    ranges: list[tuple[int, int]] = []
    run_direct = BP.ParquetScan._run_direct

    def recorded(self: Any, plan: Any, statements: Any, start: int, stop: int) -> Any:
        ranges.append((start, stop))
        return run_direct(self, plan, statements, start, stop)

    BP.ParquetScan._run_direct = recorded  # type: ignore[method-assign]
    clock = Clock()
    try:
        with clock.timing():
            result = scan_batch([str(path)], loaded, memory_limit=memory_limit)
    finally:  # a test runs the stages in its own process
        BP.ParquetScan._run_direct = run_direct  # type: ignore[method-assign]
    write_json(run / "alerts_whole.json", alert_ids(result.alerts))
    same = [list(r) for r in ranges] == [list(r) for r in read_json(run / "ranges.json")] \
        if (run / "ranges.json").exists() else None
    return [clock.entry("whole", events=result.stats.events + result.stats.duplicates, matches=result.stats.matches,
                        alerts=len(result.alerts), batches=len(ranges), same_ranges=same)]


STAGE_RUNS: dict[str, Callable[[Path, str, Path, Path, str], list[dict[str, Any]]]] = {
    "read": stage_read, "statements": stage_statements, "routing": stage_routing,
    "alerting": stage_alerting, "whole": stage_whole}


def alert_ids(alerts: list) -> list[list]:
    """Each alert's id and event ids, in order: what every engine must give alike."""
    return [[a.id, list(a.event_ids)] for a in alerts]


def write_arrow(path: Path, table: Any) -> None:
    """``table`` as an Arrow IPC file, its chunks as they are."""
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_arrow(path: Path) -> Any:
    """An Arrow IPC file read whole into memory (not mapped: the router's input is in memory)."""
    import pyarrow as pa

    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()


def pickled_batches(path: Path) -> Iterator[list[tuple]]:
    """Each batch's recorded calls, in order."""
    with open(path, "rb") as fh:
        while True:
            try:
                yield pickle.load(fh)
            except EOFError:
                return


def write_json(path: Path, value: Any) -> None:
    """``value`` as JSON."""
    import orjson

    path.write_bytes(orjson.dumps(value))


def read_json(path: Path) -> Any:
    """A JSON file's value."""
    import orjson

    return orjson.loads(path.read_bytes())


def run_child(stage: str, path: Path, spec: str, run: Path, work: Path, memory_limit: str) -> list[dict[str, Any]]:
    """One stage in a process of its own (this script with ``--child``): its entries."""
    import orjson

    args = [sys.executable, __file__, "--child", stage, "--file", str(path), "--rules", spec, "--run", str(run),
            "--work", str(work), "--memory-limit", memory_limit]
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True)
    return orjson.loads(out.stdout.strip().splitlines()[-1])


def one_round(path: Path, spec: str, run: Path, work: Path, memory_limit: str, events: int,
              stage: Callable[..., list[dict[str, Any]]] = run_child, keep: bool = False) -> dict[str, dict[str, Any]]:
    """Every stage of one round, in order (``stage`` runs one: a child process by default),
    each with the load average it ended at; checked against the file's rows and the whole
    scan (stops if any check fails). The saved batches are removed at the end unless ``keep``."""
    run.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict[str, Any]] = {}
    for name in STAGES:
        progress(f"{spec}: {name}")
        for entry in stage(name, path, spec, run, work, memory_limit):
            entries[entry["stage"]] = {**entry, "load": os.getloadavg()[0]}
    check(entries, events, read_json(run / "alerts_replay.json"), read_json(run / "alerts_whole.json"))
    for saved in [] if keep else run.iterdir():
        if saved.suffix in (".arrow", ".pkl"):
            saved.unlink()
    return entries


def check(entries: dict[str, dict[str, Any]], events: int, replayed: list, whole: list) -> None:
    """Stop unless every stage accounts for the file's events and the replayed alerting gives
    the whole scan's matches and alerts (ids, event ids)."""
    for name in ("read→DuckDB", "read→Arrow", "statements", "routing", "whole"):
        if entries[name]["events"] != events:
            raise SystemExit(f"{name}: {entries[name]['events']:,} events, the file has {events:,}")
    matches = entries["whole"]["matches"]
    for name in ("routing", "alerting"):
        if entries[name]["matches"] != matches:
            raise SystemExit(f"{name}: {entries[name]['matches']:,} matches, the whole scan {matches:,}")
    if replayed != whole:
        raise SystemExit("the replayed alerting gives other alerts than the whole scan")


ROWS = (  # table rows: label, the stages summed, threads the part can use
    ("planning (fixed, once per scan)", ("planning",), 1),
    ("read→DuckDB (plan's columns, hashed)", ("read→DuckDB",), 2),
    ("read→Arrow (plan's columns)", ("read→Arrow",), 2),
    ("statements", ("statements",), 2),
    ("rows read for the router", ("rows read",), 2),
    ("routing (`_route_typed`)", ("routing",), 1),
    ("alerting (replayed `route`/`route_many`, finish)", ("alerting",), 1),
    ("**routing + alerting** (main thread)", ("routing", "alerting"), 1),
    ("**statements + routing + alerting**", ("statements", "routing", "alerting"), 2),
    ("statements + rows read + routing + alerting", ("statements", "rows read", "routing", "alerting"), 2),
    ("whole scan (`scan_batch`, planning included)", ("whole",), 2),
)


def allowed(cpu: float, events: int, threads: int) -> tuple[float, float]:
    """The events/s a part alone allows (events × threads / CPU-s) and its share of the budget
    (``BUDGET_PER_MILLION`` CPU-s per 1M events on 2 threads; half that on one)."""
    budget = events / 1e6 * BUDGET_PER_MILLION * threads / 2
    return events * threads / max(cpu, 1e-9), cpu / budget


def table_rows(rounds: list[dict[str, dict[str, Any]]], events: int) -> list[dict[str, Any]]:
    """The table's rows over the rounds: per row the median CPU and wall seconds, each round's
    CPU seconds, and what the median CPU allows."""
    rows = []
    for label, stages, threads in ROWS:
        cpus = [sum(r[s]["cpu"] for s in stages) for r in rounds]
        walls = [sum(r[s]["wall"] for s in stages) for r in rounds]
        cpu = statistics.median(cpus)
        rate, share = allowed(cpu, events, threads)
        rows.append({"label": label, "stages": list(stages), "threads": threads, "cpu": cpu, "cpus": cpus,
                     "wall": statistics.median(walls), "events_per_s": rate, "share": share})
    return rows


def markdown(spec: str, rows: list[dict[str, Any]], rounds: list[dict[str, dict[str, Any]]], events: int) -> str:
    """A pack's table, with the counts its checks passed on."""
    whole, statements = rounds[0]["whole"], rounds[0]["statements"]
    lines = [f"{spec}: {events:,} events, {whole['matches']:,} matches, {whole['alerts']:,} alerts; "
             f"{statements['batches']} batches ({statements['result_rows']:,} result rows, "
             f"{rounds[0]['rows read']['rows']:,} rows read for the router); whole scan's ranges the same: "
             f"{', '.join(str(r['whole']['same_ranges']) for r in rounds)}; median of {len(rounds)} rounds\n",
             "| part | CPU s (rounds) | wall s | threads | CPU ÷ wall | events/s it alone allows | share of budget |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        each = " / ".join(f"{c:.2f}" for c in row["cpus"])
        # CPU over wall: the threads the part kept busy, against those it could use.
        lines.append(f"| {row['label']} | {row['cpu']:.2f} ({each}) | {row['wall']:.2f} | {row['threads']} | "
                     f"{row['cpu'] / max(row['wall'], 1e-9):.2f} | {row['events_per_s']:,.0f} | {row['share']:.0%} |")
    return "\n".join(lines)


def file_rows(path: Path) -> int:
    """The rows of a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, required=True, help="a plain Parquet file of Okta events")
    parser.add_argument("--packs", default="bundled,bundled+200")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "batch_ceiling",
                        help="where synthetic packs and the saved batches go")
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--rules", help=argparse.SUPPRESS)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.work
    if args.child:
        import orjson

        entries = STAGE_RUNS[args.child](args.file, args.rules, args.run, work, args.memory_limit)
        print(orjson.dumps(entries).decode())
        return
    events = file_rows(args.file)
    progress(f"{args.file}: {events:,} events, {os.cpu_count()} cores")
    report: dict[str, Any] = {"file": str(args.file), "events": events, "memory_limit": args.memory_limit,
                              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "load_start": os.getloadavg(), "packs": {}}
    for spec in [p for p in args.packs.split(",") if p]:
        rule_paths(spec, work)  # a synthetic pack written once, before the children read it
        rounds = [one_round(args.file, spec, work / f"ceiling_{args.file.stem}_{spec}_{r}", work, args.memory_limit,
                            events) for r in range(args.rounds)]
        rows = table_rows(rounds, events)
        print(markdown(spec, rows, rounds, events) + "\n", flush=True)
        report["packs"][spec] = {"rounds": rounds, "table": rows}
    report.update(ended=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), load_end=os.getloadavg())
    if args.json:
        write_json(args.json, report)


if __name__ == "__main__":
    main()
