"""Spark engine throughput, per core, for sizing a cluster (docs/spark.md).

    python bench/spark_throughput.py [--events 200000] [--seed 7] [--master local[2]] [--rounds 2]

Writes N simulated Okta events (JSONL), loads the bundled pack, and times ``scan_spark`` after
one warm-up scan (the JVM's JIT and Spark's first query are start-up costs, not per-event
costs), next to the streaming engine on the same file. Each batch of events is one Spark query
with a fixed cost (analysis of the rules' SQL), so the per-event rate is taken from two sizes:
(time(N) - time(N/10)) / (0.9 N). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tokentrail import api
from tokentrail.content import RULES_DIR
from tokentrail.engine.spark import scan_spark, spark_session
from tokentrail.rules.loader import LoadContext
from tokentrail.simulate import write_logs


def _okta_file(out: Path, events: int, seed: int) -> tuple[str, int]:
    path = write_logs(out, ["all"], events, seed, sources=("okta",))["okta"]
    with open(path, "rb") as f:
        return str(path), sum(1 for _ in f)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cores = int(args.master[6:-1]) if args.master.startswith("local[") and args.master[6:-1].isdigit() else os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        big, n_big = _okta_file(Path(tmp) / "big", args.events, args.seed)
        small, n_small = _okta_file(Path(tmp) / "small", args.events // 10, args.seed)
        rules = api.load_rules([RULES_DIR], context=LoadContext(allow_python=True))
        session = spark_session(args.master)
        scan_spark([small], rules, session=session)  # warm-up
        spark_big = min(_timed(lambda: scan_spark([big], rules, session=session)) for _ in range(args.rounds))
        spark_small = min(_timed(lambda: scan_spark([small], rules, session=session)) for _ in range(args.rounds))
        stream = min(_timed(lambda: api.scan([big], rules, workers=1)) for _ in range(args.rounds))
        session.stop()
    per_event = (spark_big - spark_small) / max(1, n_big - n_small)
    rate = 1 / per_event if per_event > 0 else float("inf")
    print(f"| events | Spark scan (s) | streaming, 1 worker (s) | Spark marginal events/s | per core ({cores}) |")
    print("|---|---|---|---|---|")
    print(f"| {n_big:,} | {spark_big:.1f} | {stream:.1f} | {rate:,.0f} | {rate / cores:,.0f} |")
    print(f"| {n_small:,} | {spark_small:.1f} | | | |")


if __name__ == "__main__":
    main()
