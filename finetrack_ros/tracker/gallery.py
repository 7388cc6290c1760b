"""Long-term re-identification: the Re-ID features of removed tracks, to give an old id back.

ByteTrack forgets a track when it has been lost for ``max_time_lost`` frames; a person who
comes back later gets a new id. The gallery keeps, for ``gallery_seconds``, the smoothed
feature, last box and last frame of each confirmed track when it is removed. Only tracks
followed for ``gallery_min_seconds`` or more give their id back (a short track is often a
false detection, its feature one noisy crop); shorter ones still compete in the clear-winner
test. When a new track is confirmed, it takes back the id of a gallery entry only if every
gate holds (:class:`TakeBackRules`):

- **class**: the same class;
- **appearance**: their distance (1 - cos) is at most the take-back distance: the one the
  Re-ID network measured on its training data (stored by ``train-reid``), else
  ``gallery_thresh``;
- **space and time**: the new foot point (bottom centre of the box) is within
  ``max_speed * seconds gone + margin`` body heights of the last one (the mean height of the
  two boxes), so an id never jumps across the image faster than a person walks;
- **a clear winner**: the best entry's distance is at most ``ratio`` times the second best's
  (among the entries that pass the gates above), the same holds for the entry's best new
  track, and the new track is closer to the entry than to every live track (a person who
  resembles someone still tracked is no evidence).

Matching is one-to-one (Hungarian) over the pairs that pass. On real people who dress alike a
bare threshold handed old ids to new people (issue 20): each gate removes a way to be wrong.
The new track's own id was never published (unconfirmed tracks are not output), so consumers
only ever see the old id again.

Memory is bounded: at most ``gallery_size`` entries (the oldest go first) and none older than its
expiry frame. One gallery per tracker (per camera); a tracker reset clears it.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from finetrack_ros.tracker.association import GATED_COST, linear_assignment


@dataclass
class GalleryEntry:
    """A removed track: id, class, unit feature, last box seen and when, expiry frame."""

    track_id: int
    class_id: int
    feature: np.ndarray
    last_seen_frame: int
    expires_frame: int
    last_xyxy: np.ndarray  # (4,) the last box the track was matched to, pixels
    gives_id: bool = True  # followed long enough to give its id back (else a competitor only)


@dataclass(frozen=True)
class TakeBackRules:
    """The gates of a take-back (see the module docstring).

    Attributes:
        max_distance: largest appearance distance 1 - cos.
        max_speed: body heights per second the foot point may have moved since last seen.
        margin: body heights allowed on top (box jitter, a step hidden by an occluder).
        ratio: the best entry's distance <= ratio * the second best's; 1 = no ratio test.
        frame_rate: frames per second, to turn frames gone into seconds.
    """

    max_distance: float
    max_speed: float
    margin: float
    ratio: float
    frame_rate: float


class IdentityGallery:
    """Features of removed tracks, keyed by track id (see the module docstring)."""

    def __init__(self) -> None:
        self.entries: OrderedDict[int, GalleryEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self.entries)

    def clear(self) -> None:
        self.entries.clear()

    def add(self, track, keep_frames: int, capacity: int, min_frames: float = 0.0) -> None:
        """Remember a removed track (a confirmed one with a feature).

        Only a track followed for ``min_frames`` or more can give its id back; a shorter one
        is kept as a competitor of the clear-winner test (often it is the very person, seen
        briefly: then nobody should take an older id instead). A gallery holding more than
        ``capacity`` entries drops its oldest ones.
        """
        if track.feature is None or not track.is_activated or keep_frames <= 0:
            return
        self.entries.pop(track.track_id, None)
        self.entries[track.track_id] = GalleryEntry(
            track.track_id, track.class_id, np.asarray(track.feature, np.float32),
            track.frame_id, track.frame_id + keep_frames,
            np.asarray(track.observed_xyxy, np.float64),
            track.frame_id - track.start_frame >= min_frames - 1e-6)
        while len(self.entries) > capacity:
            self.entries.popitem(last=False)

    def expire(self, frame_id: int) -> None:
        for track_id in [i for i, e in self.entries.items() if e.expires_frame < frame_id]:
            del self.entries[track_id]

    def take_back(self, tracks: list, live_features: np.ndarray, frame_id: int,
                  rules: TakeBackRules) -> list[tuple]:
        """Give newly confirmed ``tracks`` the ids of entries that pass every gate.

        Args:
            tracks: tracks confirmed in frame ``frame_id`` (those without a feature are
                skipped).
            live_features: (L, D) unit features of the live tracks other than ``tracks``
                (tracked and lost); the new track must be closer to the entry than to each.
            frame_id: the tracker's frame.
            rules: the gates.

        Returns:
            The (track, old id) pairs applied; each track's ``track_id`` is set to the old id
            and the entry leaves the gallery.

        Entries are removed tracks and a track is confirmed one frame after it starts, so a
        new track never overlaps in time with the track whose id it takes (that one was
        alive, hence not in the gallery, when the new one started), and no live id is ever
        handed out.
        """
        candidates = [t for t in tracks if t.feature is not None]
        entries = list(self.entries.values())
        if not candidates or not entries:
            return []
        features = np.array([t.feature for t in candidates])
        cost = 1.0 - features @ np.array([e.feature for e in entries]).T  # (C, E)
        cost[~self._reachable(candidates, entries, frame_id, rules)] = GATED_COST
        # both ways: the entry is the track's clear best, and the track the entry's
        cost[~(_clear_winners(cost, rules.ratio) & _clear_winners(cost.T, rules.ratio).T)] = \
            GATED_COST
        if len(live_features):  # closer to some live track than to the entry: ambiguous
            nearest_live = (1.0 - features @ np.asarray(live_features).T).min(axis=1)
            cost[cost >= nearest_live[:, None]] = GATED_COST
        cost[:, ~np.array([e.gives_id for e in entries])] = GATED_COST
        matches, _, _ = linear_assignment(cost, rules.max_distance)
        taken = []
        for row, col in matches:
            track, entry = candidates[row], entries[col]
            taken.append((track, entry.track_id))
            track.track_id = entry.track_id
            del self.entries[entry.track_id]
        return taken

    @staticmethod
    def _reachable(tracks: list, entries: list[GalleryEntry], frame_id: int,
                   rules: TakeBackRules) -> np.ndarray:
        """(C, E) bool: same class, and the person could have walked from the entry's box."""
        new_boxes = np.array([t.observed_xyxy for t in tracks], np.float64)  # (C, 4)
        old_boxes = np.array([e.last_xyxy for e in entries], np.float64)  # (E, 4)
        seconds = (frame_id - np.array([e.last_seen_frame for e in entries])) / rules.frame_rate
        heights = 0.5 * ((new_boxes[:, 3] - new_boxes[:, 1])[:, None]
                         + (old_boxes[:, 3] - old_boxes[:, 1])[None, :])
        walked = np.hypot(*(_foot(new_boxes)[:, None, :] - _foot(old_boxes)[None, :, :])
                          .transpose(2, 0, 1))
        reach = (rules.max_speed * seconds[None, :] + rules.margin) * np.maximum(heights, 1.0)
        same_class = (np.array([t.class_id for t in tracks])[:, None]
                      == np.array([e.class_id for e in entries])[None, :])
        return same_class & (walked <= reach)


def _foot(xyxy: np.ndarray) -> np.ndarray:
    """(N, 2) bottom centre of (N, 4) xyxy boxes: where a standing person touches the ground."""
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2.0, xyxy[:, 3]], axis=1)


def _clear_winners(cost: np.ndarray, ratio: float) -> np.ndarray:
    """(R, C) bool: each row's best pair where it beats the row's second best by ``ratio``.

    Pairs already gated count neither as best nor as second best; a row with one open pair
    keeps it; a tie keeps none unless ``ratio`` is 1 (no test).
    """
    keep = np.zeros(cost.shape, bool)
    for row, costs in enumerate(cost):
        open_cols = np.flatnonzero(costs < GATED_COST)
        if not len(open_cols):
            continue
        order = open_cols[np.argsort(costs[open_cols], kind="stable")]
        best = order[0]
        if len(order) == 1:
            keep[row, best] = True
        else:  # a tie is no winner, even at distance 0 (unless the test is off: ratio 1)
            second = costs[order[1]]
            keep[row, best] = costs[best] <= ratio * second and (ratio >= 1 or
                                                                costs[best] < second)
    return keep
