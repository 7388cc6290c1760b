"""Frames the camera sent that never reached the node, judged from the image stamps (no ROS).

A camera stamps frames at a steady period. :class:`FrameLoss` estimates that period from the
stamps it sees and counts each gap of k missing periods. A missing frame whose arrival (the
previous frame's arrival + i periods) fell while the node was busy with a frame was dropped
by the node itself (its image queue keeps only the newest message); the others were lost in
transport before the node: typically large images that leave Fast DDS shared memory because
the camera's process does not load the large-images profile (docs/node.md, "QoS notes").

The node calls :meth:`FrameLoss.observe` for every image it receives and :meth:`busy` for
every interval it spends tracking; times are passed in (seconds, any monotonic clock), so
tests need no clock.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy as np

# Stamp steps kept for the period estimate (the newest ones).
PERIOD_WINDOW = 64
# Steps needed before gaps are judged: the period must be known first.
MIN_STEPS = 8
# A gap of more periods than this is a pause (camera stopped, bag paused), not lost frames.
MAX_GAP_PERIODS = 30
# A missing frame expected up to this many periods after the node finished a frame still
# counts as dropped by the node (arrival jitter): losses are only blamed on transport when
# the node was certainly idle.
BUSY_TOLERANCE_PERIODS = 0.5
# A stamp step may be this far (in periods) from a whole number of periods (stamp jitter).
PERIOD_TOLERANCE = 0.15
# The shortest step seen is at most this many periods (every frame between two lost).
MAX_SUBDIVISION = 8
# Transport losses needed before the fraction is judged (a few lost at start-up are noise).
MIN_LOST_TO_WARN = 10


@dataclass
class GapCount:
    """Missing frames of one gap: ``dropped`` by the busy node, ``lost`` in transport."""

    dropped: int = 0
    lost: int = 0


class FrameLoss:
    """Counts frames missing between received image stamps, split by cause.

    Attributes:
        received: images observed (stamps that moved forward).
        dropped_by_node: missing frames expected while the node was busy tracking.
        lost_in_transport: missing frames expected while the node was idle.
        period_s: the estimated camera period, or None before :data:`MIN_STEPS` steps.
    """

    def __init__(self) -> None:
        self.received = 0
        self.dropped_by_node = 0
        self.lost_in_transport = 0
        self.period_s: Optional[float] = None
        self._steps: deque[float] = deque(maxlen=PERIOD_WINDOW)
        self._last: Optional[tuple[float, float]] = None  # (stamp s, arrival s)
        # tracking intervals since the last image (bounded: repeated stamps never clear it)
        self._busy: deque[tuple[float, float]] = deque(maxlen=MAX_GAP_PERIODS + 2)

    def reset(self) -> None:
        """Forget the stamp history (time jumped back: a looped bag); counts are kept."""
        self._steps.clear()
        self._last, self.period_s = None, None
        self._busy.clear()

    def busy(self, start_s: float, end_s: float) -> None:
        """Record that the node tracked a frame from ``start_s`` to ``end_s``."""
        self._busy.append((start_s, end_s))

    def observe(self, stamp_s: float, arrival_s: float) -> GapCount:
        """Count the frames missing between the previous image and this one.

        Args:
            stamp_s: the image's header stamp, seconds.
            arrival_s: when the node received it (the clock of :meth:`busy`).
        Returns:
            This gap's missing frames by cause (zero until the period is known).
        """
        last, self._last = self._last, (stamp_s, arrival_s)
        if last is None:
            self.received += 1
            return GapCount()
        step = stamp_s - last[0]
        if step <= -self._pause_s():  # far back in time (a looped bag): a new sequence
            self.reset()
            self._last = (stamp_s, arrival_s)
            return GapCount()
        if step <= 0:  # repeated or a little older: the stamp gate skips it, nothing to count
            self._last = last
            return GapCount()
        self.received += 1
        self._steps.append(step)
        self.period_s = _period(np.asarray(self._steps)) if len(self._steps) >= MIN_STEPS \
            else None
        busy = list(self._busy)
        self._busy.clear()
        if self.period_s is None:
            return GapCount()
        missing = int(round(step / self.period_s)) - 1
        if missing <= 0 or missing > MAX_GAP_PERIODS:
            return GapCount()
        expected = last[1] + self.period_s * np.arange(1, missing + 1)
        tolerance = BUSY_TOLERANCE_PERIODS * self.period_s
        while_busy = np.zeros(missing, bool)
        for start, end in busy:
            while_busy |= (expected >= start) & (expected < end + tolerance)
        gap = GapCount(int(while_busy.sum()), int((~while_busy).sum()))
        self.dropped_by_node += gap.dropped
        self.lost_in_transport += gap.lost
        return gap

    def _pause_s(self) -> float:
        """Return the step (s) beyond which a gap is a pause, or a step back a new sequence."""
        return MAX_GAP_PERIODS * self.period_s if self.period_s else 1.0

    @property
    def lost_fraction(self) -> float:
        """Fraction of the camera's frames (received + missing) lost in transport."""
        sent = self.received + self.dropped_by_node + self.lost_in_transport
        return self.lost_in_transport / sent if sent else 0.0

    def worth_a_warning(self, fraction: float) -> bool:
        """Whether transport losses reached ``fraction`` of the frames (and MIN_LOST_TO_WARN)."""
        return self.lost_in_transport >= MIN_LOST_TO_WARN and self.lost_fraction >= fraction \
            and fraction < 1.0


def _period(steps: np.ndarray) -> float:
    """Camera period from stamp steps that are whole multiples of it (frames go missing).

    The largest ``base / k`` (``base`` the 10th-percentile step, k = 1, 2, ...) of which
    every step is a whole multiple within :data:`PERIOD_TOLERANCE`: steps of 3 and 4 periods
    give the period, not 3. The estimate is then the stamp time over the whole number of
    periods it spans, which averages out jitter.
    """
    base = float(np.percentile(steps, 10))
    for k in range(1, MAX_SUBDIVISION + 1):
        periods = steps / (base / k)
        if np.all(np.abs(periods - np.round(periods)) <= PERIOD_TOLERANCE):
            break
    else:
        k = 1  # no common period: the steps are the camera's own irregular timing
    periods = np.maximum(np.round(steps / (base / k)), 1.0)
    return float(steps.sum() / periods.sum())


def transport_warning(loss: FrameLoss, topic: str, image_bytes: int) -> str:
    """Return the one warning line: what was lost, the likely cause and the remedy."""
    size = f"{image_bytes / 1e6:.1f} MB images" if image_bytes else "images"
    return (f"{loss.lost_in_transport} of the camera's frames on {topic} never reached the "
            f"node ({100 * loss.lost_fraction:.0f} %, judged from the image stamps at a "
            f"{1000 * loss.period_s:.0f} ms period; frames the node dropped while busy not "
            f"counted). With {size}, the usual cause is a camera process without the "
            "large-images Fast DDS profile: its frames go over UDP in fragments. In the "
            "camera's shell: export FASTDDS_DEFAULT_PROFILES_FILE=$(ros2 pkg prefix "
            "finetrack_ros)/share/finetrack_ros/config/fastdds_large_images.xml (or start "
            "the camera from the same launch file)")
