"""Long-term re-identification: the Re-ID features of removed tracks, to give an old id back.

ByteTrack forgets a track ``track_buffer`` frames after it was lost; a person who comes back
later gets a new id. The gallery keeps, for ``gallery_seconds``, the smoothed feature of each
confirmed track when it is removed. When a new track is confirmed, it takes back the id of the
closest gallery entry if they are of the same class, their appearance distance (1 - cos) is at
most ``gallery_thresh`` (one-to-one, Hungarian). The new track's own id was never
published (unconfirmed tracks are not output), so consumers only ever see the old id again.

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
    """A removed track: its id, class, unit feature, last frame seen and expiry frame."""

    track_id: int
    class_id: int
    feature: np.ndarray
    last_seen_frame: int
    expires_frame: int


class IdentityGallery:
    """Features of removed tracks, keyed by track id (see the module docstring)."""

    def __init__(self) -> None:
        self.entries: OrderedDict[int, GalleryEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self.entries)

    def clear(self) -> None:
        self.entries.clear()

    def add(self, track, keep_frames: int, capacity: int) -> None:
        """Remember a removed track (only confirmed ones with a feature are worth keeping).

        A gallery holding more than ``capacity`` entries drops its oldest ones.
        """
        if track.feature is None or not track.is_activated or keep_frames <= 0:
            return
        self.entries.pop(track.track_id, None)
        self.entries[track.track_id] = GalleryEntry(
            track.track_id, track.class_id, np.asarray(track.feature, np.float32),
            track.frame_id, track.frame_id + keep_frames)
        while len(self.entries) > capacity:
            self.entries.popitem(last=False)

    def expire(self, frame_id: int) -> None:
        for track_id in [i for i, e in self.entries.items() if e.expires_frame < frame_id]:
            del self.entries[track_id]

    def take_back(self, tracks: list, max_distance: float) -> list[tuple]:
        """Give newly confirmed ``tracks`` the ids of matching entries.

        Returns the (track, old id) pairs applied. Matching is one-to-one (Hungarian) on
        1 - cos.

        Entries are removed tracks and a track is confirmed one frame after it starts, so a
        new track never overlaps in time with the track whose id it takes (that one was
        alive, hence not in the gallery, when the new one started), and no live id is ever
        handed out: a taken entry leaves the gallery.
        """
        candidates = [t for t in tracks if t.feature is not None]
        entries = list(self.entries.values())
        if not candidates or not entries:
            return []
        features = np.array([e.feature for e in entries])
        cost = 1.0 - np.array([t.feature for t in candidates]) @ features.T
        classes = np.array([e.class_id for e in entries])
        for row, track in enumerate(candidates):
            cost[row, classes != track.class_id] = GATED_COST  # never across classes
        matches, _, _ = linear_assignment(cost, max_distance)
        taken = []
        for row, col in matches:
            track, entry = candidates[row], entries[col]
            taken.append((track, entry.track_id))
            track.track_id = entry.track_id
            del self.entries[entry.track_id]
        return taken
