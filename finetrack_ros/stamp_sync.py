"""Exact-time pairing of two message streams by header stamp (no ROS).

``message_filters`` has no PyPI wheel, so the node pairs ``image`` with ``detections``
(vision_msgs/Detection2DArray from an external detector) here: a message waits in a bounded
queue until the other stream delivers one with the *same* stamp (integer nanoseconds).
On a match, everything older in both queues is discarded (it can no longer pair, as
message_filters' ExactTime policy does). Unpaired messages are counted, never returned.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

FIRST, SECOND = 0, 1  # stream indices: (image, detections) in the node


@dataclass
class SyncStats:
    """Counters since construction (or :meth:`ExactTimeSync.reset`)."""

    paired: int = 0  # pairs returned
    dropped_overflow: int = 0  # evicted because a queue exceeded queue_size
    dropped_stale: int = 0  # discarded because a newer stamp paired first
    duplicates: int = 0  # a second message with a stamp already queued (replaced it)


class ExactTimeSync:
    """Pairs messages of two streams whose stamps are equal.

    Args:
        queue_size: messages kept per stream while waiting for a partner (>= 1). When a
            queue is full the oldest entry is dropped.

    ``add(stream, stamp_ns, msg)`` returns ``(first_msg, second_msg)`` when ``msg``
    completes a pair, else None.
    """

    def __init__(self, queue_size: int = 10) -> None:
        if int(queue_size) < 1:
            raise ValueError(f"ExactTimeSync: queue_size must be >= 1, got {queue_size}")
        self.queue_size = int(queue_size)
        self.stats = SyncStats()
        # stamp_ns -> message, in arrival order, one queue per stream
        self._queues: tuple[OrderedDict, OrderedDict] = (OrderedDict(), OrderedDict())

    def reset(self) -> None:
        """Forget queued messages and counters (e.g. after time jumped backwards)."""
        for queue in self._queues:
            queue.clear()
        self.stats = SyncStats()

    def pending(self, stream: int) -> int:
        """Messages of ``stream`` waiting for a partner."""
        return len(self._queues[stream])

    def add_first(self, stamp_ns: int, msg: Any) -> Optional[tuple[Any, Any]]:
        return self.add(FIRST, stamp_ns, msg)

    def add_second(self, stamp_ns: int, msg: Any) -> Optional[tuple[Any, Any]]:
        return self.add(SECOND, stamp_ns, msg)

    def add(self, stream: int, stamp_ns: int, msg: Any) -> Optional[tuple[Any, Any]]:
        """Queue ``msg`` of ``stream`` (FIRST or SECOND); return the pair it completes."""
        if stream not in (FIRST, SECOND):
            raise ValueError(f"ExactTimeSync: stream must be 0 or 1, got {stream}")
        stamp_ns = int(stamp_ns)
        other = self._queues[1 - stream]
        if stamp_ns in other:
            partner = other.pop(stamp_ns)
            self._drop_older(stamp_ns)
            self.stats.paired += 1
            return (msg, partner) if stream == FIRST else (partner, msg)
        queue = self._queues[stream]
        if stamp_ns in queue:
            self.stats.duplicates += 1
            del queue[stamp_ns]
        queue[stamp_ns] = msg
        while len(queue) > self.queue_size:
            queue.popitem(last=False)
            self.stats.dropped_overflow += 1
        return None

    def _drop_older(self, stamp_ns: int) -> None:
        for queue in self._queues:
            for old in [s for s in queue if s <= stamp_ns]:
                del queue[old]
                self.stats.dropped_stale += 1
