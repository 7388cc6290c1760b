"""ExactTimeSync: exact-stamp pairing of images and detection arrays, bounded queues."""
from __future__ import annotations

import pytest

from finetrack_ros.stamp_sync import FIRST, SECOND, ExactTimeSync


def test_pairs_equal_stamps_in_either_order():
    sync = ExactTimeSync(queue_size=5)
    assert sync.add_first(100, "img100") is None
    assert sync.add_second(100, "det100") == ("img100", "det100")
    assert sync.add_second(200, "det200") is None
    assert sync.add_first(200, "img200") == ("img200", "det200")
    assert sync.stats.paired == 2
    assert sync.pending(FIRST) == sync.pending(SECOND) == 0


def test_unpaired_messages_are_never_returned_and_older_ones_are_dropped():
    sync = ExactTimeSync(queue_size=5)
    sync.add_first(100, "img100")  # its detections never come
    sync.add_second(150, "det150")  # its image never comes
    sync.add_first(200, "img200")
    assert sync.add_second(200, "det200") == ("img200", "det200")
    # 100 and 150 are older than the matched pair: discarded, cannot pair later
    assert sync.pending(FIRST) == 0 and sync.pending(SECOND) == 0
    assert sync.stats.dropped_stale == 2
    assert sync.add_second(100, "det100-late") is None


def test_queue_is_bounded_and_evicts_the_oldest():
    sync = ExactTimeSync(queue_size=3)
    for stamp in range(10):
        sync.add_first(stamp, f"img{stamp}")
    assert sync.pending(FIRST) == 3
    assert sync.stats.dropped_overflow == 7
    assert sync.add_second(0, "det0") is None  # evicted
    assert sync.add_second(9, "det9") == ("img9", "det9")


def test_duplicate_stamp_replaces_and_reset_clears():
    sync = ExactTimeSync(queue_size=3)
    sync.add_first(5, "old")
    sync.add_first(5, "new")
    assert sync.stats.duplicates == 1
    assert sync.add_second(5, "det") == ("new", "det")
    sync.add_first(7, "img7")
    sync.reset()
    assert sync.pending(FIRST) == 0 and sync.stats.paired == 0
    assert sync.add_second(7, "det7") is None


def test_nanosecond_resolution_does_not_pair_near_stamps():
    sync = ExactTimeSync()
    sync.add_first(1_000_000_001, "a")
    assert sync.add_second(1_000_000_002, "b") is None


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="queue_size"):
        ExactTimeSync(queue_size=0)
    with pytest.raises(ValueError, match="stream"):
        ExactTimeSync().add(2, 0, "x")
