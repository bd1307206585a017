"""Run as a script by test_dead_workers (and tests/batch/test_json_workers, with ``duckdb``): a
-j 2 library scan whose workers get killed.

    python worker_kill_probe.py LOGS once|always|midsend [stream|duckdb]

``once``: the first match routed in the parent kills one live worker with SIGKILL (as the OOM
killer would). ``always``: every worker that starts the range at byte 0 kills itself.
``midsend``: the first worker given the range at byte 0 dies part way through sending its result
(``PROBE_MARKER`` names the file recording that it did). Prints one JSON object: the alert ids,
event count, or the error's one line, and the children the process still has after the scan.
``duckdb``: the scan is the DuckDB engine's (``scan_batch``), whose big JSON-lines files go to the
same workers.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import struct
import sys
from multiprocessing.queues import SimpleQueue

import orjson

from tokentrail import load_rules, scan
from tokentrail.content import default_rule_paths
from tokentrail.engine import parallel
from tokentrail.engine.batch import scan_batch
from tokentrail.errors import TokenTrailError

_REAL_SCAN_RANGE = parallel._scan_range


def doomed(task):
    """A worker given the first byte range dies at once, every time."""
    if task[1] == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_SCAN_RANGE(task)


def dies_mid_send(task):
    """The first worker given the first byte range dies having sent a part of its result,
    holding the result queue's lock, as a worker killed while sending would."""
    marker = os.environ["PROBE_MARKER"]
    if task[1] == 0 and not os.path.exists(marker):
        open(marker, "wb").close()
        queue = next(o for o in gc.get_objects() if isinstance(o, SimpleQueue))
        queue._wlock.acquire()
        os.write(queue._writer.fileno(), struct.pack("!i", 1 << 20) + b"part of a result")
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_SCAN_RANGE(task)


def children() -> list[int]:
    """The processes this one started that are still there."""
    pid = os.getpid()
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def main() -> None:
    logs, mode = sys.argv[1], sys.argv[2]
    engine = sys.argv[3] if len(sys.argv) > 3 else "stream"
    parallel.CHUNK_BYTES = 64 << 10
    killed: list[int] = []

    def kill_one(match) -> None:
        if mode == "once" and not killed:
            worker = multiprocessing.active_children()[0]
            os.kill(worker.pid, signal.SIGKILL)
            killed.append(worker.pid)

    if mode == "always":
        parallel._scan_range = doomed
    elif mode == "midsend":
        parallel._scan_range = dies_mid_send
    run = scan_batch if engine == "duckdb" else scan
    try:
        result = run([logs], load_rules(default_rule_paths()), workers=2, min_parallel_bytes=0, on_match=kill_one)
    except TokenTrailError as exc:
        print(orjson.dumps({"error": str(exc), "children": children()}).decode())
        return
    print(orjson.dumps({"alerts": [a.id for a in result.alerts], "events": result.stats.events,
                        "killed": len(killed), "children": children()}).decode())


if __name__ == "__main__":
    main()
