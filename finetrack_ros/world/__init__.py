"""People in the robot's world: camera model, ground-plane projection, ground filter."""
from finetrack_ros.world.camera import (
    CameraModel,
    Pose,
    foot_pixels,
    ground_points,
    load_camera_yaml,
)
from finetrack_ros.world.ground_filter import GroundFilter, WorldConfig
from finetrack_ros.world.step import PersonInWorld, WorldStep

__all__ = ["CameraModel", "GroundFilter", "PersonInWorld", "Pose", "WorldConfig", "WorldStep",
           "foot_pixels", "ground_points", "load_camera_yaml"]
