"""The rate of the frames a tracker sees, from their header stamps (no ROS).

Track memory (``lost_track_seconds``, ``gallery_seconds``) and velocities are in seconds, but
the tracker counts frames: it needs the rate at which frames reach it. That is the camera's
rate only when no frame is dropped on the way; a node that keeps the newest image while it is
busy tracks fewer. :class:`StampRate` measures it as the median step between the stamps of
consecutive tracked frames, so a lost frame or a late one does not move it.
"""
from __future__ import annotations

from collections import deque
from typing import Optional

import numpy as np

NS_PER_SEC = 1_000_000_000
# stamp steps kept (the newest); the median of this many is robust to a burst of drops
WINDOW = 32
# steps needed before the rate is trusted
MIN_STEPS = 4
# a measured rate within this fraction of the rate in use is no change (stamp jitter)
TOLERANCE = 0.05


class StampRate:
    """Median frame rate of the last :data:`WINDOW` stamp steps."""

    def __init__(self) -> None:
        self._steps: deque[int] = deque(maxlen=WINDOW)
        self._last_ns: Optional[int] = None

    def clear(self) -> None:
        """Forget the stamps (the tracker was reset: a new sequence, a looped bag)."""
        self._steps.clear()
        self._last_ns = None

    def observe(self, stamp_ns: int) -> Optional[float]:
        """Add a tracked frame's stamp (increasing); return the rate in Hz once known."""
        if self._last_ns is not None and stamp_ns > self._last_ns:
            self._steps.append(stamp_ns - self._last_ns)
        self._last_ns = stamp_ns
        if len(self._steps) < MIN_STEPS:
            return None
        return NS_PER_SEC / float(np.median(self._steps))

    @staticmethod
    def differs(measured: float, in_use: float) -> bool:
        """Whether ``measured`` is far enough from ``in_use`` to replace it."""
        return abs(measured - in_use) > TOLERANCE * in_use
