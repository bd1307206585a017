"""Garbage-collector settings for the length of a scan.

A scan allocates a few dozen containers per event (the parsed JSON) and frees them by reference
counting: events hold no cycles. The cyclic collector still wakes every 700 allocations and, in
its older generations, walks the whole compiled rule plan. Freezing what exists when the scan
starts (the plan) and waking the collector less often removes that overhead — about a tenth of
a scan's time — without letting memory grow: the few cycles a scan makes are still collected.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

SCAN_GEN0_THRESHOLD = 50_000


@contextmanager
def scan_gc() -> Iterator[None]:
    """Freeze the objects that exist now and collect young objects less often; undo on exit."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], SCAN_GEN0_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
