"""The scan's collector settings are scoped: thresholds and frozen objects come back afterwards."""

import gc

from tokentrail.engine.gcpolicy import SCAN_GEN0_THRESHOLD, scan_gc


def test_scan_gc_is_undone_on_exit():
    before = gc.get_threshold()
    with scan_gc():
        assert gc.get_threshold()[0] >= SCAN_GEN0_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_during_a_scan_are_still_collected():
    class Node:
        pass

    with scan_gc():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
