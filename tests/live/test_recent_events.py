"""The live duplicate filter remembers the newest ids: within its horizon exactly like a scan's,
beyond it bounded."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrail.engine.dedup import SeenEvents
from tokentrail.live.recent_events import RecentEvents


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=300), st.integers(1, 8), st.integers(1, 30))
def test_a_repeat_within_the_horizon_is_dropped_as_a_scan_drops_it(ids, memory_ids, horizon):
    live, scan = RecentEvents(memory_ids, horizon), SeenEvents(memory_ids)
    last_taken: dict[str, int] = {}  # key -> how many keys were taken when it was taken
    taken = 0
    for i in ids:
        key = f"okta\x1f{i}"
        dup = live.seen_key(key)
        if key in last_taken and taken - last_taken[key] < horizon:
            assert dup, "a repeat within one horizon of newer ids must be dropped"
        if dup:
            assert scan.seen_key(key), "only a key taken before can be called a duplicate"
        else:
            scan.seen_key(key)
            last_taken[key] = taken
            taken += 1
        assert live.held <= 2 * horizon


def test_memory_is_bounded_however_many_ids_pass():
    live = RecentEvents(memory_ids=64, horizon=1000)
    for n in range(10_000):
        assert not live.seen_key(f"okta\x1f{n:08d}")
        assert live.held <= 2000
    assert live.seen_key(f"okta\x1f{9_999:08d}")  # the newest are remembered
    assert not live.seen_key(f"okta\x1f{0:08d}")  # the oldest were forgotten, by design
