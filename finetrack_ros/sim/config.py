"""Settings of a synthetic street scene and of the noisy detections derived from its GT.

Every number that changes what is rendered lives here, so a scene is fully described by a
``SceneConfig`` (including its ``seed``): the same config renders the same pixels and GT.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DetectionNoiseConfig:
    """How ``det/det.txt`` is derived from the ground truth (a stand-in for a real detector).

    Attributes:
        miss_rate: probability of missing a fully visible person; raise for a weaker detector.
        occlusion_miss: extra miss probability at visibility 0, scaled by (1 - visibility)^2.
        box_jitter: std of the box centre and size noise, as a fraction of box width/height.
        score_mean: mean score of a fully visible detected person (0..1).
        score_std: std of detection scores; scores are clipped to [min_score, 1].
        score_occlusion_drop: score lost at visibility 0 (linear in 1 - visibility); partly
            occluded people get low scores, as ByteTrack's second association stage expects.
        false_positives_per_frame: mean number (Poisson) of false-positive boxes per frame.
        false_positive_score_max: false-positive scores are uniform in [min_score, this].
        min_score: lowest score written; detections scoring below are dropped.
    """

    miss_rate: float = 0.03
    occlusion_miss: float = 0.6
    box_jitter: float = 0.04
    score_mean: float = 0.9
    score_std: float = 0.06
    score_occlusion_drop: float = 0.5
    false_positives_per_frame: float = 0.3
    false_positive_score_max: float = 0.55
    min_score: float = 0.1


@dataclass
class SceneConfig:
    """One synthetic camera sequence: a street seen from a fixed (optionally panning) camera.

    Attributes:
        width: image width in pixels.
        height: image height in pixels.
        fps: frame rate written to ``seqinfo.ini``; walking speeds are per second.
        frames: sequence length in frames.
        people: number of distinct identities in the scene (crowd density); about this many
            are on screen at once, minus those currently away before re-entering.
        crossing_fraction: fraction of people placed in pairs that walk towards each other at
            similar speed and depth and meet behind an occluder (hard for motion-only trackers).
        shared_shirt_fraction: fraction of people whose shirt copies another person's shirt
            (colour and pattern); they differ in trousers, hair/hat or bag.
        occluders: number of static occluders (poles, trees, parked cars).
        pan_px_per_frame: camera pan speed in pixels per frame (0 = static camera).
        horizon: horizon height as a fraction of image height (top of the walkable ground).
        person_height_at_bottom: height of a person standing at the bottom image row, as a
            fraction of image height; heights shrink linearly towards the horizon.
        min_depth: where the farthest walkable row (depth 0) lies, as a fraction of the way
            from the horizon (0) to the bottom row (1); larger = people stay nearer and bigger.
        walk_speed: walking speed in person heights per second (about 0.8 for real people).
        speed_change_rate: probability per second that a person changes speed or pauses.
        occluded_speed_change_rate: the same while the person is mostly hidden, so motion
            models cannot coast through occlusions.
        hidden_turn_probability: probability that a speed change made while hidden also turns
            the person around (0 = never; raises ID switches of motion-only trackers).
        reentry_gap_s: (min, max) seconds a person stays away after leaving the image before
            re-entering with the same id.
        noise_std: std of the Gaussian sensor noise, in 8-bit grey levels.
        blur_px: length in pixels of the horizontal motion-blur kernel (0 or 1 = off); a
            panning camera blurs by at least its pan speed.
        lighting_drift: amplitude of the slow global brightness change (fraction of 1).
        lighting_period_s: period of the brightness drift in seconds.
        jpeg_quality: quality of the written ``img1/*.jpg`` (0..100).
        gt_min_visibility: GT rows with visibility below this get ``conf = 0`` (ignored by
            MOTChallenge evaluation), like MOT's fully occluded people.
        seed: random seed; the same config and seed give identical images and GT.
        detections: how ``det/det.txt`` is derived from the GT.
    """

    width: int = 640
    height: int = 480
    fps: float = 15.0
    frames: int = 150
    people: int = 10
    crossing_fraction: float = 0.5
    shared_shirt_fraction: float = 0.3
    occluders: int = 3
    pan_px_per_frame: float = 0.0
    horizon: float = 0.32
    person_height_at_bottom: float = 0.5
    min_depth: float = 0.25
    walk_speed: float = 0.7
    speed_change_rate: float = 0.15
    occluded_speed_change_rate: float = 1.5
    hidden_turn_probability: float = 0.0
    reentry_gap_s: tuple[float, float] = (0.5, 3.0)
    noise_std: float = 3.0
    blur_px: int = 2
    lighting_drift: float = 0.12
    lighting_period_s: float = 20.0
    jpeg_quality: int = 90
    gt_min_visibility: float = 0.05
    seed: int = 0
    detections: DetectionNoiseConfig = field(default_factory=DetectionNoiseConfig)

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 64:
            raise ValueError(f"SceneConfig.width/height: need >= 64 pixels, got "
                             f"{self.width}x{self.height}")
        if self.frames < 1:
            raise ValueError(f"SceneConfig.frames: need >= 1, got {self.frames}")
        if self.fps <= 0:
            raise ValueError(f"SceneConfig.fps: need > 0, got {self.fps}")
        if self.people < 0:
            raise ValueError(f"SceneConfig.people: need >= 0, got {self.people}")
        if self.occluders < 0:
            raise ValueError(f"SceneConfig.occluders: need >= 0, got {self.occluders}")
        if not 0.05 <= self.horizon <= 0.8:
            raise ValueError(f"SceneConfig.horizon: need 0.05..0.8, got {self.horizon}")
        if not 0.0 <= self.min_depth < 1.0:
            raise ValueError(f"SceneConfig.min_depth: need 0..1, got {self.min_depth}")
        lo, hi = self.reentry_gap_s
        if not 0.0 <= lo <= hi:
            raise ValueError(f"SceneConfig.reentry_gap_s: need 0 <= min <= max, got {lo}, {hi}")

    def person_height(self, foot_y: float) -> float:
        """Height in pixels of a person whose feet are at image row ``foot_y`` (ground plane)."""
        horizon_y = self.horizon * self.height
        scale = self.person_height_at_bottom * self.height / (self.height - horizon_y)
        return max(foot_y - horizon_y, 1.0) * scale

    def depth_to_foot_y(self, depth: float) -> float:
        """Image row of the feet for ``depth`` in [0, 1] (0 = farthest walkable, 1 = bottom)."""
        horizon_y = self.horizon * self.height
        near = self.min_depth + (1.0 - self.min_depth) * depth
        return horizon_y + near * (self.height - 1 - horizon_y)
