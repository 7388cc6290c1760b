"""ByteTrack association with FineTrack's fused appearance distance (no ROS, no torch)."""
from finetrack_ros.tracker.byte_tracker import ByteTracker
from finetrack_ros.tracker.config import TrackerConfig
from finetrack_ros.tracker.inputs import FeatureReuse, TrackerInput
from finetrack_ros.tracker.track import Track, TrackState

__all__ = ["ByteTracker", "FeatureReuse", "TrackerConfig", "TrackerInput", "Track", "TrackState"]
