"""``TrackerConfig``: every number that changes the tracker's behaviour, with its meaning.

Keys carry ByteTrack's names. Files are ROS 2 parameter files (``/**: ros__parameters:
tracker: {...}``) so the node reads the same file; a flat mapping of the keys also loads.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml


def _param(default: Any, low: Optional[float], high: Optional[float], doc: str, **kw: Any):
    """Declare a TrackerConfig field with its valid range [low, high] and a one-line description.

    The range and description are read by the node's parameter table, the CLI's ``--set`` and
    YAML loading alike.
    """
    return field(default=default, metadata={"low": low, "high": high, "doc": doc, **kw})


@dataclass
class TrackerConfig:
    """ByteTrack / FineTrack tracker settings. Defaults are ByteTrack's (``track.py`` args).

    Each field carries its range and description (``dataclasses.fields(...)[i].metadata``):
    the one table that the node's parameters, YAML files and ``--set`` are checked against.
    """

    # --- detection split (ByteTrack) ---
    # scores above: high (stage 1); raise to trust fewer boxes
    track_thresh: float = _param(0.5, 0.0, 1.0, "detections scoring above are 'high' "
                                 "(first association)")
    # scores above (and < track_thresh): low boxes for stage 2
    det_low_thresh: float = _param(0.1, 0.0, 1.0, "detections above this and below "
                                   "track_thresh are 'low'")
    new_track_offset: float = _param(0.1, 0.0, 1.0, "a new track needs score >= track_thresh "
                                     "+ this")
    # --- association (costs are distances, lower is better; a pair matches if cost <= thresh)
    # stage-1 max cost; raise to match more, lower for fewer ID swaps
    match_thresh: float = _param(0.8, 0.0, 2.0, "first-stage max cost (1 - IoU, or fused) "
                                 "of a match")
    low_match_thresh: float = _param(0.5, 0.0, 1.0, "second-stage max IoU distance (tracks "
                                     "vs low boxes)")
    unconfirmed_match_thresh: float = _param(0.7, 0.0, 2.0, "max cost of unconfirmed tracks "
                                             "vs leftover boxes")
    # stage 1 cost 1 - IoU * score (ByteTrack default; False in MOT20)
    fuse_score: bool = _param(True, None, None, "first-stage cost 1 - IoU * score "
                              "(ByteTrack default)")
    duplicate_iou_dist: float = _param(0.15, 0.0, 1.0, "tracked/lost pairs closer than this "
                                       "IoU distance are duplicates")
    # --- life cycle ---
    # frames a lost track is kept (at 30 fps); raise for long occlusions
    track_buffer: int = _param(30, 1, 100000, "frames a lost track is kept at 30 fps (scaled "
                               "by frame_rate / 30); used when lost_track_seconds is 0")
    # the same memory in seconds: a camera at 7 fps keeps a lost track as long as one at 30
    lost_track_seconds: float = _param(0.0, 0.0, 86400.0, "seconds a lost track is kept "
                                       "(x frame_rate frames); 0 = track_buffer (ByteTrack)")
    # stream frame rate; the buffer scales by frame_rate / 30
    frame_rate: float = _param(30.0, 0.1, 10000.0, "camera frame rate in Hz (track buffer "
                               "scale, velocities per second)")
    # a robot's camera rate is rarely known in advance, and a busy node tracks fewer frames
    frame_rate_from_stamps: bool = _param(False, None, None, "follow the rate of the tracked "
                                          "frames, measured from their header stamps (median "
                                          "step), instead of frame_rate")
    # --- FineTrack appearance ---
    # fuse Re-ID distance with IoU: d = sqrt(d_feat * d_iou)
    use_appearance: bool = _param(False, None, None, "fuse FineTrack Re-ID distance with IoU "
                                  "(needs reid.enabled)")
    # EMA weight of the old track feature; raise for stabler ids
    feature_momentum: float = _param(0.9, 0.0, 1.0, "EMA weight of a track's old Re-ID "
                                     "feature")
    appearance_stages: tuple = _param(("first", "unconfirmed"), None, None, "association "
                                      "stages using the fused cost: first, unconfirmed",
                                      items=str)
    # occlusion-aware part matching (ours): weigh part distances by the parts' visibility in
    # both crops (MPMG masks minus boxes in front); "none" = the paper's 1 - cos
    part_weighting: str = _param("none", None, None, "appearance distance: none (1 - cos, "
                                 "the paper) or visibility (parts weighted by co-visibility, "
                                 "ours)", choices=("none", "visibility"))
    # --- re-finding LOST tracks by appearance alone (ours, beyond the paper) ---
    # The fused cost is 1 wherever boxes do not overlap, so a person who re-appears away from
    # the Kalman prediction (changed pace behind an occluder) gets a new id. This stage lets
    # LOST tracks take leftover high boxes whose centre lies within relink_max_dist track
    # heights of the prediction, if their Re-ID distance (1 - cos) is at most relink_thresh.
    # 0 disables (paper / ByteTrack behaviour); lower = stricter
    relink_thresh: float = _param(0.0, 0.0, 2.0, "re-find LOST tracks by Re-ID alone if "
                                  "1 - cos <= this (ours); 0 = off")
    relink_max_dist: float = _param(1.5, 0.0, 100.0, "relink gate: centre distance to the "
                                    "prediction, in track heights")
    # --- long-term re-identification (ours): ids of removed tracks given back by appearance
    # A new track takes back a removed id only when every gate holds: same class, the
    # appearance distance is within the network's take-back distance, the person could have
    # walked there in the time gone, the match is a clear winner (over the other gallery
    # entries and over every live track), and the old track was followed long enough. Each
    # gate refuses a way to hand an old id to a look-alike (tracker/gallery.py).
    gallery_seconds: float = _param(0.0, 0.0, 86400.0, "keep Re-ID features of removed "
                                    "tracks this long to give their id back (ours); 0 = off")
    gallery_thresh: float = _param(0.25, 0.0, 2.0, "take-back distance (1 - cos) when the "
                                   "Re-ID checkpoint stores none or gallery_thresh_from_reid "
                                   "is off; lower = stricter")
    gallery_thresh_from_reid: bool = _param(True, None, None, "use the take-back distance "
                                            "stored in the Re-ID checkpoint by train-reid "
                                            "(1 % false matches on its data) instead of "
                                            "gallery_thresh")
    gallery_max_speed: float = _param(1.5, 0.0, 100.0, "space-time gate: the foot point may "
                                      "have moved at most this many body heights per second "
                                      "gone (walking is ~0.8)")
    gallery_margin: float = _param(1.0, 0.0, 1000.0, "space-time gate: plus this many body "
                                   "heights (box jitter, a step behind an occluder)")
    gallery_ratio: float = _param(0.8, 0.0, 1.0, "clear winner: the best entry's distance is "
                                  "at most this times the second best's; 1 = off")
    gallery_min_seconds: float = _param(1.0, 0.0, 86400.0, "only tracks followed at least "
                                        "this long give their id back (a short track is "
                                        "often a false detection, its feature one noisy "
                                        "crop); shorter ones still compete")
    gallery_size: int = _param(256, 1, 100000, "most removed tracks kept in the gallery")
    # --- adaptive Re-ID (ours): skip the embedding of a box whose match is unambiguous ---
    # A high box overlapped by exactly one confirmed track (which overlaps no other box), with
    # IoU >= reid_skip_iou to its prediction, reuses that track's feature instead of running
    # the network on its crop; the track's feature is not updated by it (no new evidence)
    reid_skip_iou: float = _param(0.0, 0.0, 1.0, "skip the Re-ID of a high box whose only "
                                  "overlapping track's prediction has IoU >= this with it and "
                                  "overlaps no other box; reuse the track's feature (ours); "
                                  "0 = off")
    reid_refresh_frames: int = _param(5, 1, 100000, "adaptive Re-ID: a track's embedding is "
                                      "computed at least every this many frames (1 = never "
                                      "skip)")
    # --- camera-motion compensation (BoT-SORT's GMC; needs the image) ---
    camera_motion: str = _param("none", None, None, "warp predictions by the image motion "
                                "between frames: none (ByteTrack), sparse (optical flow + "
                                "RANSAC), ecc", choices=("none", "sparse", "ecc"))
    # --- output filters (ByteTrack's demo/eval filters) ---
    min_box_area: float = _param(10.0, 0.0, 1.0e8, "output tracks with w * h at or below "
                                 "this (pixels^2) are not published")
    # ByteTrack's "vertical box" filter is for pedestrians: it would drop every car
    aspect_ratio_thresh: float = _param(1.6, 0.0, 1000.0, "output tracks of "
                                        "aspect_ratio_classes with w / h above this are not "
                                        "published; 0 = off")
    aspect_ratio_classes: tuple = _param((0,), None, None, "class ids the aspect-ratio filter "
                                         "applies to (0 = person in ByteTrack and COCO "
                                         "models); empty = all classes", items=int)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, _coerce(f, getattr(self, f.name), f"TrackerConfig.{f.name}"))
        unknown = set(self.appearance_stages) - set(APPEARANCE_STAGES)
        if unknown:
            raise ValueError(
                f"TrackerConfig.appearance_stages: unknown stage(s) {sorted(unknown)}; "
                f"valid: {list(APPEARANCE_STAGES)}"
            )

    @property
    def max_time_lost(self) -> int:
        """Frames a lost track survives.

        ``round(lost_track_seconds * frame_rate)`` (at least 1) when ``lost_track_seconds``
        is set, else ByteTrack's ``int(frame_rate / 30 * track_buffer)``.
        """
        if self.lost_track_seconds > 0:
            return max(1, round(self.lost_track_seconds * self.frame_rate))
        return int(self.frame_rate / 30.0 * self.track_buffer)

    @property
    def new_track_thresh(self) -> float:
        return self.track_thresh + self.new_track_offset

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "mapping") -> "TrackerConfig":
        """Build from a flat mapping, or a ROS parameter mapping holding a ``tracker:`` section."""
        values = tracker_section(values)
        return cls().replace(values, source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrackerConfig":
        """Load a ROS 2 parameter file (``/**: ros__parameters: tracker:``) or a flat YAML."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tracker config not found: {path}")
        try:
            with open(path) as f:
                data = yaml.safe_load(f) or {}
        except yaml.YAMLError as err:
            where = getattr(err, "problem_mark", None)
            line = f" line {where.line + 1}" if where is not None else ""
            raise ValueError(f"{path}:{line} is not valid YAML "
                             f"({getattr(err, 'problem', None) or err})") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected a YAML mapping at the top level")
        return cls.from_mapping(data, source=str(path))

    def replace(self, values: Mapping[str, Any], source: str = "override") -> "TrackerConfig":
        """Return a copy with ``values`` applied.

        Each value is checked against the field's type and range, and errors name ``source``
        and the key.
        """
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for key, value in values.items():
            if key not in fields:
                raise ValueError(
                    f"{source}: unknown tracker key '{key}'; valid keys: {sorted(fields)}"
                )
            changes[key] = _coerce(fields[key], value, f"{source}: tracker.{key}")
        return dataclasses.replace(self, **changes)

    def with_overrides(self, assignments: Iterable[str]) -> "TrackerConfig":
        """Apply ``--set key=value`` strings (values parsed as YAML scalars)."""
        values = {}
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"--set: expected key=value, got '{item}'")
            values[key.strip()] = yaml.safe_load(raw) if raw.strip() else raw
        return self.replace(values, source="--set")


APPEARANCE_STAGES = ("first", "unconfirmed")


def tracker_section(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Unwrap ``/**`` (or a node name) -> ``ros__parameters`` -> ``tracker``, if present."""
    if len(data) == 1:
        (only,) = data.values()
        if isinstance(only, Mapping) and "ros__parameters" in only:
            data = only["ros__parameters"] or {}
    if "ros__parameters" in data:
        data = data["ros__parameters"] or {}
    if "tracker" in data and isinstance(data["tracker"], Mapping):
        data = data["tracker"]
    return data


def _coerce(spec: dataclasses.Field, value: Any, where: str) -> Any:
    """``value`` as the type of field ``spec``, inside its range; ValueError naming ``where``."""
    kind = type(spec.default)
    if kind is tuple:
        return _coerce_list(spec.metadata.get("items", str), value, where)
    value = _coerce_scalar(kind, value, where)
    choices = spec.metadata.get("choices", ())
    if choices and value not in choices:
        raise ValueError(f"{where} = {value!r}: choose one of {list(choices)}")
    low, high = spec.metadata.get("low"), spec.metadata.get("high")
    if low is not None and not low <= value <= high:  # also refuses NaN
        raise ValueError(f"{where} = {value!r}: outside [{low}, {high}]")
    return value


def _coerce_scalar(kind: type, value: Any, where: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where}: expected true/false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{where}: expected an integer, got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise ValueError(f"{where}: expected text, got {value!r}")
    return value


def _coerce_list(items: type, value: Any, where: str) -> tuple:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{where}: expected a list, got {value!r}")
    if items is int:
        return tuple(_coerce_scalar(int, int(v) if isinstance(v, str) and v.lstrip("-").isdigit()
                                    else v, where) for v in value)
    return tuple(str(v) for v in value)
