"""Long-term re-identification (issue 14 §2, gates of issue 20).

A removed track's id comes back to the same person, and only when every gate holds: the
appearance threshold (exactly at its value, from the parameter or from the network), the
space-time reach, a clear winner over other entries and over live tracks. Also: expiry, no
re-use of a live id, one person never in two places, reset, bounded memory.
"""
from __future__ import annotations

import numpy as np
import pytest

from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput, TrackState

FPS = 30.0
BOX = np.array([100.0, 100.0, 140.0, 200.0])  # 100 px tall: one body height = 100 px
NEAR = BOX + [100.0, 0.0, 100.0, 0.0]  # where people come back: no IoU with BOX, in reach
FAR = BOX + [600.0, 0.0, 600.0, 0.0]  # 6 body heights away: out of reach for a second or so
SEEN_FRAMES = 4  # the person is seen on frames 1..4


def unit(seed: int, dim: int = 16) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def at_distance(feature: np.ndarray, distance: float, seed: int = 99) -> np.ndarray:
    """Return a unit vector whose 1 - cos to ``feature`` is exactly ``distance``."""
    other = unit(seed, len(feature)).astype(np.float64)
    other -= other @ feature * feature
    other /= np.linalg.norm(other)
    cos = 1.0 - distance
    return (cos * feature + np.sqrt(1.0 - cos * cos) * other).astype(np.float32)


def config(**changes) -> TrackerConfig:
    # 5 frames of track buffer at 30 fps: a track is removed 6 frames after it was lost
    values = dict(use_appearance=True, track_buffer=5, gallery_seconds=10.0,
                  gallery_thresh=0.25, gallery_thresh_from_reid=False, frame_rate=FPS,
                  gallery_min_seconds=0.0)
    values.update(changes)
    return TrackerConfig(**values)


def step(tracker: ByteTracker, people: list[tuple[np.ndarray, np.ndarray, int]]) -> list:
    """One frame of (box, feature, class) detections; returns the published (id, class)."""
    if not people:
        tracks = tracker.update(TrackerInput(np.zeros((0, 4)), []))
        return [(t.track_id, t.class_id) for t in tracks]
    boxes = np.array([p[0] for p in people])
    tracks = tracker.update(TrackerInput(boxes, np.full(len(people), 0.9),
                                         np.array([p[2] for p in people]),
                                         np.array([p[1] for p in people])))
    return sorted((t.track_id, t.class_id) for t in tracks)


def leave_and_return(tracker, feature_back, class_back=0, away_frames=10, where=NEAR,
                     others=()):
    """Person 1 (feature unit(1)) walks 4 frames, is away, comes back at ``where``: its ids.

    ``others``: (box, feature, class) seen on every frame, beside person 1.
    """
    for _ in range(SEEN_FRAMES):
        step(tracker, [(BOX, unit(1), 0), *others])
    for _ in range(away_frames):
        step(tracker, list(others))
    return [step(tracker, [(where, feature_back, class_back), *others]) for _ in range(3)]


def ids_of(frame_ids: list) -> list[int]:
    return [i for i, _ in frame_ids]


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


@pytest.mark.parametrize("threshold", [0.1, 0.25, 0.6])
def test_the_threshold_is_exact(threshold):
    """A distance 1 % under the threshold takes the id back; 1 % over does not."""
    under = leave_and_return(ByteTracker(config(gallery_thresh=threshold)),
                             at_distance(unit(1), threshold * 0.99))
    over = leave_and_return(ByteTracker(config(gallery_thresh=threshold)),
                            at_distance(unit(1), threshold * 1.01))
    assert ids_of(under[-1]) == [1]
    assert ids_of(over[-1]) != [1]


def test_the_networks_own_threshold_is_used_unless_switched_off():
    distance = 0.2  # within gallery_thresh 0.25, beyond the network's 0.1
    network_says_no = ByteTracker(config(gallery_thresh_from_reid=True))
    network_says_no.reid_match_distance = 0.1
    assert ids_of(leave_and_return(network_says_no, at_distance(unit(1), distance))[-1]) != [1]
    assert network_says_no.gallery_thresh() == (0.1, "the Re-ID checkpoint")

    parameter = ByteTracker(config(gallery_thresh_from_reid=False))
    parameter.reid_match_distance = 0.1
    assert ids_of(leave_and_return(parameter, at_distance(unit(1), distance))[-1]) == [1]

    no_network_value = ByteTracker(config(gallery_thresh_from_reid=True))
    assert no_network_value.gallery_thresh()[0] == 0.25
    assert "stores none" in no_network_value.gallery_thresh()[1]
    assert ids_of(leave_and_return(no_network_value, at_distance(unit(1), distance))[-1]) == [1]


def _reach_px(away_frames: int, max_speed: float, margin: float) -> float:
    """Return the gate's reach in pixels for a 100 px person seen last on frame SEEN_FRAMES.

    The track is confirmed (and the gate applied) on the 2nd frame of the return.
    """
    seconds = (SEEN_FRAMES + away_frames + 2 - SEEN_FRAMES) / FPS
    return (max_speed * seconds + margin) * 100.0


@pytest.mark.parametrize("max_speed,margin", [(1.5, 1.0), (0.0, 2.0), (3.0, 0.5)])
def test_space_and_time_reach_is_exact(max_speed, margin):
    """Just inside max_speed x time gone + margin (body heights) takes back; just outside not."""
    away = 10
    reach = _reach_px(away, max_speed, margin)
    cfg = config(gallery_max_speed=max_speed, gallery_margin=margin)
    inside = leave_and_return(ByteTracker(cfg), unit(1), away_frames=away,
                              where=BOX + [reach - 2.0, 0, reach - 2.0, 0])
    outside = leave_and_return(ByteTracker(cfg), unit(1), away_frames=away,
                               where=BOX + [reach + 2.0, 0, reach + 2.0, 0])
    assert ids_of(inside[-1]) == [1]
    assert ids_of(outside[-1]) != [1]


def test_far_away_is_refused_soon_and_allowed_later():
    """600 px (6 body heights) in 0.4 s is no walk; in 4 s it is."""
    soon = leave_and_return(ByteTracker(config()), unit(1), away_frames=10, where=FAR)
    later = leave_and_return(ByteTracker(config()), unit(1), away_frames=120, where=FAR)
    assert ids_of(soon[-1]) != [1]
    assert ids_of(later[-1]) == [1]


def test_a_close_second_entry_means_no_take_back():
    """Two removed people look alike to the returner: no clear winner, no id; ratio 1 takes it."""
    def two_leave(ratio: float) -> list:
        tracker = ByteTracker(config(gallery_ratio=ratio))
        twin = at_distance(unit(1), 0.05, seed=5)  # removed person 2, looks like person 1
        for _ in range(SEEN_FRAMES):
            step(tracker, [(BOX, unit(1), 0), (BOX + [200, 0, 200, 0], twin, 0)])
        for _ in range(10):
            step(tracker, [])
        returner = 0.52 * unit(1) + 0.48 * twin  # a little closer to person 1 than to 2
        returner /= np.linalg.norm(returner)
        to_1, to_2 = 1.0 - returner @ unit(1), 1.0 - returner @ twin
        assert 0.8 < to_1 / to_2 < 1.0
        return [step(tracker, [(NEAR, returner, 0)]) for _ in range(3)]

    assert set(ids_of(two_leave(0.8)[-1])) & {1, 2} == set()
    assert set(ids_of(two_leave(1.0)[-1])) & {1, 2} != set()


def test_a_new_track_that_looks_more_like_a_live_one_takes_no_id():
    """A person still tracked resembles the newcomer more than the gallery entry does."""
    newcomer = at_distance(unit(1), 0.15)
    live = (BOX + [0, 250, 0, 250], at_distance(newcomer, 0.05, seed=3), 0)
    refused = leave_and_return(ByteTracker(config()), newcomer, others=[live])
    assert 1 not in ids_of(refused[-1])
    unlike = (BOX + [0, 250, 0, 250], unit(50), 0)  # a live person who looks different
    taken = leave_and_return(ByteTracker(config()), newcomer, others=[unlike])
    assert 1 in ids_of(taken[-1])


def test_only_tracks_followed_long_enough_are_remembered():
    """Person 1 is followed for frames 1..4 (3 frames after its start: 0.1 s at 30 fps)."""
    assert ids_of(leave_and_return(ByteTracker(config(gallery_min_seconds=0.1)),
                                   unit(1))[-1]) == [1]
    short = ByteTracker(config(gallery_min_seconds=0.11))
    assert ids_of(leave_and_return(short, unit(1))[-1]) != [1]


def test_a_short_track_gives_no_id_but_competes():
    """Person 1 followed long, person 2 briefly; a newcomer like person 2 takes neither id."""
    tracker = ByteTracker(config(gallery_min_seconds=0.2))
    look_alike = at_distance(unit(1), 0.2)
    for frame in range(10):  # person 1 for 10 frames, person 2 (feature near 1's) for the last 2
        people = [(BOX, unit(1), 0)]
        if frame >= 8:
            people.append((BOX + [200, 0, 200, 0], at_distance(look_alike, 0.02, seed=4), 0))
        step(tracker, people)
    for _ in range(10):
        step(tracker, [])
    back = [step(tracker, [(NEAR, look_alike, 0)]) for _ in range(3)]
    assert set(ids_of(back[-1])) & {1, 2} == set()
    assert {e.track_id: e.gives_id for e in tracker.gallery.entries.values()} == {1: True,
                                                                                  2: False}


def test_expiry():
    # 10 s at 30 fps = 300 frames; gone for 0.2 s of gallery: expired before the return
    expired = leave_and_return(ByteTracker(config(gallery_seconds=0.2)), unit(1),
                               away_frames=20)
    assert expired[-1][0][0] != 1
    kept = leave_and_return(ByteTracker(config(gallery_seconds=2.0)), unit(1), away_frames=20)
    assert kept[-1] == [(1, 0)]


def twins_return(tracker: ByteTracker) -> list:
    """Track 1 is seen, leaves for 10 frames, then two look-alikes come back; last ids."""
    for _ in range(SEEN_FRAMES):
        step(tracker, [(BOX, unit(1), 0)])
    for _ in range(10):
        step(tracker, [])
    twin = NEAR + [0, 120, 0, 120]
    outputs = [step(tracker, [(NEAR, unit(1), 0), (twin, unit(1), 0)]) for _ in range(3)]
    return ids_of(outputs[-1])


def test_a_live_id_is_never_reused_and_one_entry_serves_one_track():
    ids = twins_return(ByteTracker(config(gallery_ratio=1.0)))  # else no clear winner
    assert len(ids) == 2 and len(set(ids)) == 2 and ids.count(1) == 1


def test_twins_returning_together_are_no_clear_winner():
    assert 1 not in twins_return(ByteTracker(config()))


def test_never_in_two_places_at_once():
    """A look-alike that appears while the original is still seen never gets its id.

    Not even after the original is removed.
    """
    tracker = ByteTracker(config(track_buffer=1))
    out = []
    for frame in range(12):
        people = [(NEAR, unit(1), 0)] if frame >= 3 else []  # look-alike appears at frame 3
        if frame < 4:
            people.append((BOX, unit(1), 0))  # the original is seen until frame 3
        out.append(step(tracker, people))
    assert all(1 not in ids_of(ids) for ids in out[5:])


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


def test_track_memory_in_seconds_follows_the_frame_rate():
    """lost_track_seconds keeps a lost track the same time at any frame rate."""
    assert TrackerConfig(lost_track_seconds=2.0, frame_rate=7.0).max_time_lost == 14
    assert TrackerConfig(lost_track_seconds=2.0, frame_rate=30.0).max_time_lost == 60
    assert TrackerConfig(lost_track_seconds=0.01, frame_rate=7.0).max_time_lost == 1
    # 0: ByteTrack's track_buffer, exactly
    assert TrackerConfig(track_buffer=30, frame_rate=7.0).max_time_lost == 7
    tracker = ByteTracker(config(lost_track_seconds=0.5, gallery_seconds=0.0))  # 15 frames
    step(tracker, [(BOX, unit(1), 0)])
    step(tracker, [(BOX, unit(1), 0)])
    for _ in range(15):
        step(tracker, [])
    assert [t.state for t in tracker.lost_tracks] == [TrackState.LOST]
    step(tracker, [])
    assert [t.state for t in tracker.lost_tracks] == [TrackState.REMOVED]
