"""The duplicate filter alone: bytes per key held, and the parent's CPU per key.

Feeds ``SeenEvents`` the keys of N Okta-like events (``okta\\x1f`` + a random canonical UUID), as
the parallel scan's parent does (``duplicates_among``, batches of ``--batch`` keys, each batch's
strings made fresh as ``orjson.loads`` of a worker's result makes them) and as the one-process
scan does (``seen_key``, one key at a time); then all the keys again, every one a duplicate.
Memory is what tracemalloc counts as still held once the batches are gone (a separate pass:
tracing slows the code). CPU is ``time.process_time`` of the calls only, not of making keys.

Run against another checkout's module with ``PYTHONPATH=/other/src``: the interface is the same.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
import tracemalloc
import uuid
from collections.abc import Iterator

from tokentrail.engine import dedup
from tokentrail.engine.dedup import SeenEvents


def batches(n: int, size: int, seed: int) -> Iterator[list[str]]:
    """N Okta keys in batches, the same for one seed; each batch a new list of new strings."""
    rnd = random.Random(seed)
    done = 0
    while done < n:
        m = min(size, n - done)
        yield [f"okta\x1f{uuid.UUID(int=rnd.getrandbits(128), version=4)}" for _ in range(m)]
        done += m


def run(n: int, size: int, per_key: bool, seed: int) -> tuple[float, float, int]:
    """(CPU seconds of the first pass, of the second pass, duplicates found in the second)."""
    seen = SeenEvents()
    cpu = [0.0, 0.0]
    dups = 0
    for second in (0, 1):
        for batch in batches(n, size, seed):
            start = time.process_time()
            found = sum(seen.seen_key(k) for k in batch) if per_key else len(seen.duplicates_among(batch))
            cpu[second] += time.process_time() - start
            if second:
                dups += found
            elif found:
                raise SystemExit(f"{found} new keys taken for duplicates")
    seen.close()
    return cpu[0], cpu[1], dups


def held_bytes(n: int, size: int, seed: int) -> tuple[int, int]:
    """(bytes still held after N keys, tracemalloc's peak) for the batch path."""
    gc.collect()
    tracemalloc.start()
    seen = SeenEvents()
    for batch in batches(n, size, seed):
        seen.duplicates_among(batch)
        del batch
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    seen.close()
    return current, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=8_000, help="keys per worker result (8 MB of ~1 KB lines)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    n = args.keys
    print(f"module {dedup.__file__}; DEFAULT_MEMORY_IDS {dedup.DEFAULT_MEMORY_IDS:,}; "
          f"load average {os.getloadavg()[0]:.1f}")
    current, peak = held_bytes(n, args.batch, args.seed)
    print(f"held after {n:,} keys: {current / 1e6:.1f} MB ({current / n:.1f} B/key); "
          f"tracemalloc peak {peak / 1e6:.1f} MB ({peak / n:.1f} B/key)")
    for per_key in (False, True):
        first, second, dups = run(n, args.batch, per_key, args.seed)
        how = "seen_key, one at a time" if per_key else f"duplicates_among, batches of {args.batch:,}"
        print(f"{how}: new keys {first / n * 1e9:.0f} ns CPU/key; all again "
              f"{second / n * 1e9:.0f} ns CPU/key ({dups:,} duplicates)")
        if dups != n:
            raise SystemExit(f"expected {n:,} duplicates, found {dups:,}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
