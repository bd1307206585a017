"""Spark engine throughput, per core, for sizing a cluster (docs/spark.md).

    python bench/spark_throughput.py [--events 200000] [--seed 7] [--master local[2]] [--rounds 1]
                                     [--modes dedup,keep] [--formats jsonl,parquet]

Takes N simulated Okta events (JSON lines: bench/data/okta_N.jsonl when it is there, else
written to a temporary folder) and its first N/10 lines, loads the bundled pack (with its Python
rules), and after one warm-up scan (the JVM's JIT and Spark's first query are start-up costs,
not per-event costs) times ``scan_spark`` on both files, for each mode: ``dedup`` (the default
duplicate filter: every event of a log type with Python rules goes to the driver) and ``keep``
(``keep_duplicates``: the Python rules decide in the executors), and for each format: ``jsonl``
(the files as they are) and ``parquet`` (each file's events written as one Parquet file, in
order). The executors read the files (``engine/spark_read.py``, ``engine/spark_parquet.py``). Each scan is wall time and CPU seconds: the driver's own
(``time.process_time``) and Spark's (the JVM and its Python workers: every process under the
JVM, from /proc, reaped children included), so that a loaded machine still gives a sound rate.
Each query has a fixed cost (Spark's analysis of the rules' SQL), so the per-event rate is
taken from the two sizes: ``0.9 N / (x(N) - x(N/10))`` for x the wall time (events/s) and the
CPU seconds (events per CPU-second, i.e. per core). The streaming engine (one process) on the
big file is the baseline, and must give the same alerts, or the run stops. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scan_throughput import warm_cache, write_events  # noqa: E402

from tokentrail import api  # noqa: E402
from tokentrail.content import RULES_DIR  # noqa: E402
from tokentrail.engine.spark import scan_spark, spark_session  # noqa: E402
from tokentrail.rules.loader import LoadContext  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds used by ``root`` and every process under it, the ones already reaped
    included (each live process's ``cutime``/``cstime`` hold its reaped children)."""
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total / TICKS


def measured(fn, jvm: int) -> tuple[float, float, float, object]:
    """(wall, driver CPU, Spark CPU) seconds of ``fn()`` and its result."""
    wall, cpu, spark = time.perf_counter(), time.process_time(), tree_cpu(jvm)
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, tree_cpu(jvm) - spark, result


def _head(src: Path, out: Path, lines: int) -> int:
    with open(src, "rb") as fh, open(out, "wb") as dst:
        n = 0
        for line in fh:
            if n == lines:
                break
            dst.write(line)
            n += 1
    return n


def _count(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def _peak(pid: str) -> int:
    """The peak resident set of a process (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) // 1024 for line in fh if line.startswith("VmHWM:"))


def _as_parquet(src: Path, out: Path) -> Path:
    """The events of a JSON-lines file as one Parquet file, in their order."""
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(src, "rb") as fh:
        pq.write_table(pa.Table.from_pylist([orjson.loads(line) for line in fh if line.strip()]), out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--modes", default="dedup,keep")
    parser.add_argument("--formats", default="jsonl")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",")]
    formats = [f.strip() for f in args.formats.split(",")]
    cores = int(args.master[6:-1]) if args.master.startswith("local[") and args.master[6:-1].isdigit() else os.cpu_count()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cached = HERE / "data" / f"okta_{args.events}.jsonl"
        big = cached if cached.exists() else write_events(Path(tmp) / f"okta_{args.events}.jsonl", args.events,
                                                          args.seed)
        n_big = _count(big)
        small = Path(tmp) / "small.jsonl"
        n_small = _head(big, small, n_big // 10)
        files = {"jsonl": (big, small)}
        if "parquet" in formats:
            files["parquet"] = (_as_parquet(big, Path(tmp) / "big.parquet"), _as_parquet(small, Path(tmp) / "small.parquet"))
            print(f"bytes of JSON lines per byte of Parquet: {big.stat().st_size / files['parquet'][0].stat().st_size:.1f}")
        warm_cache(big)
        rules = api.load_rules([RULES_DIR], context=LoadContext(allow_python=True))
        session = spark_session(args.master)
        jvm = session.sparkContext._gateway.proc.pid
        scan_spark([str(small)], rules, session=session)  # warm-up
        rows = []
        for mode in modes:
            keep = mode == "keep"
            stream = measured(lambda k=keep: api.scan([str(big)], rules, workers=1, keep_duplicates=k), jvm)
            for fmt in formats:
                runs = {}
                for name, path in zip(("big", "small"), files[fmt], strict=True):
                    runs[name] = min((measured(lambda p=path, k=keep: scan_spark([str(p)], rules, session=session,
                                                                                  keep_duplicates=k), jvm)
                                      for _ in range(args.rounds)), key=lambda r: r[0])
                got = [(a.id, a.event_ids) for a in runs["big"][3].alerts]
                if got != [(a.id, a.event_ids) for a in stream[3].alerts]:
                    raise SystemExit(f"{mode} {fmt}: the Spark scan's alerts differ from the streaming engine's")
                rows.append((f"{mode} {fmt}", runs, stream))
                print(f"mode {mode} {fmt} done, load {os.getloadavg()}", flush=True)
        peaks = f"peak RSS (VmHWM): driver {_peak('self')} MB, Spark's JVM {_peak(str(jvm))} MB"
        session.stop()
    span = n_big - n_small
    print(f"\n{peaks}")
    print(f"\nload average at end: {os.getloadavg()}; {cores} cores\n")
    print("| mode | events | wall (s) | driver CPU (s) | Spark CPU (s) | streaming, 1 process: wall / CPU (s) |")
    print("|---|---|---|---|---|---|")
    for mode, runs, stream in rows:
        for name, n in (("big", n_big), ("small", n_small)):
            wall, cpu, spark, _ = runs[name]
            ref = f"{stream[0]:.1f} / {stream[1]:.1f}" if name == "big" else ""
            print(f"| {mode} | {n:,} | {wall:.1f} | {cpu:.1f} | {spark:.1f} | {ref} |")
    print("\n| mode | marginal events/s (wall) | per core, wall / cores | events per CPU-second (all processes) |"
          " streaming events per CPU-second |")
    print("|---|---|---|---|---|")
    for mode, runs, stream in rows:
        (wb, cb, sb, _), (ws, cs, ss, _) = runs["big"], runs["small"]
        wall_rate = span / (wb - ws) if wb > ws else float("inf")
        cpu_rate = span / ((cb + sb) - (cs + ss)) if cb + sb > cs + ss else float("inf")
        print(f"| {mode} | {wall_rate:,.0f} | {wall_rate / cores:,.0f} | {cpu_rate:,.0f} | {n_big / stream[1]:,.0f} |")


if __name__ == "__main__":
    main()
