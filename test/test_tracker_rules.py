"""ByteTrack's rules, each pinned by a small hand-made scene."""
import numpy as np
import pytest

from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput, TrackState
from finetrack_ros.tracker.byte_tracker import remove_duplicates

BOX = np.array([100.0, 100.0, 140.0, 200.0])  # 40 x 100 person, xyxy


def make(**overrides) -> ByteTracker:
    values = dict(min_box_area=0.0, aspect_ratio_thresh=0.0)
    values.update(overrides)
    return ByteTracker(TrackerConfig(**values))


def step(tracker, boxes, scores, feats=None):
    return tracker.update(TrackerInput(np.reshape(boxes, (-1, 4)), np.asarray(scores, float),
                                       None, feats))


def ids(tracks):
    return [t.track_id for t in tracks]


def test_first_frame_tracks_are_activated_at_once_later_ones_need_a_second_match():
    tr = make()
    assert ids(step(tr, [BOX], [0.9])) == [1]
    other = BOX + [300, 0, 300, 0]
    out = step(tr, [BOX, other], [0.9, 0.9])
    assert ids(out) == [1]  # the new track (id 2) is tentative
    assert [t.is_activated for t in tr.tracked_tracks] == [True, False]
    assert ids(step(tr, [BOX, other], [0.9, 0.9])) == [1, 2]


def test_unconfirmed_track_is_removed_when_not_matched_on_the_next_frame():
    tr = make()
    step(tr, [], [])
    step(tr, [BOX], [0.9])
    assert len(tr.tracked_tracks) == 1 and not tr.tracked_tracks[0].is_activated
    step(tr, [], [])
    assert tr.tracked_tracks == [] and tr.lost_tracks == []
    # ids are still consumed: the next track is 2
    step(tr, [BOX], [0.9])
    assert tr.tracked_tracks[0].track_id == 2


@pytest.mark.parametrize("score,starts", [(0.59, False), (0.6, True), (0.61, True)])
def test_new_track_needs_score_at_least_track_thresh_plus_offset(score, starts):
    tr = make(track_thresh=0.5)
    out = step(tr, [BOX], [score])
    assert (len(out) == 1) is starts


def test_detection_split_is_strict_on_both_bounds():
    """A score == track_thresh is neither high nor low; a score == 0.1 is not low."""
    for score, kept in [(0.5, False), (0.1, False), (0.11, True), (0.49, True)]:
        tr = make(track_thresh=0.5)
        step(tr, [BOX], [0.9])
        out = step(tr, [BOX + 2], [score])  # only stage 2 can keep the track
        assert (ids(out) == [1]) is kept, score
        assert (tr.lost_tracks != []) is (not kept)


@pytest.mark.parametrize("shift,kept", [(12, True), (16, False)])
def test_low_score_box_keeps_a_tracked_track_only_with_iou_distance_at_most_half(shift, kept):
    """Shift 12 px: IoU 29/53 (distance 0.45); 16 px: IoU 25/57 (distance 0.56)."""
    tr = make()
    step(tr, [BOX], [0.9])
    out = step(tr, [BOX + [shift, 0, shift, 0]], [0.3])
    assert (ids(out) == [1]) is kept
    assert ([t.state for t in tr.lost_tracks] == [TrackState.LOST]) is (not kept)


def test_lost_track_is_not_recovered_by_low_score_boxes_but_is_by_high_ones_with_its_id():
    tr = make()
    step(tr, [BOX], [0.9])
    step(tr, [], [])  # lost
    assert ids(tr.lost_tracks) == [1]
    assert step(tr, [BOX], [0.3]) == []  # stage 2 only looks at tracked tracks
    out = step(tr, [BOX], [0.9])
    assert ids(out) == [1] and out[0].state == TrackState.TRACKED
    assert tr.lost_tracks == []


def test_fuse_score_weights_iou_by_detection_score():
    # IoU 0.25 with the track: cost 0.75 plain, 1 - 0.25 * 0.7 = 0.825 fused (> 0.8)
    shifted = BOX + [24, 0, 24, 0]
    results = {}
    for fuse in (True, False):
        tr = make(fuse_score=fuse)
        step(tr, [BOX], [0.9])
        results[fuse] = ids(step(tr, [shifted], [0.7]))
    assert results[False] == [1]
    assert results[True] == []  # track lost; the box started tentative track 2


@pytest.mark.parametrize("fuse", [True, False])
def test_unconfirmed_tracks_use_the_score_fused_cost_with_threshold_0_7(fuse):
    """IoU 23/59 and score 0.7: cost 0.61 plain (match), 1 - 0.39 * 0.7 = 0.73 fused (no)."""
    tr = make(fuse_score=fuse)
    step(tr, [], [])
    step(tr, [BOX], [0.9])  # tentative track 1
    step(tr, [BOX + [18, 0, 18, 0]], [0.7])
    assert ids(tr.tracked_tracks) == ([2] if fuse else [1])
    assert tr.tracked_tracks[0].is_activated is (not fuse)


def test_track_list_order_follows_bytetrack():
    """Tracked = kept tracked, then activated (stage matches, confirmed, new), then re-found."""
    a, b, c, d = (BOX + [300 * k, 0, 300 * k, 0] for k in range(4))
    tr = make()
    step(tr, [a, c], [0.9, 0.9])  # ids 1 (a), 2 (c), both activated on frame 1
    step(tr, [a, b], [0.9, 0.9])  # c lost; b tentative (id 3)
    step(tr, [a, b, c, d], [0.9] * 4)  # c re-found, b confirmed, d tentative (id 4)
    assert ids(tr.tracked_tracks) == [1, 3, 4, 2]


@pytest.mark.parametrize("frame_rate,buffer,survives", [(30, 30, 30), (15, 30, 15), (60, 5, 10)])
def test_lost_tracks_are_removed_after_scaled_buffer(frame_rate, buffer, survives):
    tr = make(frame_rate=frame_rate, track_buffer=buffer)
    assert tr.config.max_time_lost == survives
    step(tr, [BOX], [0.9])
    for _ in range(survives):  # frames 2 .. survives+1: frame_id - end_frame <= survives
        step(tr, [], [])
    assert [t.state for t in tr.lost_tracks] == [TrackState.LOST]
    step(tr, [], [])
    assert tr.lost_tracks == [] or tr.lost_tracks[0].state == TrackState.REMOVED
    step(tr, [], [])
    assert tr.lost_tracks == []


def test_removed_track_lingers_one_frame_in_lost_list_as_bytetrack():
    tr = make(track_buffer=2)
    step(tr, [BOX], [0.9])
    for _ in range(3):
        step(tr, [], [])
    # removed on this frame but, as in ByteTrack, dropped from the lost list one frame later
    assert [t.state for t in tr.lost_tracks] == [TrackState.REMOVED]
    out = step(tr, [BOX], [0.9])
    assert ids(out) == [1]


def test_duplicates_between_tracked_and_lost_keep_the_longer_track():
    tr = make()
    step(tr, [BOX, BOX + [300, 0, 300, 0]], [0.9, 0.9])
    for _ in range(3):
        step(tr, [BOX], [0.9])
    long_track, short_track = tr.tracked_tracks[0], tr.lost_tracks[0]
    assert (long_track.frame_id - long_track.start_frame
            > short_track.frame_id - short_track.start_frame)
    # move the short lost track onto the long one: they are duplicates
    short_track.mean = long_track.mean.copy()
    kept_tracked, kept_lost = remove_duplicates([long_track], [short_track], 0.15)
    assert kept_tracked == [long_track] and kept_lost == []
    kept_tracked, kept_lost = remove_duplicates([short_track], [long_track], 0.15)
    assert kept_tracked == [] and kept_lost == [long_track]
    # equal ages: the tracked one goes
    kept_tracked, kept_lost = remove_duplicates([long_track], [long_track], 0.15)
    assert kept_tracked == [] and kept_lost == [long_track]


def test_output_filters_drop_small_and_wide_boxes():
    wide = np.array([0.0, 0.0, 100.0, 50.0])  # w/h = 2
    small = np.array([300.0, 300.0, 305.0, 305.0])  # 25 px^2
    tr = make(min_box_area=30.0, aspect_ratio_thresh=1.6)
    assert step(tr, [BOX, wide, small], [0.9, 0.9, 0.9]) == [tr.tracked_tracks[0]]
    assert len(tr.tracked_tracks) == 3  # filtered from the output only
    tr = make(min_box_area=0.0, aspect_ratio_thresh=0.0)
    assert len(step(tr, [BOX, wide, small], [0.9, 0.9, 0.9])) == 3


def test_ids_state_and_boxes_are_per_instance_and_reset():
    a, b = make(), make()
    step(a, [BOX, BOX + 300], [0.9, 0.9])
    assert ids(step(b, [BOX], [0.9])) == [1]
    track = a.tracked_tracks[0]
    np.testing.assert_allclose(track.xyxy, BOX)
    np.testing.assert_allclose(track.tlwh, [100, 100, 40, 100])
    a.reset()
    assert a.tracked_tracks == [] and ids(step(a, [BOX], [0.9])) == [1]


def test_height_velocity_is_zeroed_before_predicting_non_tracked_tracks():
    tr = make()
    for k in range(8):  # growing box: positive height velocity
        step(tr, [BOX + [0, 0, 0, 5 * k]], [0.9])
    assert tr.tracked_tracks[0].mean[7] > 1.0
    step(tr, [], [])  # predicted while still TRACKED: keeps growing, then marked lost
    lost = tr.lost_tracks[0]
    height, growth = lost.mean[3], lost.mean[7]
    assert growth > 1.0
    step(tr, [], [])  # predicted as LOST: vh is zeroed first
    assert lost.mean[7] == 0.0 and lost.mean[3] == height


def test_velocity_age_and_frames_since_update():
    tr = make()
    for k in range(10):
        step(tr, [BOX + [4 * k, 0, 4 * k, 0]], [0.9])
    track = tr.tracked_tracks[0]
    assert track.velocity_xy[0] == pytest.approx(4.0, abs=0.5)
    assert track.age == 9 and track.frames_since_update == 0
    step(tr, [], [])
    assert tr.lost_tracks[0].frames_since_update == 1


def test_bad_input_is_rejected_with_the_field_name():
    tr = make()
    with pytest.raises(ValueError, match="scores"):
        tr.update(TrackerInput(np.zeros((2, 4)), np.zeros(3)))
    with pytest.raises(ValueError, match="boxes_xyxy"):
        tr.update(TrackerInput(np.zeros((2, 5)), np.zeros(2)))
    with pytest.raises(ValueError, match="embeddings"):
        tr.update(TrackerInput(np.zeros((2, 4)), np.zeros(2), None, np.zeros((3, 8))))
