"""Run as a script by test_json_workers: a DuckDB-engine scan with 2 workers, some killed.

    python batch_worker_probe.py LOGS once|always

``once``: the first match routed in the parent kills one live worker with SIGKILL; ``always``:
every worker that starts the range at byte 0 kills itself (the streaming scan's probe,
``tests/delivery/worker_kill_probe.py``, has these workers). Prints one JSON object: the alert
ids, the event count, or the error's one line, and the process's children once the scan ended.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parents[1] / "delivery"))

from worker_kill_probe import doomed  # noqa: E402

from tokentrail import load_rules  # noqa: E402
from tokentrail.content import default_rule_paths  # noqa: E402
from tokentrail.engine import parallel  # noqa: E402
from tokentrail.engine.batch import scan_batch  # noqa: E402
from tokentrail.errors import TokenTrailError  # noqa: E402


def children() -> list[int]:
    """The processes this one started that are still there."""
    pid = os.getpid()
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def main() -> None:
    logs, mode = sys.argv[1], sys.argv[2]
    parallel.CHUNK_BYTES = 64 << 10
    killed: list[int] = []

    def kill_one(match) -> None:
        if mode == "once" and not killed:
            worker = multiprocessing.active_children()[0]
            os.kill(worker.pid, signal.SIGKILL)
            killed.append(worker.pid)

    if mode == "always":
        parallel._scan_range = doomed
    try:
        result = scan_batch([logs], load_rules(default_rule_paths()), workers=2, min_parallel_bytes=0,
                            on_match=kill_one)
    except TokenTrailError as exc:
        print(orjson.dumps({"error": str(exc), "children": children()}).decode())
        return
    print(orjson.dumps({"alerts": [a.id for a in result.alerts], "events": result.stats.events,
                        "killed": len(killed), "children": children()}).decode())


if __name__ == "__main__":
    main()
