"""ByteTrack (Zhang et al., ECCV 2022) with FineTrack's fused appearance distance.

``ByteTracker.update`` follows ByteTrack's ``BYTETracker.update`` step by step, one private
method per stage, so that with ``use_appearance`` off its tracks equal ByteTrack's frame by
frame. The Kalman filter runs batched over tracks.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from finetrack_ros.boxes import xyah_to_tlwh, xyah_to_xyxy, xyxy_to_xyah
from finetrack_ros.tracker.association import (
    GATED_COST,
    NO_OVERLAP_COST,
    fuse_appearance,
    fuse_score,
    gated_appearance_distance,
    iou_distance,
    linear_assignment,
    sparse_fuse_appearance,
    sparse_iou_distance,
)
from finetrack_ros.tracker.blocked_assignment import sparse_linear_assignment
from finetrack_ros.tracker.config import TrackerConfig
from finetrack_ros.tracker.gallery import IdentityGallery, TakeBackRules
from finetrack_ros.tracker.inputs import Dets, FeatureReuse, TrackerInput
from finetrack_ros.tracker.kalman import V_HEIGHT, KalmanFilter, warp_states
from finetrack_ros.tracker.overlap import overlap_pairs, pair_iou
from finetrack_ros.tracker.track import Track, TrackState, update_features, update_visibility


class ByteTracker:
    """Multi-object tracker; all state lives on the instance (one per camera).

    Attributes:
        tracked_tracks: tracks in state TRACKED (confirmed or not), ByteTrack's order.
        lost_tracks: tracks in state LOST (and, for one frame, ones just removed, as ByteTrack).
        frame_id: number of ``update`` calls since the last reset.
        dense_association: solve every stage on the full tracks x detections matrix, as
            ByteTrack does (benchmarks); by default a stage whose threshold is below 1
            costs only the overlapping pairs and solves each connected block on its own
            (:func:`.blocked_assignment.sparse_linear_assignment`: the same matches).
    """

    def __init__(self, config: Optional[TrackerConfig] = None,
                 dense_association: bool = False) -> None:
        self.config = config if config is not None else TrackerConfig()
        self.dense_association = dense_association
        self.kalman = KalmanFilter()
        self.gallery = IdentityGallery()
        # take-back distance of the Re-ID network in use (``train-reid`` stores it in the
        # checkpoint); set by whoever pairs the tracker with the network, kept over resets
        self.reid_match_distance: Optional[float] = None
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1."""
        self.frame_id = 0
        self._last_id = 0
        # predict()'s (tracks, means, covariances) for the coming frame; update applies it
        self._prediction: Optional[tuple[list[Track], np.ndarray, np.ndarray]] = None
        self.tracked_tracks: list[Track] = []
        self.lost_tracks: list[Track] = []
        # ids of removed tracks: ByteTrack's ``removed_stracks``, whose ids are subtracted
        # from the lost list (a re-found removed track is dropped when lost again)
        self._removed_ids: set[int] = set()
        self.gallery.clear()

    def predict(self, camera_warp: Optional[np.ndarray] = None) -> None:
        """Step 1 of a frame: where this frame should show every track (no track changes yet).

        Confirmed and lost tracks are Kalman-predicted; then all tracks (unconfirmed too)
        are moved by ``camera_warp``, the (2, 3) affine image motion from the previous frame
        to this one (``finetrack_ros.camera_motion``; None: a still camera, as ByteTrack).
        :meth:`reusable_features` reads the prediction and :meth:`update` applies it (or
        predicts without a warp when this was not called). A second call replaces the first.
        """
        confirmed = [t for t in self.tracked_tracks if t.is_activated]
        unconfirmed = [t for t in self.tracked_tracks if not t.is_activated]
        pool = _joint(confirmed, self.lost_tracks)
        tracks = pool + unconfirmed
        if not tracks:
            self._prediction = ([], np.zeros((0, 8)), np.zeros((0, 8, 8)))
            return
        means = np.array([t.mean for t in tracks])
        covs = np.array([t.cov for t in tracks])
        if pool:
            means[:len(pool)], covs[:len(pool)] = self._predicted_states(pool)
        if camera_warp is not None:  # (BoT-SORT) the camera moved every box on the screen
            means, covs = warp_states(means, covs, np.asarray(camera_warp, np.float64))
        self._prediction = (tracks, means, covs)

    def update(self, inputs: TrackerInput) -> list[Track]:
        """Associate one frame's detections (after :meth:`predict`, else predicted here).

        Returns:
            The activated TRACKED tracks passing the output box filters (ByteTrack's output).
        """
        dets = inputs.checked()
        if self._prediction is None:
            self.predict()
        for track, mean, cov in zip(*self._prediction):  # Step 1: predict (and warp)
            track.mean, track.cov = mean, cov
        self._prediction = None
        self.frame_id += 1
        cfg = self.config
        high = dets.subset(np.flatnonzero(dets.scores > cfg.track_thresh))
        low = dets.subset(np.flatnonzero(
            (dets.scores > cfg.det_low_thresh) & (dets.scores < cfg.track_thresh)))
        unconfirmed = [t for t in self.tracked_tracks if not t.is_activated]
        confirmed = [t for t in self.tracked_tracks if t.is_activated]
        pool = _joint(confirmed, self.lost_tracks)
        # Step 2: first association, high-score boxes against the pool
        activated, refound, u_pool, u_high = self._first_association(pool, high)
        still_lost = [pool[i] for i in u_pool if pool[i].state == TrackState.LOST]
        # Step 3: second association, low-score boxes against still-unmatched tracked tracks
        remaining = [pool[i] for i in u_pool if pool[i].state == TrackState.TRACKED]
        a2, r2, newly_lost = self._second_association(remaining, low)
        activated += a2
        refound += r2
        # a reused feature is only known to fit the one track it came from (first association)
        leftover = high.subset(u_high).without_reused()
        # (ours, off by default) lost tracks against leftover high boxes by appearance alone
        r3, u_relink = self._relink_association(still_lost, leftover)
        refound += r3
        leftover = leftover.subset(u_relink)
        # unconfirmed tracks against high boxes left over from stage 1
        a3, removed, u_left = self._unconfirmed_association(unconfirmed, leftover)
        self._take_back_ids(a3)  # (ours, off by default) long-term re-identification
        activated += a3
        # Step 4: start tracks from confident unmatched boxes
        activated += self._start_tracks(leftover.subset(u_left))
        # Step 5: life-cycle bookkeeping
        self._update_lists(activated, refound, newly_lost, removed)
        return self._output()

    # --- stages ---
    def _first_association(self, pool: list[Track], high: Dets):
        matches, u_pool, u_high = self._match(pool, high, self.config.fuse_score, "first",
                                              self.config.match_thresh)
        activated, refound = self._apply_matches(pool, high, matches)
        return activated, refound, u_pool, u_high

    def _second_association(self, tracks: list[Track], low: Dets):
        # IoU only: low boxes look unreliable (no stage "second" uses appearance)
        matches, u_tracks, _ = self._match(tracks, low, False, "second",
                                           self.config.low_match_thresh)
        activated, refound = self._apply_matches(tracks, low, matches)
        newly_lost = [tracks[i] for i in u_tracks]
        for track in newly_lost:
            track.mark_lost()
        return activated, refound, newly_lost

    def _relink_association(self, lost: list[Track], dets: Dets):
        """Re-find LOST tracks far from their prediction by Re-ID (``relink_thresh`` > 0)."""
        cfg = self.config
        everything = np.arange(len(dets))
        if (not cfg.use_appearance or cfg.relink_thresh <= 0 or dets.features is None
                or not lost or not len(dets)):
            return [], everything
        lost = [t for t in lost if t.feature is not None]
        if not lost:
            return [], everything
        cost = gated_appearance_distance(np.array([t.feature for t in lost]), dets.features,
                                         _boxes(lost), dets.xyxy, cfg.relink_max_dist)
        cost[:, ~dets.has_feature] = GATED_COST
        matches, _, u_dets = linear_assignment(cost, cfg.relink_thresh)
        _, refound = self._apply_matches(lost, dets, matches)
        return refound, u_dets

    def _unconfirmed_association(self, unconfirmed: list[Track], dets: Dets):
        matches, u_tracks, u_dets = self._match(unconfirmed, dets, self.config.fuse_score,
                                                "unconfirmed",
                                                self.config.unconfirmed_match_thresh)
        activated, _ = self._apply_matches(unconfirmed, dets, matches)
        removed = [unconfirmed[i] for i in u_tracks]
        for track in removed:
            track.mark_removed()
        return activated, removed, u_dets

    def _take_back_ids(self, confirmed: list[Track]) -> None:
        """Tracks confirmed this frame take back the id of a matching removed track."""
        cfg = self.config
        if cfg.gallery_seconds <= 0 or not confirmed:
            return
        self.gallery.expire(self.frame_id)
        new_ids = {t.track_id for t in confirmed}
        live = [t.feature for t in self.tracked_tracks + self.lost_tracks
                if t.feature is not None and t.is_activated and t.track_id not in new_ids]
        rules = TakeBackRules(self.gallery_thresh()[0], cfg.gallery_max_speed,
                              cfg.gallery_margin, cfg.gallery_ratio, cfg.frame_rate)
        for _, old_id in self.gallery.take_back(confirmed, np.array(live), self.frame_id, rules):
            self._removed_ids.discard(old_id)  # the id is alive again

    def gallery_thresh(self) -> tuple[float, str]:
        """Return the gallery's take-back distance and where it comes from (for logs).

        The Re-ID network's own (``reid_match_distance``, measured by ``train-reid``) unless
        ``gallery_thresh_from_reid`` is off or the network stores none: then
        ``gallery_thresh``.
        """
        cfg = self.config
        if cfg.gallery_thresh_from_reid and self.reid_match_distance is not None:
            return self.reid_match_distance, "the Re-ID checkpoint"
        if cfg.gallery_thresh_from_reid:
            return cfg.gallery_thresh, "tracker.gallery_thresh (the Re-ID checkpoint stores none)"
        return cfg.gallery_thresh, "tracker.gallery_thresh"

    def _start_tracks(self, dets: Dets) -> list[Track]:
        keep = np.flatnonzero(dets.scores >= self.config.new_track_thresh)
        if len(keep) == 0:
            return []
        dets = dets.subset(keep)
        means, covs = self.kalman.initiate(xyxy_to_xyah(dets.xyxy))
        tracks = []
        for i in range(len(dets)):
            self._last_id += 1
            feature = dets.features[i] if dets.features is not None and dets.has_feature[i] \
                else None
            tracks.append(Track(self._last_id, means[i], covs[i], dets.scores[i],
                                dets.class_ids[i], self.frame_id, feature))
            if feature is not None and dets.visibility is not None:
                tracks[-1].visibility = dets.visibility[i].astype(np.float32)
        return tracks

    def _update_lists(self, activated, refound, newly_lost, removed) -> None:
        cfg = self.config
        keep_frames = int(cfg.gallery_seconds * cfg.frame_rate)
        min_frames = cfg.gallery_min_seconds * cfg.frame_rate
        for track in self.lost_tracks:
            if self.frame_id - track.end_frame > self.config.max_time_lost:
                track.mark_removed()
                removed.append(track)
                self.gallery.add(track, keep_frames, cfg.gallery_size, min_frames)
        tracked = [t for t in self.tracked_tracks if t.state == TrackState.TRACKED]
        tracked = _joint(_joint(tracked, activated), refound)
        lost = _sub(self.lost_tracks, tracked) + newly_lost
        # as ByteTrack: subtract the ids removed in *earlier* frames, then record this frame's
        lost = [t for t in lost if t.track_id not in self._removed_ids]
        self._removed_ids.update(t.track_id for t in removed)
        self.tracked_tracks, self.lost_tracks = remove_duplicates(
            tracked, lost, self.config.duplicate_iou_dist)
        # only ids of tracks still listed can matter later (ids are never reused): this keeps
        # memory bounded where ByteTrack's removed list grows forever
        self._removed_ids &= {t.track_id for t in self.tracked_tracks + self.lost_tracks}

    def _output(self) -> list[Track]:
        """Return the activated tracked tracks whose box passes the output filters.

        The filters are min_box_area and, for aspect_ratio_classes, aspect_ratio_thresh.
        """
        cfg = self.config
        for track in self.tracked_tracks + self.lost_tracks:
            track.current_frame = self.frame_id
        tracks = [t for t in self.tracked_tracks if t.is_activated]
        if not tracks:
            return []
        tlwh = xyah_to_tlwh(np.array([t.mean[:4] for t in tracks]))
        area, ratio = tlwh[:, 2] * tlwh[:, 3], tlwh[:, 2] / tlwh[:, 3]
        keep = area > cfg.min_box_area
        if cfg.aspect_ratio_thresh > 0:
            filtered = np.ones(len(tracks), bool)  # the filter is for pedestrian classes
            if cfg.aspect_ratio_classes:
                filtered = np.isin([t.class_id for t in tracks], cfg.aspect_ratio_classes)
            keep &= ~filtered | (ratio <= cfg.aspect_ratio_thresh)
        return [t for t, k in zip(tracks, keep) if k]

    # --- helpers ---
    def _predicted_states(self, tracks: list[Track]) -> tuple[np.ndarray, np.ndarray]:
        """Kalman-predicted (N, 8) means and (N, 8, 8) covariances (new arrays)."""
        means = np.array([t.mean for t in tracks])
        covs = np.array([t.cov for t in tracks])
        not_tracked = np.array([t.state != TrackState.TRACKED for t in tracks])
        means[not_tracked, V_HEIGHT] = 0.0
        return self.kalman.predict(means, covs)

    def predicted_boxes(self) -> np.ndarray:
        """Return (T, 4) xyxy where :meth:`update` will look for each track; read-only.

        Rows are ``tracked_tracks`` then ``lost_tracks``; :meth:`predict`'s result (predicted
        without a warp here when it was not called).
        """
        if self._prediction is None:
            self.predict()
        predicted, means, _ = self._prediction
        row = {id(track): i for i, track in enumerate(predicted)}
        tracks = self.tracked_tracks + self.lost_tracks
        if not tracks:
            return np.zeros((0, 4))
        return xyah_to_xyxy(means[[row[id(t)] for t in tracks], :4])

    def reusable_features(self, boxes_xyxy: np.ndarray, scores: np.ndarray) -> FeatureReuse:
        """Return the detections of the coming frame whose Re-ID can be skipped (ours).

        Call after :meth:`predict` (predicted here if not yet) and before :meth:`update` of
        the same frame; no track is changed. Detection d may
        reuse the feature of track t when (``reid_skip_iou`` > 0 and appearance on):

        - d is high (score above ``track_thresh``);
        - t is the only track (tracked, lost or unconfirmed) whose predicted box overlaps d
          at all, and d is the only detection (score above ``det_low_thresh``) that overlaps
          t's predicted box: no other pair can compete, so the first association pairs them
          unless appearance vetoes an IoU >= ``reid_skip_iou`` match, which a fresh feature
          too would almost never do;
        - t is confirmed and tracked, has a feature (and, with ``part_weighting:
          visibility``, a visibility), and its last fresh embedding is fewer than
          ``reid_refresh_frames`` frames old;
        - IoU(d, t's predicted box) >= ``reid_skip_iou``.

        Args:
            boxes_xyxy: (N, 4) the frame's detections; scores: (N,).
        """
        cfg = self.config
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        none = FeatureReuse(np.zeros(0, np.int64), np.zeros(0, np.int64))
        tracks = self.tracked_tracks + self.lost_tracks
        if cfg.reid_skip_iou <= 0 or not cfg.use_appearance or not len(boxes) or not tracks:
            return none
        predicted = self.predicted_boxes()
        # the overlapping pairs only (T x N would not scale to crowds)
        pair_t, pair_d = overlap_pairs(predicted, boxes)
        iou = pair_iou(predicted, boxes, pair_t, pair_d)
        keep = (iou > 0.0) & (scores[pair_d] > cfg.det_low_thresh)
        pair_t, pair_d, iou = pair_t[keep], pair_d[keep], iou[keep]
        tracks_on = np.bincount(pair_d, minlength=len(boxes))  # overlapping tracks per box
        boxes_on = np.bincount(pair_t, minlength=len(tracks))  # overlapping boxes per track
        track_of = np.zeros(len(boxes), np.int64)  # the overlapping track, where only one does
        iou_of = np.zeros(len(boxes))
        track_of[pair_d], iou_of[pair_d] = pair_t, iou
        ok = ((scores > cfg.track_thresh) & (tracks_on == 1) & (boxes_on[track_of] == 1)
              & (iou_of >= cfg.reid_skip_iou))
        eligible = np.array([self._can_lend_feature(t) for t in tracks])
        rows = np.flatnonzero(ok & eligible[track_of])
        if not len(rows):
            return none
        lenders = [tracks[i] for i in track_of[rows]]
        visibility = None
        if cfg.part_weighting == "visibility":
            visibility = np.array([t.visibility for t in lenders], np.float32)
        return FeatureReuse(rows, np.array([t.track_id for t in lenders], np.int64),
                            np.array([t.feature for t in lenders], np.float32), visibility)

    def _can_lend_feature(self, track: Track) -> bool:
        """Whether ``track``'s feature may stand in for a detection's in the coming frame."""
        cfg = self.config
        if (track.state != TrackState.TRACKED or not track.is_activated
                or track.feature is None or track.feature_frame is None):
            return False
        if cfg.part_weighting == "visibility" and track.visibility is None:
            return False
        return self.frame_id + 1 - track.feature_frame < cfg.reid_refresh_frames

    def _match(self, tracks: list[Track], dets: Dets, with_score: bool, stage: str,
               thresh: float):
        """Return the matches, unmatched tracks and unmatched detections of one stage.

        Below ``thresh`` 1 only overlapping pairs can match (every other pair costs exactly
        1): the sparse blocked solve, same matches as ByteTrack's dense one. At 1 or above
        (``match_thresh`` allows up to 2) any pair may match: dense.
        """
        if self.dense_association or thresh >= NO_OVERLAP_COST:
            return linear_assignment(self._cost(tracks, dets, with_score, stage, False), thresh)
        return sparse_linear_assignment(self._cost(tracks, dets, with_score, stage, True),
                                        thresh)

    def _cost(self, tracks: list[Track], dets: Dets, with_score: bool, stage: str,
              sparse: bool = False):
        """Return the stage's (N, M) cost: dense, or a SparseCost of the overlapping pairs."""
        cost = (sparse_iou_distance if sparse else iou_distance)(_boxes(tracks), dets.xyxy)
        if with_score:
            cost = fuse_score(cost, dets.scores)
        if self.uses_appearance_in(stage) and dets.features is not None and tracks \
                and len(dets):
            has = np.array([t.feature is not None for t in tracks])
            dim = dets.features.shape[1]
            feats = np.array([t.feature if t.feature is not None else np.zeros(dim, np.float32)
                              for t in tracks])
            track_vis, det_vis = self._visibility(tracks, dets)
            fuse = sparse_fuse_appearance if sparse else fuse_appearance
            cost = fuse(cost, feats, dets.features, has, dets.has_feature, track_vis, det_vis)
        return cost

    def _visibility(self, tracks: list[Track], dets: Dets):
        """Return the (N, K), (M, K) part visibility for ``part_weighting: visibility``.

        Else (None, None). Tracks that never saw visibility count every part fully.
        """
        if self.config.part_weighting != "visibility" or dets.visibility is None:
            return None, None
        parts = dets.visibility.shape[1]
        track_vis = np.array([t.visibility if t.visibility is not None and
                              len(t.visibility) == parts else np.ones(parts) for t in tracks])
        return track_vis.reshape(len(tracks), parts), dets.visibility

    def uses_appearance_in(self, stage: str) -> bool:
        """Whether ``stage`` ("first", "second", "unconfirmed") uses the fused cost."""
        return self.config.use_appearance and stage in self.config.appearance_stages

    def _apply_matches(self, tracks: list[Track], dets: Dets, matches: np.ndarray):
        """Kalman-update matched tracks (batched); split into continued and re-found."""
        if len(matches) == 0:
            return [], []
        matched = [tracks[i] for i in matches[:, 0]]
        cols = matches[:, 1]
        means, covs = self.kalman.update(
            np.array([t.mean for t in matched]), np.array([t.cov for t in matched]),
            xyxy_to_xyah(dets.xyxy[cols]))
        activated, refound = [], []
        for k, track in enumerate(matched):
            j = cols[k]
            reactivate = track.state != TrackState.TRACKED
            track.mean, track.cov = means[k], covs[k]
            track.apply_match(dets.scores[j], dets.class_ids[j], self.frame_id, reactivate,
                              dets.xyxy[j])
            (refound if reactivate else activated).append(track)
        if dets.features is not None:
            # reused features are no new evidence: no update; a fresh one after k skipped
            # frames stands for them too (EMA weight momentum^(k+1), as k+1 equal updates)
            fresh = dets.fresh_features()[cols]
            for track, reused in zip(matched, dets.reused[cols] if dets.reused is not None
                                     else np.zeros(len(cols), bool)):
                track.skipped_features += int(reused)
            featured = [t for t, ok in zip(matched, fresh) if ok]
            momentum = self.config.feature_momentum
            if any(t.skipped_features for t in featured):
                momentum = momentum ** (1.0 + np.array([[t.skipped_features] for t in featured]))
            update_features(featured, dets.features[cols[fresh]], momentum)
            for track in featured:
                track.feature_frame, track.skipped_features = self.frame_id, 0
            if dets.visibility is not None:
                update_visibility(featured, dets.visibility[cols[fresh]], momentum)
        return activated, refound


def remove_duplicates(tracked: list[Track], lost: list[Track], max_iou_dist: float):
    """Drop duplicate tracks, as ByteTrack's ``remove_duplicate_stracks`` does.

    For each tracked/lost pair with IoU distance below ``max_iou_dist`` drop the shorter one
    (``frame_id - start_frame``; ties drop the tracked one). Returns the filtered (tracked,
    lost) lists, order kept.
    """
    a, b = _boxes(tracked), _boxes(lost)
    if max_iou_dist <= NO_OVERLAP_COST:  # a distance below 1 needs overlapping boxes: only
        pairs_p, pairs_q = overlap_pairs(a, b)  # those pairs are looked at (crowds)
        near = 1.0 - pair_iou(a, b, pairs_p, pairs_q) < max_iou_dist  # iou_distance per pair
        pairs_p, pairs_q = pairs_p[near], pairs_q[near]
    else:
        pairs_p, pairs_q = np.nonzero(iou_distance(a, b) < max_iou_dist)
    drop_tracked, drop_lost = set(), set()
    for p, q in zip(pairs_p, pairs_q):
        age_p = tracked[p].frame_id - tracked[p].start_frame
        age_q = lost[q].frame_id - lost[q].start_frame
        if age_p > age_q:
            drop_lost.add(q)
        else:
            drop_tracked.add(p)
    return ([t for i, t in enumerate(tracked) if i not in drop_tracked],
            [t for i, t in enumerate(lost) if i not in drop_lost])


def _boxes(tracks: list[Track]) -> np.ndarray:
    """(N, 4) xyxy from the tracks' Kalman means."""
    if not tracks:
        return np.zeros((0, 4))
    return xyah_to_xyxy(np.array([t.mean[:4] for t in tracks]))


def _joint(a: list[Track], b: list[Track]) -> list[Track]:
    """Return ``a`` followed by the tracks of ``b`` whose id is not in ``a`` (ByteTrack's order)."""
    ids = {t.track_id for t in a}
    return a + [t for t in b if t.track_id not in ids]


def _sub(a: list[Track], b: list[Track]) -> list[Track]:
    ids = {t.track_id for t in b}
    return [t for t in a if t.track_id not in ids]
