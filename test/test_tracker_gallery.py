"""Long-term re-identification (issue 14 §2).

A removed track's id comes back to the same person; hit, miss, expiry, no re-use of a live
id, one person never in two places, reset.
"""
from __future__ import annotations

import numpy as np

from finetrack_ros.tracker import ByteTracker, TrackerConfig

BOX = np.array([100.0, 100.0, 140.0, 200.0])
FAR = np.array([400.0, 120.0, 440.0, 220.0])  # where people come back: no IoU with BOX


def unit(seed: int, dim: int = 16) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def config(**changes) -> TrackerConfig:
    # 5 frames of track buffer at 30 fps: a track is removed 6 frames after it was lost
    values = dict(use_appearance=True, track_buffer=5, gallery_seconds=10.0,
                  gallery_thresh=0.25)
    values.update(changes)
    return TrackerConfig(**values)


def step(tracker: ByteTracker, people: list[tuple[np.ndarray, np.ndarray, int]]) -> list:
    """One frame of (box, feature, class) detections; returns the published (id, class)."""
    if not people:
        return [(t.track_id, t.class_id) for t in tracker.update(np.zeros((0, 4)), [])]
    boxes = np.array([p[0] for p in people])
    tracks = tracker.update(boxes, np.full(len(people), 0.9), np.array([p[2] for p in people]),
                            np.array([p[1] for p in people]))
    return sorted((t.track_id, t.class_id) for t in tracks)


def leave_and_return(tracker, feature_back, class_back=0, away_frames=10):
    """Person 1 (feature unit(1)) walks 4 frames, is away, comes back at FAR: its ids."""
    for _ in range(4):
        step(tracker, [(BOX, unit(1), 0)])
    for _ in range(away_frames):
        step(tracker, [])
    return [step(tracker, [(FAR, feature_back, class_back)]) for _ in range(3)]


def test_hit_the_old_id_comes_back_and_is_the_only_one_published():
    tracker = ByteTracker(config())
    back = leave_and_return(tracker, unit(1))
    assert back[1:] == [[(1, 0)], [(1, 0)]]  # confirmed on its 2nd frame, under the old id
    assert len(tracker.gallery) == 0  # the entry was used


def test_off_or_miss_gives_a_new_id():
    assert leave_and_return(ByteTracker(config(gallery_seconds=0.0)), unit(1))[-1][0][0] != 1
    other_person = leave_and_return(ByteTracker(config()), unit(2))
    assert other_person[-1][0][0] != 1
    other_class = leave_and_return(ByteTracker(config()), unit(1), class_back=1)
    assert other_class[-1][0][0] != 1


def test_expiry():
    # 10 s at 30 fps = 300 frames; gone for 0.2 s of gallery: expired before the return
    expired = leave_and_return(ByteTracker(config(gallery_seconds=0.2)), unit(1),
                               away_frames=20)
    assert expired[-1][0][0] != 1
    kept = leave_and_return(ByteTracker(config(gallery_seconds=2.0)), unit(1), away_frames=20)
    assert kept[-1] == [(1, 0)]


def test_a_live_id_is_never_reused_and_one_entry_serves_one_track():
    tracker = ByteTracker(config())
    for _ in range(4):
        step(tracker, [(BOX, unit(1), 0)])
    for _ in range(10):
        step(tracker, [])
    twin = FAR + [150, 0, 150, 0]
    outputs = [step(tracker, [(FAR, unit(1), 0), (twin, unit(1), 0)]) for _ in range(3)]
    ids = [i for i, _ in outputs[-1]]
    assert len(ids) == 2 and len(set(ids)) == 2 and ids.count(1) == 1


def test_never_in_two_places_at_once():
    """A look-alike that appears while the original is still seen never gets its id.

    Not even after the original is removed.
    """
    tracker = ByteTracker(config(track_buffer=1))
    out = []
    for frame in range(12):
        people = [(FAR, unit(1), 0)] if frame >= 3 else []  # look-alike appears at frame 3
        if frame < 4:
            people.append((BOX, unit(1), 0))  # the original is seen until frame 3
        out.append(step(tracker, people))
    assert all(1 not in [i for i, _ in ids] for ids in out[5:])


def test_reset_clears_the_gallery_and_memory_is_bounded():
    tracker = ByteTracker(config(gallery_size=3))
    for person in range(6):
        box = BOX + [60 * person, 0, 60 * person, 0]
        for _ in range(3):
            step(tracker, [(box, unit(10 + person), 0)])
        for _ in range(8):
            step(tracker, [])
    assert len(tracker.gallery) == 3
    assert [e.track_id for e in tracker.gallery.entries.values()] == [4, 5, 6]  # newest kept
    tracker.reset()
    assert len(tracker.gallery) == 0
