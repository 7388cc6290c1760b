"""rclpy message classes by ROS type name, for :mod:`finetrack_ros.messages` builders."""
from __future__ import annotations

import functools
import importlib


@functools.lru_cache(maxsize=None)
def rclpy_type(name: str) -> type:
    """``"vision_msgs/msg/Detection2D"`` → ``vision_msgs.msg.Detection2D`` (rclpy class)."""
    package, kind, cls = name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), cls)
