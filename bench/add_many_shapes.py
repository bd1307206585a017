"""CPU time of ``GroupingAlerter.add_many`` by the shape of the runs it is handed.

    python bench/add_many_shapes.py [--calls 10] [--run 26000] [--keys 1,10,100,1000,6000] [--rounds 3]

Each shape is ``--calls`` runs in time order of ``--run`` matches over ``--keys`` group keys (a
key and a source address drawn at random per match, 8,640 seconds of event time per run), fed to
one alerter of a rule like the bundled pack's aggregating Okta rules (group by actor, one-hour
windows, at least 10 matches from 4 distinct addresses), then flushed. Prints per shape the
least CPU seconds of ``--rounds`` and microseconds per match: with few matches per key and
window the cost follows the number of groups (an open, a window end on the heap, a close each)
more than the number of matches. The default run is the size of the batch engine's runs per rule
over ``/work/data/pq1m``-like data (about 26,000 matches of 6,000 actors).
"""

from __future__ import annotations

import argparse
import gc
import random
import time

from tokentrail.alerting.grouping import GroupingAlerter
from tokentrail.rules.ir import Const
from tokentrail.rules.model import Grouping, Rule

RULE = Rule(id="shape", title="shape", format="sigma", logic=Const(True),
            grouping=Grouping(group_by=("actor",), window=3600.0, threshold=10, distinct_field="ip",
                              distinct_threshold=4))
SPAN = 8640.0  # event-time seconds per run


def runs(calls: int, size: int, keys: int, seed: int = 1) -> list[tuple[list, list, list, list]]:
    """``calls`` runs (times, event ids, keys, addresses) of ``size`` matches over ``keys`` keys."""
    rng = random.Random(seed)
    out = []
    for call in range(calls):
        times = sorted(call * SPAN + rng.random() * SPAN for _ in range(size))
        out.append((times, [f"e{call}-{n}" for n in range(size)], [(f"user{rng.randrange(keys)}",) for _ in range(size)],
                    [f"10.0.{rng.randrange(4)}.{rng.randrange(200)}" for _ in range(size)]))
    return out


def timed(shape: list[tuple[list, list, list, list]]) -> float:
    """CPU seconds to alert the runs of one shape and flush."""
    alerter = GroupingAlerter(RULE)
    started = time.process_time()
    for times, ids, keys, ips in shape:
        alerter.add_many(times, ids, keys, ips)
    alerter.flush()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--run", type=int, default=26000)
    parser.add_argument("--keys", default="1,10,100,1000,6000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    gc.disable()  # as the batch engine's routing runs (engine/gcpolicy.py)
    print("| keys | matches per key and run | CPU s | µs per match |")
    print("|---:|---:|---:|---:|")
    for keys in (int(k) for k in args.keys.split(",")):
        shape = runs(args.calls, args.run, keys)
        best = min(timed(shape) for _ in range(args.rounds))
        print(f"| {keys:,} | {args.run / keys:,.1f} | {best:.3f} | {best / (args.calls * args.run) * 1e6:.2f} |")


if __name__ == "__main__":
    main()
