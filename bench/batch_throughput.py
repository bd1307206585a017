"""Batch (DuckDB) engine throughput next to the streaming engine and DuckDB's own floor.

    python bench/batch_throughput.py [--events 200000] [--seed 7] [--rounds 3] [--synthetic 200]
    python bench/batch_throughput.py --parquet 10000000 [--events 200000] [--synthetic 200]
    python bench/batch_throughput.py --jsonl [--gz] [--events 1000000] [--synthetic 200] [--rounds 3]

Writes N simulated Okta events (JSON lines, cached under bench/data/), loads the bundled pack
plus a synthetic Sigma pack of ``--synthetic`` rules, then times, in turn for each round:
DuckDB's ``SELECT count(*)`` over the same file read as JSON text (the floor: reading and one
parse, no rules), the streaming scan with one process, and the DuckDB scan. Both scans must give
the same alerts, or the run stops. The median round is the result; prints a Markdown table.
``--jsonl`` times, after the floor, the streaming scan in one process and with its default
workers, and the duckdb engine (which gives big files to the streaming engine's workers).

    python bench/batch_throughput.py --source FILE --work DIR --results R.jsonl --parquet 1000000 \
        --packs "" --scaling 20,200,2000 --check 0 [--plan 20,200,2000]

With ``--parquet N[,N...]`` (e.g. ``--events 1000000 --parquet 1000000,10000000``), the
JSON-lines file is turned into Parquet files of N events (``tokentrail logs to-parquet``'s
dataset, its events repeated, each copy's ``uuid`` a canonical UUID of its own, so nothing is a
duplicate; ``--ids suffixed``: ``<uuid>-<copy>`` instead, which the duplicate filter keeps as text).
For each size and rule pack (``--packs``: ``bundled``, ``bundled+200``, ``synthetic:N``) the
run times DuckDB's ``count(*)`` over the file (the floor) and the duckdb engine's scan of it in
a child process of its own: wall and CPU seconds (the process's, all threads: on a shared
machine the steadier measure), peak RSS (VmHWM) and its share of ``--memory-limit`` (which the
scan's whole process should stay under; a pass over it says so on stderr). Then synthetic packs
of ``--scaling`` sizes at the first size, CPU seconds by stage at the first size, and a check
that the engine gives the streaming engine's alerts over ``--check`` events. ``--packs ""
--scaling ""`` and the sizes choose which passes run; ``--results`` keeps each finished pass
(a rerun skips them); ``--plan`` times loading and planning alone; ``--source`` and ``--work``
start from an existing JSON-lines file and put the big files elsewhere. Progress on stderr.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def parquet_of(jsonl: Path, events: int, work: Path | None = None, ids: str = "canonical") -> Path:
    """A Parquet file of ``events`` Okta events under ``work`` (default: beside ``jsonl``): the
    JSON-lines file's (through ``tokentrail logs to-parquet``), repeated with fresh ids. With
    ``ids="canonical"`` (as real Okta ``uuid``s are) copy 0 of an event keeps its uuid and copy
    ``c`` gets ``uuid5(<its uuid>, str(c))``, a canonical UUID of its own; with ``"suffixed"``
    copy ``c`` has ``<uuid>-c``, which is no UUID (the duplicate filter keeps such ids as text,
    about twice the bytes). The file is checked to hold every uuid once before it is kept. Made
    once; stops before writing if the disk lacks room for twice the estimated size."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tokentrail.api import logs_to_parquet

    if ids not in ID_KINDS:
        raise ValueError(f"ids: one of {', '.join(ID_KINDS)}, not {ids!r}")
    work = work or jsonl.parent
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{jsonl.stem}_x{events}{'' if ids == 'canonical' else '_' + ids}.parquet"
    if out.exists():
        return out
    base = work / (jsonl.stem + "_dataset")
    if not base.exists():
        progress(f"writing {base} from {jsonl} (tokentrail logs to-parquet)")
        logs_to_parquet([str(jsonl)], base)
    con = duckdb.connect(config={"threads": 2})
    source = f"read_parquet('{base}/**/*.parquet', hive_partitioning = false)"
    per_copy = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
    tmp = out.with_suffix(".tmp")
    if events <= per_copy:
        renamed = "uuid || '-0'" if ids == "suffixed" else "uuid"
        con.execute(f"""COPY (SELECT * REPLACE ({renamed} AS uuid) FROM {source} LIMIT {events})
                        TO '{tmp}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)""")
    else:  # copies of the one-copy file, written batch by batch (DuckDB's COPY of a cross join is slow)
        one_path = parquet_of(jsonl, per_copy, work, "canonical")
        copies = -(-events // per_copy)
        need = one_path.stat().st_size * copies * 2
        free = shutil.disk_usage(work).free
        if free < need:
            raise SystemExit(f"{work}: {free / 1e9:.1f} GB free, {need / 1e9:.1f} GB wanted for {out.name}")
        one = pq.ParquetFile(one_path)
        writer = pq.ParquetWriter(tmp, one.schema_arrow, compression="zstd")
        left = events
        for copy in range(copies):
            progress(f"{out.name}: copy {copy + 1} of {copies}")
            for batch in one.iter_batches(100_000):
                table = pa.Table.from_batches([batch]).slice(0, left)
                uuid = pa.array(copy_ids(table.column("uuid").to_pylist(), copy, ids), pa.string())
                writer.write_table(table.set_column(table.schema.get_field_index("uuid"), "uuid", uuid),
                                   row_group_size=100_000)
                left -= table.num_rows
                if not left:
                    break
        writer.close()
    rows, distinct = con.execute("SELECT count(*), count(DISTINCT uuid) FROM read_parquet(?)", [str(tmp)]).fetchone()
    if rows != distinct:
        tmp.unlink()
        raise SystemExit(f"{out.name}: {rows - distinct:,} of {rows:,} uuids repeat (the copies would be duplicates)")
    tmp.rename(out)
    return out


ID_KINDS = ("canonical", "suffixed")


def copy_ids(uuids: list[str | None], copy: int, ids: str) -> list[str | None]:
    """The uuids of copy ``copy`` of events whose uuids are ``uuids`` (see ``parquet_of``)."""
    import uuid

    if ids == "suffixed":
        return [None if u is None else f"{u}-{copy}" for u in uuids]
    if copy == 0:
        return uuids
    label = str(copy)
    return [None if u is None else str(uuid.uuid5(uuid.UUID(u), label)) for u in uuids]


def progress(message: str) -> None:
    """A timestamped progress line on stderr, with the machine's load."""
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())} load {os.getloadavg()[0]:.1f}] {message}",
          file=sys.stderr, flush=True)


def parquet_floor(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of DuckDB's own ``count(*)`` over the file (2 threads)."""
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    wall, cpu = time.perf_counter(), time.process_time()
    con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchall()
    return time.perf_counter() - wall, time.process_time() - cpu


def parquet_read(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of reading every column of the file into Arrow batches, as the
    engine reads it (2 threads): the least a scan that looks at the events costs. (``count(*)``
    alone reads only the footer's row counts.)"""
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    con.execute("SET enable_progress_bar = false")
    wall, cpu = time.perf_counter(), time.process_time()
    rows = sum(batch.num_rows for batch in con.sql("SELECT * FROM read_parquet($path)", params={"path": str(path)})
               .to_arrow_reader(250_000))
    if rows <= 0:
        raise SystemExit(f"{path}: no rows")
    return time.perf_counter() - wall, time.process_time() - cpu


def rule_paths(spec: str, work: Path = HERE / "data") -> list[Path]:
    """``bundled``, ``bundled+N`` (with an N-rule synthetic pack) or ``synthetic:N`` (alone);
    synthetic packs are written under ``work``."""
    from tokentrail.content import default_rule_paths

    if spec.startswith("synthetic:"):
        n = int(spec.split(":", 1)[1])
        return [write_pack(work / f"synthetic_pack_{n}", n)]
    paths = list(default_rule_paths())
    if "+" in spec:
        n = int(spec.split("+", 1)[1])
        paths.append(write_pack(work / f"synthetic_pack_{n}", n))
    return paths


class MemorySampler:
    """Samples, every ``period`` seconds from a thread of its own, this process's resident size
    and the part of it DuckDB's buffer manager accounts for (``duckdb_memory()``, over a cursor
    of the engine's database; DuckDB releases the GIL while it runs a query). Keeps the
    largest resident size seen and the DuckDB part at that moment, and DuckDB's own largest."""

    def __init__(self, con, period: float = 0.25):
        import threading

        self.cursor = con.cursor()
        self.period = period
        self.peak = {"rss_mb": 0.0, "duckdb_at_peak_mb": 0.0, "duckdb_mb": 0.0}
        self.last = {"rss_mb": 0.0, "duckdb_mb": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            status = Path("/proc/self/status").read_text().splitlines()
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
            duck = (self.cursor.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0]
                    or 0) / 2**20
            self.last = {"rss_mb": rss, "duckdb_mb": duck}
            if rss > self.peak["rss_mb"]:
                self.peak["rss_mb"], self.peak["duckdb_at_peak_mb"] = rss, duck
            self.peak["duckdb_mb"] = max(self.peak["duckdb_mb"], duck)

    def stop(self) -> dict:
        """Stop sampling; the peaks seen."""
        self._stop.set()
        self._thread.join()
        return self.peak


def child_pass(path: Path, spec: str, memory_limit: str, alerting: bool, work: Path, plan_only: bool) -> None:
    """One duckdb-engine scan of ``path`` in this process; prints its numbers as one JSON line:
    wall and CPU seconds, CPU seconds per stage (rule loading, planning, Python: Arrow to
    digests to alerting; with ``alerting`` the alerting code alone too, timed per call), the
    matching query's size, peak RSS (VmHWM) and, sampled after each batch's query, the largest
    resident size and the parts of it DuckDB and Arrow hold. With ``plan_only``: load and
    plan, no scan. Progress per batch goes to stderr."""
    import orjson

    from tokentrail import api
    from tokentrail.engine import batch as B
    from tokentrail.engine.stream import StreamingEngine
    from tokentrail.sources.files import LogReader

    cpu0 = time.process_time()
    loaded = api.load_rules(rule_paths(spec, work))
    stages = {"load": time.process_time() - cpu0, "plan": 0.0, "sql_build": 0.0, "python": 0.0, "alerting": 0.0}
    sql_chars: list[int] = []
    samplers: list[MemorySampler] = []
    done = {"rows": 0, "batches": 0}

    def timed_method(cls, name, stage):
        original = getattr(cls, name)

        def wrapper(*args, **kwargs):
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                stages[stage] += time.process_time() - started

        setattr(cls, name, wrapper)

    def sized_sql(original):
        # Writing the query (Python) is part of planning; timed apart from DuckDB's PREPARE.
        def wrapper(*args, **kwargs):
            started = time.process_time()
            sql = original(*args, **kwargs)
            stages["sql_build"] += time.process_time() - started
            sql_chars.append(len(sql))
            return sql
        return wrapper

    def reported(original):
        def wrapper(self, result, table, *args, **kwargs):
            out = original(self, result, table, *args, **kwargs)
            done["rows"] += table.num_rows
            done["batches"] += 1
            if done["batches"] % 5 == 0:
                last = samplers[0].last
                progress(f"  {spec} over {path.name}: {done['rows']:,} rows, {time.process_time() - cpu0:.1f} CPU-s, "
                         f"RSS {last['rss_mb']:.0f} MB (DuckDB {last['duckdb_mb']:.0f})")
            return out
        return wrapper

    def sampling(original):
        def wrapper(self, *args, **kwargs):
            original(self, *args, **kwargs)
            samplers.append(MemorySampler(self.con))
        return wrapper

    B.BatchEngine.__init__ = sampling(B.BatchEngine.__init__)
    B.BatchEngine._typed_sql = sized_sql(B.BatchEngine._typed_sql)
    timed_method(B.BatchEngine, "_typed_statement", "plan")
    # A baseline interpreter may run older code, whose typed rows go through ``_route``.
    routed = "_route_typed" if hasattr(B.BatchEngine, "_route_typed") else "_route"
    if routed == "_route_typed":
        B.BatchEngine._route_typed = reported(B.BatchEngine._route_typed)
    timed_method(B.BatchEngine, routed, "python")
    if alerting:
        timed_method(StreamingEngine, "route", "alerting")
    wall, cpu = time.perf_counter(), time.process_time()
    if plan_only:
        engine = B.BatchEngine(loaded.rules, memory_limit=memory_limit)
        batches = engine._open_parquet(LogReader(), path)
        engine._typed_statement(batches.schema)
        counts = {"events": 0, "matches": 0, "alerts": 0}
    else:
        result = B.scan_batch([str(path)], loaded, memory_limit=memory_limit)
        counts = {"events": result.stats.events, "matches": result.stats.matches, "alerts": len(result.alerts),
                  "memory_note": getattr(result, "memory_note", "")}  # a baseline's code may not say
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = samplers[0].stop() if samplers else {}
    status = Path("/proc/self/status").read_text().splitlines()
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(orjson.dumps({"wall": wall, "cpu": cpu, "stages": stages, "rules": len(loaded.runnable), **counts,
                        "sql_chars": sum(sql_chars), "rss_mb": hwm / 1024, "batch_peak": peak}).decode())


def run_child(path: Path, spec: str, memory_limit: str, alerting: bool = False, python: str = sys.executable,
              work: Path = HERE / "data", plan_only: bool = False) -> dict:
    """``child_pass`` in a process of its own (its progress lines pass through to stderr)."""
    import subprocess

    import orjson

    args = [python, __file__, "--child", str(path), "--rules", spec, "--memory-limit", memory_limit,
            "--work", str(work)]
    args += (["--alerting"] if alerting else []) + (["--plan-only"] if plan_only else [])
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True)
    return orjson.loads(out.stdout.strip().splitlines()[-1])


def check_same(jsonl: Path, events: int, spec: str, work: Path | None = None, ids: str = "canonical") -> str:
    """The duckdb engine over a Parquet file of ``events`` events gives the streaming engine's
    alerts over the same events as the engine reads them back (JSON lines); stops if not."""
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tokentrail import api
    from tokentrail.engine.arrow_events import events_of
    from tokentrail.engine.batch import scan_batch

    parquet = parquet_of(jsonl, events, work, ids)
    back = parquet.with_suffix(".readback.jsonl")
    if not back.exists():
        with open(back, "wb") as fh:
            for batch in pq.ParquetFile(parquet).iter_batches(100_000):
                fh.write(b"".join(orjson.dumps(e) + b"\n" for e in events_of(pa.Table.from_batches([batch]))))
    loaded = api.load_rules(rule_paths(spec, work or HERE / "data"))
    stream = api.scan([str(back)], loaded, workers=1)
    batch = scan_batch([str(parquet)], loaded)
    same = [(a.id, a.event_ids, a.count, a.fields) for a in stream.alerts] == \
        [(a.id, a.event_ids, a.count, a.fields) for a in batch.alerts]
    if not same or stream.stats.matches != batch.stats.matches:
        raise SystemExit(f"the engines disagree on {events} events, {spec}")
    return f"{events:,} events, {spec}: {len(batch.alerts)} alerts, {batch.stats.matches:,} matches, same as streaming"


class Results:
    """Finished passes, one JSON object a line, appended as each pass ends: a stopped run keeps
    what it measured, and a rerun with the same file skips the passes already there."""

    def __init__(self, path: Path | None):
        import orjson

        self.path = path
        self.rows: list[dict] = []
        if path is not None and path.exists():
            self.rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]

    def find(self, kind: str, events: int, spec: str, code: str = "", limit: str = "2GB",
             ids: str = "canonical") -> dict | None:
        """The recorded pass of this kind, size, pack, code, memory limit and id kind, if any (a
        row without ``ids`` is from before canonical copies: suffixed)."""
        wanted = (kind, events, spec, code, limit, ids)
        return next((r for r in self.rows if (r["kind"], r["events"], r["spec"], r.get("code", ""),
                                              r.get("limit", "2GB"), r.get("ids", "suffixed")) == wanted), None)

    def add(self, row: dict) -> dict:
        """Record a finished pass (with the time and load it ended at)."""
        import orjson

        row = {**row, "ended": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load": os.getloadavg()}
        self.rows.append(row)
        if self.path is not None:
            with open(self.path, "ab") as fh:
                fh.write(orjson.dumps(row) + b"\n")
        return row


def parquet_passes(jsonl: Path, sizes: list[int], packs: list[str], scaling: list[int], check: int,
                   memory_limit: str, baseline: str = "", stages: bool = True, work: Path | None = None,
                   results: Results | None = None, ids: str = "canonical") -> None:
    """The Parquet table: the count(*) floor once per size and the engine per size and rule pack
    (and, with ``baseline``, the same scan by that Python interpreter's tokentrail: another
    checkout's code), then the rule-count scaling at the first size, then the stage split and
    the streaming check. Each finished pass is recorded in ``results`` (and skipped if it is
    there already). ``ids``: how copies' uuids are made (``parquet_of``)."""
    results = results or Results(None)
    work = work or jsonl.parent
    from tokentrail.engine.batch_memory import parse_size

    limit = parse_size(memory_limit)  # bytes, as DuckDB reads sizes (GB: 10**9)
    print(f"| input | rules | wall s | events/s (wall) | CPU s | events per CPU-second | matches | alerts | "
          f"peak RSS MiB (of --memory-limit {memory_limit}) |")
    print("|---|---|---|---|---|---|---|---|---|")
    runs = [(n, spec, "") for n in sizes for spec in packs] + [(sizes[0], f"synthetic:{r}", "") for r in scaling]
    if baseline:
        runs[len(packs):len(packs)] = [(sizes[0], spec, baseline) for spec in packs]
    for n, spec, python in runs:
        path = parquet_of(jsonl, n, work, ids)
        f = results.find("floor", n, "", ids=ids)
        if f is None:
            w, c = parquet_floor(path)
            f = results.add({"kind": "floor", "events": n, "spec": "", "ids": ids, "wall": w, "cpu": c})
        print(f"| {n:,} | DuckDB count(*) (floor) | {f['wall']:.2f} | {n / f['wall']:,.0f} | {f['cpu']:.2f} | "
              f"{n / max(f['cpu'], 1e-9):,.0f} | | | |")
        f = results.find("read", n, "", ids=ids)
        if f is None:
            w, c = parquet_read(path)
            f = results.add({"kind": "read", "events": n, "spec": "", "ids": ids, "wall": w, "cpu": c})
        print(f"| {n:,} | every column read into Arrow (read floor) | {f['wall']:.2f} | {n / f['wall']:,.0f} | "
              f"{f['cpu']:.2f} | {n / max(f['cpu'], 1e-9):,.0f} | | | |")
        r = results.find("scan", n, spec, python, memory_limit, ids)
        if r is None:
            progress(f"scan: {n:,} events, {spec}, --memory-limit {memory_limit}" + (f", {python}" if python else ""))
            r = run_child(path, spec, memory_limit, python=python or sys.executable, work=work)
            if r["events"] != n:
                raise SystemExit(f"read {r['events']} events of {n}")
            if r.get("memory_note"):
                progress(r["memory_note"])
            r = results.add({"kind": "scan", "events": n, "spec": spec, "code": python, "limit": memory_limit,
                             "ids": ids, **r})
        label = f"{spec} ({r['rules']})" + (" **baseline**" if python else "")
        share = r["rss_mb"] * 2**20 / limit
        print(f"| {n:,} | {label} | {r['wall']:.2f} | {n / r['wall']:,.0f} | {r['cpu']:.2f} | "
              f"{n / r['cpu']:,.0f} | {r['matches']:,} | {r['alerts']} | {r['rss_mb']:,.0f} ({share:.0%}"
              f"{', **over**' if share > 1 else ''}) |", flush=True)
    if stages:
        stage_split(jsonl, sizes[0], packs, memory_limit, work, ids)
    if check:
        print()
        for spec in packs:
            print(check_same(jsonl, check, spec, work, ids), flush=True)


def plan_passes(jsonl: Path, events: int, sizes: list[int], memory_limit: str, work: Path, results: Results) -> None:
    """Rule loading and planning alone (no scan) of synthetic packs of ``sizes`` rules, each in
    a child process: CPU seconds, the matching query's size, peak RSS."""
    path = parquet_of(jsonl, events, work)
    print("| rules | runnable | load CPU s | planning CPU s | of which writing the SQL | SQL KB | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        spec = f"synthetic:{n}"
        r = results.find("plan", 0, spec)
        if r is None:
            progress(f"plan: {spec}")
            r = results.add({"kind": "plan", "events": 0, "spec": spec,
                             **run_child(path, spec, memory_limit, work=work, plan_only=True)})
        st = r["stages"]
        print(f"| {n:,} | {r['rules']} | {st['load']:.2f} | {st['plan']:.2f} | {st.get('sql_build', 0.0):.2f} | "
              f"{r['sql_chars'] / 1024:,.0f} | {r['rss_mb']:.0f} |", flush=True)


def stage_split(jsonl: Path, events: int, packs: list[str], memory_limit: str, work: Path | None = None,
                ids: str = "canonical") -> None:
    """CPU seconds by stage of the engine's scan of ``events`` events, per rule pack."""
    print("\nCPU seconds by stage (alerting timed per call, so its own timer adds to it):\n")
    print("| input | rules | CPU s | planning | SQL + Parquet read | Python: Arrow, digests | of which alerting |")
    print("|---|---|---|---|---|---|---|")
    for spec in packs:
        r = run_child(parquet_of(jsonl, events, work, ids), spec, memory_limit, alerting=True,
                      work=work or HERE / "data")
        st = r["stages"]
        sql = r["cpu"] - st["plan"] - st["python"]
        print(f"| {events:,} | {spec} ({r['rules']}) | {r['cpu']:.2f} | {st['plan']:.2f} | {sql:.2f} | "
              f"{st['python'] - st['alerting']:.2f} | {st['alerting']:.2f} |", flush=True)


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its reaped children (scan workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def jsonl_pass(path: Path, loaded, events: int, rounds: int) -> None:
    """Floor, then ``rounds`` rounds of the streaming scan in one process, the streaming scan
    with its default workers (one per core) and the duckdb engine (its default workers too) over
    one JSON-lines file, in wall and CPU time (workers' CPU included); the median round of each.
    Every scan must give the same alerts, matches and counts, or the run stops."""
    import os

    import duckdb

    from tokentrail import api
    from tokentrail.engine.batch import scan_batch

    def measured(run):
        wall, cpu = time.perf_counter(), cpu_seconds()
        out = run()
        return out, time.perf_counter() - wall, cpu_seconds() - cpu

    def outcome(result) -> tuple:
        s = result.stats
        return [(a.id, a.event_ids) for a in result.alerts], s.events, s.matches, s.duplicates, result.events_skipped

    con = duckdb.connect(config={"threads": 2})
    _, *floor = measured(lambda: con.execute(
        "SELECT count(*) FROM read_json_objects(?, format='newline_delimited') WHERE json_valid(json)",
        [str(path)]).fetchall())
    passes = {"streaming, 1 process": lambda: api.scan([str(path)], loaded, workers=1),
              "streaming, one worker per core (default)": lambda: api.scan([str(path)], loaded),
              "duckdb engine (default)": lambda: scan_batch([str(path)], loaded)}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in passes}
    expected, workers = None, None
    for _ in range(rounds):
        for name, run in passes.items():
            result, wall, cpu = measured(run)
            times[name].append((wall, cpu))
            got = outcome(result)
            expected = expected or got
            if got != expected:
                raise SystemExit(f"the scans disagree: {name} gives other alerts, matches or counts")
            if name.startswith("duckdb"):
                workers = getattr(result, "stream_workers", None)  # an older tree's result has none
    if expected[1] != events:
        raise SystemExit(f"read {expected[1]} events of {events}")
    print(f"{events} Okta events from {path.name}, {len(loaded.runnable)} rules, {expected[2]} matches, "
          f"{len(expected[0])} alerts (the same in every scan); median of {rounds} rounds; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end; duckdb engine's stream workers: "
          f"{workers or 'none'}\n")
    median = {name: tuple(statistics.median(t[i] for t in runs) for i in (0, 1)) for name, runs in times.items()}
    one, default = median["streaming, 1 process"], median["streaming, one worker per core (default)"]
    print("| pass | wall s | events/s (wall) | CPU s | events per CPU-second | vs 1-process streaming (wall) | "
          "vs default streaming (wall) | vs default streaming (CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (w, c) in (("DuckDB count(*) of valid JSON lines (floor, once)", tuple(floor)), *median.items()):
        print(f"| {name} | {w:.2f} | {events / w:,.0f} | {c:.2f} | {events / max(c, 1e-9):,.0f} | "
              f"{one[0] / w:.2f}x | {default[0] / w:.2f}x | {default[1] / max(c, 1e-9):.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=200, help="synthetic rules added to the bundled pack")
    parser.add_argument("--parquet", default="", metavar="N[,N...]",
                        help="time the duckdb engine over N events from Parquet instead (sizes, comma-separated)")
    parser.add_argument("--packs", default="bundled,bundled+200", help="rule packs of the Parquet passes")
    parser.add_argument("--scaling", default="20,200,2000", help="synthetic pack sizes timed at the first size")
    parser.add_argument("--check", type=int, default=200_000, help="events of the streaming check (0: none)")
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--baseline", default="", metavar="PYTHON",
                        help="also time the Parquet passes at the first size with this interpreter's tokentrail")
    parser.add_argument("--ids", choices=ID_KINDS, default="canonical",
                        help="the uuids of the Parquet copies: canonical UUIDs (as Okta's) or <uuid>-<copy>")
    parser.add_argument("--no-stages", action="store_true", help="skip the stage split")
    parser.add_argument("--source", type=Path, help="an existing Okta JSON-lines file to start from "
                        "(instead of writing --events simulated ones)")
    parser.add_argument("--work", type=Path, help="where Parquet files and synthetic packs go "
                        "(default: beside the JSON-lines file)")
    parser.add_argument("--results", type=Path, help="JSON-lines file each finished pass is appended to; "
                        "passes already in it are not run again")
    parser.add_argument("--plan", default="", metavar="N[,N...]",
                        help="with --parquet: only load and plan synthetic packs of these sizes (no scan)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--plan-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rules", default="bundled", help=argparse.SUPPRESS)
    parser.add_argument("--alerting", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--jsonl", action="store_true",
                        help="rounds over scan_throughput's cached JSON-lines file: floor, streaming in one "
                        "process and with workers, duckdb")
    parser.add_argument("--gz", action="store_true", help="with --jsonl: its gzip copy")
    args = parser.parse_args()
    if args.child:
        child_pass(Path(args.child), args.rules, args.memory_limit, args.alerting, args.work or HERE / "data",
                   args.plan_only)
        return

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
        jsonl_pass(path, api.load_rules(rule_paths), args.events, args.rounds)
        return
    path = args.source or write_events(data / f"okta_{args.events}_{args.seed}.jsonl", args.events, args.seed)
    if args.parquet:
        sizes, work, results = [int(n) for n in args.parquet.split(",")], args.work or path.parent, Results(args.results)
        packs = [p for p in args.packs.split(",") if p]
        progress(f"{os.cpu_count()} cores, {shutil.disk_usage(work if work.exists() else path.parent).free / 1e9:.0f}"
                 f" GB free under {work}")
        if args.plan:
            plan_passes(path, sizes[0], [int(n) for n in args.plan.split(",")], args.memory_limit, work, results)
            return
        parquet_passes(path, sizes, packs, [int(n) for n in args.scaling.split(",") if n], args.check,
                       args.memory_limit, args.baseline, not args.no_stages and bool(packs), work, results, args.ids)
        return
    pack = list(default_rule_paths())
    if args.synthetic:
        pack.append(write_pack(data / f"synthetic_pack_{args.synthetic}", args.synthetic))
    loaded = api.load_rules(pack)
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
