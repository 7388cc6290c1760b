"""``TrackerConfig``: every number that changes the tracker's behaviour, with its meaning.

Keys carry ByteTrack's names. Files are ROS 2 parameter files (``/**: ros__parameters:
tracker: {...}``) so the node reads the same file; a flat mapping of the keys also loads.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml


@dataclass
class TrackerConfig:
    """ByteTrack / FineTrack tracker settings. Defaults are ByteTrack's (``track.py`` args)."""

    # --- detection split (ByteTrack) ---
    track_thresh: float = 0.5  # scores above: high (stage 1); raise to trust fewer boxes
    det_low_thresh: float = 0.1  # scores above (and < track_thresh): low boxes for stage 2
    new_track_offset: float = 0.1  # a new track needs score >= track_thresh + this
    # --- association (costs are distances, lower is better; a pair matches if cost <= thresh)
    match_thresh: float = 0.8  # stage-1 max cost; raise to match more, lower for fewer ID swaps
    low_match_thresh: float = 0.5  # stage-2 max IoU distance (tracked tracks vs low boxes)
    unconfirmed_match_thresh: float = 0.7  # max cost for unconfirmed tracks vs leftover boxes
    fuse_score: bool = True  # stage 1 cost 1 - IoU * score (ByteTrack default; False in MOT20)
    duplicate_iou_dist: float = 0.15  # tracked/lost pairs closer than this are duplicates
    # --- life cycle ---
    track_buffer: int = 30  # frames a lost track is kept (at 30 fps); raise for long occlusions
    frame_rate: float = 30.0  # stream frame rate; the buffer scales by frame_rate / 30
    # --- FineTrack appearance ---
    use_appearance: bool = False  # fuse Re-ID distance with IoU: d = sqrt(d_feat * d_iou)
    feature_momentum: float = 0.9  # EMA weight of the old track feature; raise for stabler ids
    appearance_stages: tuple = ("first", "unconfirmed")  # stages using the fused cost
    # --- re-finding LOST tracks by appearance alone (ours, beyond the paper) ---
    # The fused cost is 1 wherever boxes do not overlap, so a person who re-appears away from
    # the Kalman prediction (changed pace behind an occluder) gets a new id. This stage lets
    # LOST tracks take leftover high boxes whose centre lies within relink_max_dist track
    # heights of the prediction, if their Re-ID distance (1 - cos) is at most relink_thresh.
    relink_thresh: float = 0.0  # 0 disables (paper / ByteTrack behaviour); lower = stricter
    relink_max_dist: float = 1.5  # centre gate in heights of the lost track's predicted box
    # --- output filters (ByteTrack's demo/eval filters) ---
    min_box_area: float = 10.0  # drop output boxes with w * h below this (pixels^2)
    aspect_ratio_thresh: float = 1.6  # drop output boxes with w / h above this; 0 disables

    def __post_init__(self) -> None:
        self.appearance_stages = tuple(self.appearance_stages)
        unknown = set(self.appearance_stages) - set(APPEARANCE_STAGES)
        if unknown:
            raise ValueError(
                f"TrackerConfig.appearance_stages: unknown stage(s) {sorted(unknown)}; "
                f"valid: {list(APPEARANCE_STAGES)}"
            )
        if self.frame_rate <= 0:
            raise ValueError(f"TrackerConfig.frame_rate must be > 0, got {self.frame_rate}")
        if not 0.0 <= self.feature_momentum <= 1.0:
            raise ValueError(
                f"TrackerConfig.feature_momentum must be in [0, 1], got {self.feature_momentum}"
            )

    @property
    def max_time_lost(self) -> int:
        """Frames a lost track survives: ``int(frame_rate / 30 * track_buffer)`` (ByteTrack)."""
        return int(self.frame_rate / 30.0 * self.track_buffer)

    @property
    def new_track_thresh(self) -> float:
        return self.track_thresh + self.new_track_offset

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "mapping") -> "TrackerConfig":
        """Build from a flat mapping, or a ROS parameter mapping holding a ``tracker:`` section."""
        values = _tracker_section(values)
        return cls().replace(values, source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrackerConfig":
        """Load a ROS 2 parameter file (``/**: ros__parameters: tracker:``) or a flat YAML."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"tracker config not found: {path}")
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected a YAML mapping at the top level")
        return cls.from_mapping(data, source=str(path))

    def replace(self, values: Mapping[str, Any], source: str = "override") -> "TrackerConfig":
        """A copy with ``values`` applied; each value is checked against the field's type."""
        types = {f.name: type(f.default) for f in dataclasses.fields(self)}
        changes = {}
        for key, value in values.items():
            if key not in types:
                raise ValueError(
                    f"{source}: unknown tracker key '{key}'; valid keys: {sorted(types)}"
                )
            changes[key] = _coerce(types[key], value, f"{source}: tracker.{key}")
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


def _tracker_section(data: Mapping[str, Any]) -> Mapping[str, Any]:
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


def _coerce(kind: type, value: Any, where: str) -> Any:
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
    if kind is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (list, tuple)):
            return tuple(value)
        raise ValueError(f"{where}: expected a list, got {value!r}")
    return value
